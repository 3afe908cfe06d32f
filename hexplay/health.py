"""GET /healthz: whether the database and the channel layer answer, for load balancers."""

from __future__ import annotations

import asyncio

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

_WAIT = 2.0


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


async def _channel_layer() -> None:
    """A message sent to a fresh channel of the layer comes back."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "health.check"})
    received = await layer.receive(channel)
    if received.get("type") != "health.check":
        raise RuntimeError("the channel layer gave back another message")


@never_cache
@require_GET
async def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": sync_to_async(_database)(), "channel_layer": _channel_layer()}
    said: dict[str, str] = {}
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check, _WAIT)
            said[name] = "ok"
        except Exception as exc:  # any failure is the answer, not an error page
            said[name] = f"failing: {type(exc).__name__}"
    healthy = all(value == "ok" for value in said.values())
    return JsonResponse(said, status=200 if healthy else 503)
