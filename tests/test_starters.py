"""Starters set an empty conversation up; never one that has messages, never another's."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from playground import options, starters
from playground.stream import build_body
from playground.upstream.connections import get_connection

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("starter", starters.for_target(options.VLLM), ids=lambda s: s.key)
def test_every_starter_gives_a_request_the_server_accepts(
    logged_in, simulator, make_conversation, starter
):
    conversation = make_conversation()
    response = logged_in.post(
        f"/conversations/{conversation.pk}/starter/", {"starter": starter.key}
    )
    draft = parse_qs(urlsplit(response.url).query)["draft"][0]
    assert draft == starter.message
    page = logged_in.get(response.url).content.decode()
    assert starter.message.replace("'", "&#x27;") in page  # waiting in the composer

    conversation.refresh_from_db()
    conversation.add_user_message(draft)
    body = build_body(conversation, get_connection(conversation.connection))
    checked = options.evaluate(
        conversation.options,
        options.VLLM,
        messages=body["messages"],
        tools=conversation.tool_specs(),
    )
    assert checked.ok, checked.errors
    whole = {k: v for k, v in body.items() if k not in ("stream", "stream_options")}
    reply = httpx.post(f"{simulator.base_url}/chat/completions", json=whole)
    assert reply.status_code == 200, reply.text


def test_a_conversation_with_messages_is_left_as_it_is(logged_in, make_conversation):
    conversation = make_conversation(system_prompt="Mine")
    conversation.add_user_message("Hello")
    response = logged_in.post(f"/conversations/{conversation.pk}/starter/", {"starter": "extract"})
    assert response.url == conversation.get_absolute_url()
    conversation.refresh_from_db()
    assert conversation.system_prompt == "Mine" and conversation.options == {}


def test_starters_are_only_for_the_owner(client, other_user, make_conversation):
    conversation = make_conversation()
    client.force_login(other_user)
    url = f"/conversations/{conversation.pk}/starter/"
    assert client.post(url, {"starter": "tool"}).status_code == 404
    assert not conversation.tools.exists()


def test_only_the_starters_a_server_supports_are_offered(logged_in, make_conversation):
    page = logged_in.get(make_conversation().get_absolute_url()).content.decode()
    assert "Sort text into fixed labels" in page  # vLLM has structured choice
    assert [s.key for s in starters.for_target(options.LLAMACPP)] == [
        "extract",
        "reason",
        "variables",
    ]
