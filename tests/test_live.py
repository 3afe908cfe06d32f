"""Answers belong to the conversation, not to the socket: every tab watches the same answer,
a socket opening mid-answer picks it up, Stop works from any tab, and a stopped server saves."""

from __future__ import annotations

import asyncio
import html
import os
import re

import pytest
from asgiref.sync import sync_to_async

from playground import live
from playground.models import Message
from tests.conftest import ANSWER_DONE, FIRST_WORDS, appended_text, open_socket, receive_until

pytestmark = pytest.mark.django_db(transaction=True)


async def last_message(conversation) -> Message:
    return await sync_to_async(lambda: conversation.messages.order_by("pk").last())()


def shown_text(frames: list[str], answer: Message) -> str:
    """The answer's text as a page fed these frames shows it: what a drawn element holds (the
    last one drawn wins, as a swap replaces it), then what was appended to it."""
    text = ""
    for frame in frames:
        if frame.startswith("{"):
            text += appended_text([frame], f"{answer.dom_id}-content")
            continue
        drawn = re.search(rf'id="{answer.dom_id}-content"[^>]*>(.*?)</div>', frame, re.S)
        if drawn:
            text = html.unescape(drawn.group(1))
    return text


async def test_a_second_tab_sees_the_question_and_the_answer_stream(
    simulator, user, make_conversation
):
    conversation = await sync_to_async(make_conversation)()
    first, _ = await open_socket(conversation.pk, user)
    second, _ = await open_socket(conversation.pk, user)
    await first.send_json_to({"message": "Tell me about tides"})
    seen_first = await receive_until(first, ANSWER_DONE)
    seen_second = await receive_until(second, ANSWER_DONE)
    answer = await last_message(conversation)
    assert "Tell me about tides" in seen_second[0]
    # What streamed, before the final render replaces it whole with the Markdown.
    assert shown_text(seen_second[:-1], answer) == answer.content
    assert shown_text(seen_first[:-1], answer) == answer.content
    await first.disconnect()
    await second.disconnect()


async def test_a_socket_opened_mid_answer_gets_it_so_far_then_the_rest_once(
    simulator, user, make_conversation
):
    simulator.chunks_per_second = 1000
    conversation = await sync_to_async(make_conversation)()
    first, _ = await open_socket(conversation.pk, user)
    await first.send_json_to({"message": "A long one [[sim:long]]"})
    await receive_until(first, FIRST_WORDS)
    await asyncio.sleep(0.5)  # well under way
    reloaded, _ = await open_socket(conversation.pk, user)
    seen = await receive_until(reloaded, ANSWER_DONE, timeout=30)
    answer = await last_message(conversation)
    assert answer.status == "complete"
    # The snapshot came first, with text already in it; nothing missing, nothing twice.
    assert 'data-busy="true"' in seen[0] and shown_text(seen[:1], answer)
    live_text = shown_text(seen[:-1], answer)  # before the final render replaces it whole
    assert live_text == answer.content
    await first.disconnect()
    await reloaded.disconnect()


async def test_stop_in_another_tab_stops_the_answer_for_both(simulator, user, make_conversation):
    simulator.chunks_per_second = 20
    conversation = await sync_to_async(make_conversation)()
    first, _ = await open_socket(conversation.pk, user)
    second, _ = await open_socket(conversation.pk, user)
    await first.send_json_to({"message": "A long one [[sim:long]]"})
    await receive_until(second, FIRST_WORDS)
    await second.send_json_to({"action": "stop"})
    await asyncio.to_thread(simulator.wait_for, lambda r: r.disconnected, 5.0)
    for socket in (first, second):
        final = (await receive_until(socket, ANSWER_DONE))[-1]
        assert "Stopped: the answer above is what arrived before you pressed Stop." in final
    answer = await last_message(conversation)
    assert answer.status == "stopped" and answer.content
    await first.disconnect()
    await second.disconnect()


async def test_closing_the_tab_that_asked_leaves_the_answer_streaming_for_the_other(
    simulator, user, make_conversation, settings
):
    settings.ANSWER_GRACE_SECONDS = 0.2
    simulator.chunks_per_second = 50
    conversation = await sync_to_async(make_conversation)()
    first, _ = await open_socket(conversation.pk, user)
    second, _ = await open_socket(conversation.pk, user)
    await first.send_json_to({"message": "A long one [[sim:long]]"})
    await receive_until(second, FIRST_WORDS)
    await first.disconnect()
    await asyncio.sleep(0.6)  # well past the grace period
    assert (await last_message(conversation)).status == "streaming"
    await second.send_json_to({"action": "stop"})
    await receive_until(second, ANSWER_DONE)
    assert (await last_message(conversation)).error == ""  # stopped by the person
    await second.disconnect()


async def test_a_second_message_from_another_tab_waits_for_the_answer(
    simulator, user, make_conversation
):
    simulator.chunks_per_second = 20
    conversation = await sync_to_async(make_conversation)()
    first, _ = await open_socket(conversation.pk, user)
    await first.send_json_to({"message": "A long one [[sim:long]]"})
    await receive_until(first, FIRST_WORDS)
    late, _ = await open_socket(conversation.pk, user)
    await late.send_json_to({"message": "Me too"})
    refused = await receive_until(late, "Press Stop first")
    assert "still arriving" in refused[-1]
    assert await sync_to_async(conversation.messages.count)() == 2  # "Me too" is not stored
    await first.send_json_to({"action": "stop"})
    await receive_until(first, ANSWER_DONE)
    await first.disconnect()
    await late.disconnect()


async def test_a_page_showing_an_answer_that_ended_meanwhile_gets_it_finished(
    simulator, user, make_conversation
):
    conversation = await sync_to_async(make_conversation)()
    socket, _ = await open_socket(conversation.pk, user)
    await socket.send_json_to({"message": "Tell me about tides"})
    await receive_until(socket, ANSWER_DONE)
    await socket.disconnect()
    answer = await last_message(conversation)
    # A page drawn while it streamed, whose socket opens only now.
    reopened, _ = await open_socket(conversation.pk, user)
    await reopened.send_json_to({"action": "rejoin", "answer": str(answer.pk)})
    final = (await receive_until(reopened, ANSWER_DONE))[-1]
    assert f'id="{answer.dom_id}"' in final and "message--complete" in final
    await reopened.disconnect()


async def test_a_stopping_server_saves_its_answers_as_stopped_by_the_restart(
    simulator, user, make_conversation
):
    simulator.chunks_per_second = 20
    conversation = await sync_to_async(make_conversation)()
    socket, _ = await open_socket(conversation.pk, user)
    await socket.send_json_to({"message": "A long one [[sim:long]]"})
    await receive_until(socket, FIRST_WORDS)
    await live.stop_all()
    final = (await receive_until(socket, ANSWER_DONE))[-1]
    assert "Stopped: the server restarted before it ended" in final
    assert "Continue" in final
    answer = await last_message(conversation)
    assert answer.status == "stopped" and answer.content and "restarted" in answer.error
    await socket.disconnect()


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="the Redis layer's own read timeout")
async def test_an_idle_socket_on_redis_outlives_the_layers_blocking_read(
    simulator, user, make_conversation
):
    # redis-py 8's default 5 s socket timeout cut channels_redis's 5 s blocking read short,
    # which killed every socket idle that long (settings: socket_timeout).
    conversation = await sync_to_async(make_conversation)()
    socket, _ = await open_socket(conversation.pk, user)
    await asyncio.sleep(6.5)
    await socket.send_json_to({"message": "Still there?"})
    await receive_until(socket, ANSWER_DONE)
    await socket.disconnect()
