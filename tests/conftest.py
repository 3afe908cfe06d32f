"""Shared fixtures: the project's vLLM simulator on loopback, users, conversations, sockets."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client

from simulator import Simulator

MISTRAL_SMALL = "mistralai/Mistral-Small-3.2-24B-Instruct-2506"
MAGISTRAL = "mistralai/Magistral-Small-2506"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # Django's real hasher is slow on purpose; the tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_channel_layer_and_answers():
    """Each test runs in an event loop of its own, as a server process has one for its life: a
    layer (Redis's holds asyncio locks) and answers left from an earlier test's loop would be
    bound to a closed loop, and a reused conversation id would find the old answer."""
    from channels.layers import channel_layers

    from playground import live

    channel_layers.backends.clear()
    live._LIVE.clear()
    live._SOCKETS.clear()
    yield


@pytest.fixture(autouse=True)
def shared_upstream_client_closed(request):
    """The answers' upstream client lives as long as its event loop, here an async test's:
    closed with it, as a server closes it when it stops (else aiohttp warns of it)."""
    if request.node.get_closest_marker("asyncio"):
        request.getfixturevalue("close_shared_upstream_client")


@pytest.fixture
async def close_shared_upstream_client():
    yield
    from playground import upstream

    await upstream.close_shared_client()


@pytest.fixture(scope="session")
def simulator_server():
    server = Simulator().start()
    yield server
    server.stop()


@pytest.fixture
def simulator(simulator_server, settings):
    """The simulator as the only connection, reset to full speed with an empty request log."""
    simulator_server.requests.clear()
    simulator_server.chunks_per_second = 0.0
    simulator_server.first_token_delay = 0.0
    simulator_server.mistral_api = False
    settings.MISTRAL_BASE_URL = ""
    settings.LOCAL_MODEL_ENABLED = False
    settings.SIMULATOR_ENABLED = True
    settings.SIMULATOR_URL = simulator_server.base_url
    return simulator_server


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("ada", password="correct horse battery")


@pytest.fixture
def logged_in(client, user):
    """Django's test client, logged in as `user`."""
    client.force_login(user)
    return client


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user("mallory", password="correct horse battery")


@pytest.fixture
def make_conversation(user) -> Callable:
    from playground.models import Conversation

    def make(owner=None, model: str = MISTRAL_SMALL, **fields) -> Conversation:
        return Conversation.objects.create(
            owner=owner or user, connection="simulator", model=model, **fields
        )

    return make


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def open_socket(conversation_pk: int, user=None, origin: bytes = b"http://localhost"):
    """A websocket to the real ASGI application, as the browser opens it."""
    from asgiref.sync import sync_to_async

    from hexplay.asgi import application

    headers = [(b"origin", origin), (b"host", b"localhost")]
    if user is not None:
        headers.append((b"cookie", await sync_to_async(session_cookie)(user)))
    communicator = WebsocketCommunicator(
        application, f"/ws/conversations/{conversation_pk}/", headers=headers
    )
    connected, _ = await communicator.connect()
    return communicator, connected


async def receive_until(communicator, pattern: str, timeout: float = 10.0) -> list[str]:
    """Every fragment received, up to and including the first that matches `pattern`."""
    received = []
    while True:
        fragment = await communicator.receive_from(timeout=timeout)
        received.append(fragment)
        if re.search(pattern, fragment):
            return received


def appends(frames: list[str]) -> list[tuple[str, str]]:
    """Every (element id, text) the page appended from the socket's text frames, in order."""
    return [
        (target, text)
        for frame in frames
        if frame.startswith("{")
        for target, text in json.loads(frame)["append"]
    ]


def appended_text(frames: list[str], target: str) -> str:
    """The text the page appended to element `target`, in order, as the browser would see it."""
    return "".join(text for element, text in appends(frames) if element == target)


# A frame appending answer text: the first words have arrived.
FIRST_WORDS = r'^\{"append": \[\["message-\d+-content"'

# The consumer's final fragment for an answer re-renders the whole message without streaming state.
ANSWER_DONE = r'id="composer-buttons"[^>]*data-busy="false"'
