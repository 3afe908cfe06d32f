"""Where answers come from: built-in connections (from settings) and those added in the admin."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from asgiref.sync import async_to_sync
from django.conf import settings

from playground import upstream
from playground.models import Dialect, UpstreamConnection

# The connection of HexGrid's docs, whose base URL the code view names as $MISTRAL_BASE_URL.
HEXGRID = "hexgrid"


@dataclass(frozen=True)
class Connection:
    slug: str
    name: str
    base_url: str
    dialect: str
    default_model: str
    description: str = ""
    # Kept out of repr so a stray log line cannot leak it.
    api_key: str = field(default="", repr=False)

    @property
    def dialect_label(self) -> str:
        return Dialect(self.dialect).label


def _builtin() -> list[Connection]:
    found = []
    if settings.MISTRAL_BASE_URL:
        found.append(
            Connection(
                slug=HEXGRID,
                name="HexGrid",
                base_url=settings.MISTRAL_BASE_URL,
                api_key=settings.HEXGRID_API_KEY,
                dialect=Dialect.VLLM,
                default_model=settings.MISTRAL_MODEL,
                description="HexGrid-hosted Mistral models (vLLM)",
            )
        )
    # A URL refused in the settings (said in CONFIGURATION_PROBLEMS) leaves its connection off.
    if settings.LOCAL_MODEL_ENABLED and settings.LOCAL_MODEL_URL:
        found.append(
            Connection(
                slug="local",
                name="Local model",
                base_url=settings.LOCAL_MODEL_URL,
                dialect=Dialect.LLAMACPP,
                default_model=settings.LOCAL_MODEL_NAME,
                description=f"{settings.LOCAL_MODEL_NAME} on this machine (llama.cpp); "
                "tiny, so its answers are poor",
            )
        )
    if settings.SIMULATOR_ENABLED and settings.SIMULATOR_URL:
        found.append(
            Connection(
                slug="simulator",
                name="Simulator",
                base_url=settings.SIMULATOR_URL,
                dialect=Dialect.VLLM,
                default_model="mistralai/Mistral-Small-3.2-24B-Instruct-2506",
                description="HexPlay's offline vLLM simulator: made-up text, real wire format",
            )
        )
    return found


def all_connections() -> list[Connection]:
    added = [
        Connection(
            slug=row.slug,
            name=row.name,
            base_url=row.base_url.rstrip("/"),
            api_key=row.api_key,
            dialect=row.dialect,
            default_model=row.default_model,
            description=f"Added by an administrator ({row.get_dialect_display()})",
        )
        for row in UpstreamConnection.objects.all()
    ]
    return _builtin() + added


def default_connection() -> Connection | None:
    connections = all_connections()
    return connections[0] if connections else None


def get_connection(slug: str) -> Connection | None:
    """The connection with this slug, or the default one when the slug is unknown or empty."""
    for connection in all_connections():
        if connection.slug == slug:
            return connection
    return default_connection()


@dataclass(frozen=True)
class ModelList:
    models: list[str]
    warning: str = ""


_models_cache: dict[tuple[str, str], tuple[float, ModelList]] = {}


async def models_of(connection: Connection, *, client: upstream.Client) -> ModelList:
    """The connection's models, cached briefly; its default model and a warning when unreachable."""
    key = (connection.slug, connection.base_url)
    cached = _models_cache.get(key)
    now = time.monotonic()
    if cached and now - cached[0] < settings.MODELS_CACHE_SECONDS:
        return cached[1]
    try:
        models = await upstream.list_models(
            client=client, base_url=connection.base_url, api_key=connection.api_key
        )
        result = ModelList(models or [connection.default_model])
        _models_cache[key] = (now, result)
    except upstream.UpstreamError as exc:
        # Not cached: the next look should try again, the server may be starting.
        result = ModelList(
            [connection.default_model],
            warning=f"Could not fetch the list of models ({exc}). Showing the default model.",
        )
    return result


async def listed_models(connection: Connection) -> ModelList:
    """`models_of` on a client of its own, for a view that has none."""
    async with upstream.new_client(
        connect_timeout=settings.UPSTREAM_CONNECT_TIMEOUT, read_timeout=10.0
    ) as client:
        return await models_of(connection, client=client)


def model_for(connection: Connection) -> tuple[str, str]:
    """The model a conversation starts on with this connection, and what to tell the person.

    Its default model; without one (the admin allows it), the first its /v1/models lists. When
    that list cannot be read either, `NoModel` says why in plain words.
    """
    if connection.default_model:
        return connection.default_model, ""
    found = async_to_sync(listed_models)(connection)
    models = [name for name in found.models if name]
    if found.warning or not models:
        why = "its server could not be reached" if found.warning else "its server lists none"
        raise NoModel(
            f"{connection.name} has no default model and {why}, so it was not chosen. Pick "
            "another connection, or ask staff to set its default model in the admin."
        )
    return models[0], (
        f"{connection.name} has no default model: using {models[0]}, the first it lists. "
        "Pick another below if you like."
    )


class NoModel(Exception):
    """A connection with no model to start on."""
