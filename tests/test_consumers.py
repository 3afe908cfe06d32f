"""The conversation websocket, through hexplay.asgi.application, against the simulator over HTTP."""

from __future__ import annotations

import asyncio
import html
import re

import pytest
from asgiref.sync import sync_to_async

from playground.models import Message
from tests.conftest import (
    ANSWER_DONE,
    FIRST_WORDS,
    MAGISTRAL,
    appended_text,
    appends,
    open_socket,
    receive_until,
)

pytestmark = pytest.mark.django_db(transaction=True)


async def messages_of(conversation) -> list[Message]:
    return await sync_to_async(lambda: list(conversation.messages.all()))()


async def send_and_wait(socket, text: str, **extra) -> list[str]:
    await socket.send_json_to({"message": text, **extra})
    return await receive_until(socket, ANSWER_DONE)


async def test_answer_streams_in_order_and_is_saved_once_complete(
    simulator, user, make_conversation
):
    conversation = await sync_to_async(make_conversation)()
    socket, connected = await open_socket(conversation.pk, user)
    assert connected
    fragments = await send_and_wait(socket, "Tell me about tides")
    await socket.disconnect()

    user_message, answer = await messages_of(conversation)
    assert user_message.role == "user" and user_message.content == "Tell me about tides"
    assert answer.status == "complete" and answer.finish_reason == "stop"
    # What streamed, piece by piece, is exactly what was saved.
    assert appended_text(fragments, f"{answer.dom_id}-content") == answer.content
    assert answer.content and answer.content_html
    assert answer.usage["completion_tokens"] > 0
    assert (
        answer.time_to_first_token_ms is not None
        and answer.duration_ms >= answer.time_to_first_token_ms
    )
    assert answer.tokens_per_second and answer.tokens_per_second > 0
    # The request that went out: the history, streaming with usage, and nothing secret.
    sent = simulator.requests[-1].body
    assert sent["messages"] == [{"role": "user", "content": "Tell me about tides"}]
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert answer.request_body == sent
    # The user's message was on the page before the first word of the answer.
    assert "Tell me about tides" in fragments[0]


async def test_system_prompt_and_history_are_sent_upstream(simulator, user, make_conversation):
    conversation = await sync_to_async(make_conversation)(system_prompt="Answer in French.")
    socket, _ = await open_socket(conversation.pk, user)
    await send_and_wait(socket, "First")
    await send_and_wait(socket, "Second")
    await socket.disconnect()
    first_answer = (await messages_of(conversation))[1]
    assert [(m["role"], m["content"]) for m in simulator.requests[-1].body["messages"]] == [
        ("system", "Answer in French."),
        ("user", "First"),
        ("assistant", first_answer.content),
        ("user", "Second"),
    ]


async def test_settings_sent_with_the_message_are_used_and_saved(
    simulator, user, make_conversation
):
    conversation = await sync_to_async(make_conversation)()
    socket, _ = await open_socket(conversation.pk, user)
    await send_and_wait(
        socket, "Hi", model=MAGISTRAL, system_prompt="Be brief.", connection="simulator"
    )
    await socket.disconnect()
    await conversation.arefresh_from_db()
    assert conversation.model == MAGISTRAL and conversation.system_prompt == "Be brief."
    assert simulator.requests[-1].body["model"] == MAGISTRAL


async def test_reasoning_streams_separately_from_the_answer(simulator, user, make_conversation):
    conversation = await sync_to_async(make_conversation)(model=MAGISTRAL)
    socket, _ = await open_socket(conversation.pk, user)
    fragments = await send_and_wait(socket, "Why is the sky blue?")
    await socket.disconnect()

    answer = (await messages_of(conversation))[-1]
    assert answer.reasoning and answer.content
    assert appended_text(fragments, f"{answer.dom_id}-reasoning-text") == answer.reasoning
    assert appended_text(fragments, f"{answer.dom_id}-content") == answer.content

    # Reasoning came first, then the summary that folds it away, then the answer.
    def first(where) -> int:
        return next(i for i, frame in enumerate(fragments) if where(frame))

    def appending_to(suffix: str):
        return lambda frame: any(t == f"{answer.dom_id}-{suffix}" for t, _ in appends([frame]))

    folded = first(lambda frame: "data-collapse-reasoning" in frame)
    assert first(appending_to("reasoning-text")) < folded < first(appending_to("content"))
    assert answer.reasoning_ms is not None
    # Once stored, the block is rendered collapsed with its duration.
    assert re.search(r'<details id="[^"]+-reasoning" class="reasoning">', fragments[-1])
    assert "Reasoning · " in fragments[-1]


async def test_model_output_is_escaped_in_every_fragment(simulator, user, make_conversation):
    conversation = await sync_to_async(make_conversation)()
    socket, _ = await open_socket(conversation.pk, user)
    fragments = await send_and_wait(
        socket, "<script>alert('x')</script> <img src=x onerror=alert(1)>"
    )
    await socket.disconnect()
    joined = "".join(fragments)
    assert "<script>" not in joined and "<img src=x" not in joined
    assert "&lt;script&gt;" in joined


async def test_stop_cancels_the_upstream_request_and_keeps_the_partial_answer(
    simulator, user, make_conversation
):
    simulator.chunks_per_second = 20
    conversation = await sync_to_async(make_conversation)()
    socket, _ = await open_socket(conversation.pk, user)
    await socket.send_json_to({"message": "Write a long story [[sim:long]]"})
    await receive_until(socket, FIRST_WORDS)  # the first words arrived
    await socket.send_json_to({"action": "stop"})
    fragments = await receive_until(socket, ANSWER_DONE)
    record = await asyncio.to_thread(simulator.wait_for, lambda r: r.disconnected, 5.0)
    assert not record.completed
    answer = (await messages_of(conversation))[-1]
    assert answer.status == "stopped" and answer.content
    assert "Stopped" in fragments[-1]
    await socket.disconnect()


async def test_an_answer_nobody_watches_is_stopped_after_the_grace_period_and_saved(
    simulator, user, make_conversation, settings
):
    settings.ANSWER_GRACE_SECONDS = 0.3
    simulator.chunks_per_second = 20
    conversation = await sync_to_async(make_conversation)()
    socket, _ = await open_socket(conversation.pk, user)
    await socket.send_json_to({"message": "A long one [[sim:long]]"})
    await receive_until(socket, FIRST_WORDS)
    await socket.disconnect()
    await asyncio.sleep(0.1)
    assert (await messages_of(conversation))[-1].status == "streaming"  # a reload is quicker
    await asyncio.to_thread(simulator.wait_for, lambda r: r.disconnected, 5.0)
    # The connection closes as the stop begins; the save follows it.
    async with asyncio.timeout(5):
        while (answer := (await messages_of(conversation))[-1]).status == "streaming":
            await asyncio.sleep(0.02)
    assert answer.status == "stopped" and answer.content
    # Saved with the status, so whoever reads "stopped" reads why.
    assert "nobody had the conversation open for 0.3 s" in answer.error


async def test_long_answers_are_checkpointed_while_streaming(
    simulator, user, make_conversation, settings
):
    settings.STREAM_CHECKPOINT_SECONDS = 0.2
    simulator.chunks_per_second = 50
    conversation = await sync_to_async(make_conversation)()
    socket, _ = await open_socket(conversation.pk, user)
    await socket.send_json_to({"message": "Go on [[sim:long]]"})
    await receive_until(socket, FIRST_WORDS)
    await asyncio.sleep(0.8)
    answer = (await messages_of(conversation))[-1]
    assert answer.status == "streaming" and answer.content  # saved before the end
    await socket.send_json_to({"action": "stop"})
    await receive_until(socket, ANSWER_DONE)
    await socket.disconnect()


@pytest.mark.parametrize(
    ("hook", "status", "words"),
    [
        ("[[sim:status=503]]", "503", "had a problem"),
        ("[[sim:status=400]]", "400", "refused the request"),
    ],
)
async def test_upstream_error_is_shown_with_retry_and_nothing_is_lost(
    simulator, user, make_conversation, hook, status, words
):
    conversation = await sync_to_async(make_conversation)()
    socket, _ = await open_socket(conversation.pk, user)
    fragments = await send_and_wait(socket, f"Hello {hook}")
    await socket.disconnect()
    user_message, answer = await messages_of(conversation)
    assert user_message.content == f"Hello {hook}"
    assert answer.status == "error" and f"HTTP {status}" in answer.error and words in answer.error
    assert 'role="alert"' in fragments[-1] and "Retry" in fragments[-1]
    assert html.escape(answer.error, quote=False) in fragments[-1].replace("&#x27;", "'")


async def test_unknown_model_shows_the_servers_message(simulator, user, make_conversation):
    conversation = await sync_to_async(make_conversation)(model="no-such-model")
    socket, _ = await open_socket(conversation.pk, user)
    await send_and_wait(socket, "Hi")
    await socket.disconnect()
    answer = (await messages_of(conversation))[-1]
    assert "HTTP 404" in answer.error and "does not exist" in answer.error


async def test_error_in_the_middle_of_the_stream_keeps_the_partial_answer(
    simulator, user, make_conversation
):
    conversation = await sync_to_async(make_conversation)()
    socket, _ = await open_socket(conversation.pk, user)
    fragments = await send_and_wait(socket, "Hi [[sim:stream-error]]")
    await socket.disconnect()
    answer = (await messages_of(conversation))[-1]
    assert answer.status == "error" and answer.content
    assert "kept above" in fragments[-1]


async def test_refused_connection_is_reported_and_the_message_kept(
    simulator, user, make_conversation, settings
):
    settings.SIMULATOR_URL = "http://127.0.0.1:9/v1"  # nothing listens on the discard port
    conversation = await sync_to_async(make_conversation)()
    socket, _ = await open_socket(conversation.pk, user)
    await send_and_wait(socket, "Anyone there?")
    await socket.disconnect()
    user_message, answer = await messages_of(conversation)
    assert user_message.content == "Anyone there?"
    assert "Could not connect" in answer.error


async def test_retry_answers_again_and_keeps_the_failed_attempt(simulator, user, make_conversation):
    conversation = await sync_to_async(make_conversation)()
    socket, _ = await open_socket(conversation.pk, user)
    await send_and_wait(socket, "Hello [[sim:status=503]]")
    # The hook is in the user's message, so make the next attempt succeed by editing it.
    first = (await messages_of(conversation))[0]
    first.content = "Hello"
    await first.asave()
    await socket.send_json_to({"action": "retry"})
    await receive_until(socket, ANSWER_DONE)
    await socket.disconnect()
    statuses = [m.status for m in await messages_of(conversation) if m.role == "assistant"]
    assert statuses == ["error", "complete"]
    # The failed attempt is not part of what the model is sent.
    assert [m["role"] for m in simulator.requests[-1].body["messages"]] == ["user"]


async def test_empty_message_is_refused_in_plain_words(simulator, user, make_conversation):
    conversation = await sync_to_async(make_conversation)()
    socket, _ = await open_socket(conversation.pk, user)
    await socket.send_json_to({"message": "   "})
    fragment = await socket.receive_from(timeout=5)
    await socket.disconnect()
    assert "Type a message first." in fragment
    assert await messages_of(conversation) == []
    assert simulator.requests == []


async def test_a_second_message_while_answering_is_refused_not_lost(
    simulator, user, make_conversation
):
    simulator.chunks_per_second = 20
    conversation = await sync_to_async(make_conversation)()
    socket, _ = await open_socket(conversation.pk, user)
    await socket.send_json_to({"message": "First [[sim:long]]"})
    await receive_until(socket, FIRST_WORDS)
    await socket.send_json_to({"message": "Second"})
    fragments = await receive_until(socket, "Press Stop first")
    await socket.send_json_to({"action": "stop"})
    await receive_until(socket, ANSWER_DONE)
    await socket.disconnect()
    assert any("Press Stop first" in f for f in fragments)
    assert [m.content for m in await messages_of(conversation) if m.role == "user"] == [
        "First [[sim:long]]"
    ]


async def test_foreign_origin_is_refused(simulator, user, make_conversation):
    conversation = await sync_to_async(make_conversation)()
    socket, connected = await open_socket(conversation.pk, user, origin=b"http://evil.example")
    assert not connected
    await socket.disconnect()


async def test_another_users_conversation_is_refused(
    simulator, user, other_user, make_conversation
):
    conversation = await sync_to_async(make_conversation)(owner=other_user)
    socket, connected = await open_socket(conversation.pk, user)
    assert not connected
    await socket.disconnect()


async def test_anonymous_visitor_is_refused(simulator, make_conversation):
    conversation = await sync_to_async(make_conversation)()
    socket, connected = await open_socket(conversation.pk, None)
    assert not connected
    await socket.disconnect()


async def test_conversation_deleted_while_open_stops_accepting_messages(
    simulator, user, make_conversation
):
    conversation = await sync_to_async(make_conversation)()
    socket, _ = await open_socket(conversation.pk, user)
    await conversation.adelete()
    await socket.send_json_to({"message": "still there?"})
    output = await socket.receive_output(timeout=5)
    assert output["type"] == "websocket.close"
    assert simulator.requests == []


async def test_regenerate_adds_a_new_version_and_keeps_the_first(
    simulator, user, make_conversation
):
    conversation = await sync_to_async(make_conversation)()
    socket, _ = await open_socket(conversation.pk, user)
    await send_and_wait(socket, "Hi", seed=1)
    await socket.send_json_to({"action": "regenerate"})
    fragments = await receive_until(socket, ANSWER_DONE)
    await socket.disconnect()
    await conversation.arefresh_from_db()
    path = await sync_to_async(conversation.path)()
    assert [m.role for m in path] == ["user", "assistant"]
    assert (path[-1].version_number, path[-1].version_count) == (2, 2)
    assert "Version 2 of 2" in fragments[-1]
    # The regenerated answer was asked with the same history: no earlier answer in it.
    assert [m["role"] for m in simulator.requests[-1].body["messages"]] == ["user"]


async def test_editing_a_message_answers_the_new_version(simulator, user, make_conversation):
    conversation = await sync_to_async(make_conversation)()
    socket, _ = await open_socket(conversation.pk, user)
    await send_and_wait(socket, "What is 2+2?")
    await send_and_wait(socket, "And 3+3?")
    first = (await messages_of(conversation))[0]
    fragments = await send_and_wait(socket, "What is 2+3?", edit=str(first.pk))
    await socket.disconnect()
    # The page's list was replaced by the new branch, then the answer streamed into it.
    assert 'id="messages" class="messages"' in fragments[0] and "And 3+3?" not in fragments[0]
    assert [m["content"] for m in simulator.requests[-1].body["messages"]] == ["What is 2+3?"]
    await conversation.arefresh_from_db()
    path = await sync_to_async(conversation.path)()
    assert path[0].content == "What is 2+3?" and path[0].version_count == 2


async def test_editing_someone_elses_message_is_refused(
    simulator, user, other_user, make_conversation
):
    theirs = await sync_to_async(make_conversation)(owner=other_user)
    their_message = await sync_to_async(theirs.add_user_message)("private")
    mine = await sync_to_async(make_conversation)()
    socket, _ = await open_socket(mine.pk, user)
    await socket.send_json_to({"message": "hijack", "edit": str(their_message.pk)})
    fragment = await socket.receive_from(timeout=5)
    await socket.disconnect()
    assert "no longer there" in fragment
    assert await messages_of(mine) == []
    assert [m.content for m in await messages_of(theirs)] == ["private"]


async def test_continue_carries_on_a_stopped_answer_as_a_new_version(
    simulator, user, make_conversation
):
    simulator.chunks_per_second = 40
    conversation = await sync_to_async(make_conversation)()
    socket, _ = await open_socket(conversation.pk, user)
    await socket.send_json_to({"message": "Tell a long story [[sim:long]]"})
    await receive_until(socket, FIRST_WORDS)
    await socket.send_json_to({"action": "stop"})
    stopped_fragments = await receive_until(socket, ANSWER_DONE)
    assert 'value="continue"' in stopped_fragments[-1]
    simulator.chunks_per_second = 0
    stopped = (await messages_of(conversation))[-1]
    await socket.send_json_to({"action": "continue"})
    await receive_until(socket, ANSWER_DONE)
    await socket.disconnect()

    sent = simulator.requests[-1].body
    assert sent["continue_final_message"] is True and sent["add_generation_prompt"] is False
    assert sent["messages"][-1] == {"role": "assistant", "content": stopped.content}
    await conversation.arefresh_from_db()
    path = await sync_to_async(conversation.path)()
    continued = path[-1]
    assert continued.content.startswith(stopped.content) and len(continued.content) > len(
        stopped.content
    )
    assert (continued.version_number, continued.version_count) == (2, 2)


def test_continuation_is_asked_in_each_servers_own_words():
    from playground.turns import continuation_body

    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hel"}],
    }
    assert continuation_body(body, "vllm") == {
        **body,
        "continue_final_message": True,
        "add_generation_prompt": False,
    }
    mistral = continuation_body(body, "mistral")
    assert mistral["messages"][-1] == {"role": "assistant", "content": "Hel", "prefix": True}
    assert "continue_final_message" not in mistral
    assert continuation_body(body, "llamacpp") == body


async def test_refused_options_keep_the_message_and_offer_to_answer_it_later(
    simulator, user, make_conversation
):
    conversation = await sync_to_async(make_conversation)(options={"temperature": 0, "n": 2})
    socket, _ = await open_socket(conversation.pk, user)
    await socket.send_json_to({"message": "Hello"})
    fragments = await receive_until(socket, "Nothing was sent")
    assert 'value="retry"' in fragments[-1]
    assert simulator.requests == []
    conversation.options = {"temperature": 0}
    await conversation.asave(update_fields=["options"])
    await socket.send_json_to({"action": "retry"})
    await receive_until(socket, ANSWER_DONE)
    await socket.disconnect()
    assert [m["content"] for m in simulator.requests[-1].body["messages"]] == ["Hello"]


async def test_screen_readers_hear_an_answer_start_and_end_not_every_token(
    simulator, user, make_conversation
):
    conversation = await sync_to_async(make_conversation)()
    socket, _ = await open_socket(conversation.pk, user)

    frames = await send_and_wait(socket, "Hi [[sim:tokens=30]]")
    await socket.disconnect()

    said = [
        re.findall(r'<p id="answer-status" hx-swap-oob="innerHTML">([^<]*)</p>', f) for f in frames
    ]
    assert [s for found in said for s in found] == ["Answering…", "The answer is complete."]


async def test_answers_at_once_per_person_are_limited_in_words(
    simulator, user, make_conversation, settings
):
    settings.ANSWERS_AT_ONCE = 1
    simulator.chunks_per_second = 20
    first = await sync_to_async(make_conversation)()
    second = await sync_to_async(make_conversation)()
    one, _ = await open_socket(first.pk, user)
    two, _ = await open_socket(second.pk, user)

    await one.send_json_to({"message": "A long one [[sim:long]]"})
    await asyncio.to_thread(simulator.wait_for, lambda r: r.chunks_sent > 1)
    await two.send_json_to({"message": "And this?"})
    said = await receive_until(two, "of your answers are arriving already")

    assert "Nothing was sent: 1 of your answers are arriving already, the most at once (1)." in (
        html.unescape(said[-1])
    )
    assert len(simulator.requests) == 1
    await one.send_json_to({"action": "stop"})
    await receive_until(one, ANSWER_DONE)
    await one.disconnect()
    await two.disconnect()


async def test_answers_per_minute_per_person_are_limited_in_words(
    simulator, user, make_conversation, settings
):
    settings.ANSWERS_PER_MINUTE = 2
    conversation = await sync_to_async(make_conversation)()
    socket, _ = await open_socket(conversation.pk, user)
    await send_and_wait(socket, "One")
    await send_and_wait(socket, "Two")

    await socket.send_json_to({"message": "Three"})
    said = await receive_until(socket, "answers in the last minute")

    assert "you asked for 2 answers in the last minute, the most allowed (2)" in html.unescape(
        said[-1]
    )
    assert len(simulator.requests) == 2
    await socket.disconnect()


async def test_a_conversation_past_its_message_limit_says_start_a_new_one(
    simulator, user, make_conversation, settings
):
    settings.MAX_CONVERSATION_MESSAGES = 2
    conversation = await sync_to_async(make_conversation)()
    socket, _ = await open_socket(conversation.pk, user)
    await send_and_wait(socket, "One")

    await socket.send_json_to({"message": "Two"})
    said = await receive_until(socket, "the most one can")

    assert "This conversation holds 2 messages, the most one can: start a new one" in said[-1]
    assert await conversation.messages.acount() == 2
    await socket.disconnect()


async def test_no_frame_or_log_line_of_an_answer_holds_the_key(
    simulator, user, make_conversation, settings, caplog
):
    settings.MISTRAL_BASE_URL = simulator.base_url
    settings.HEXGRID_API_KEY = "sk-frames-never-see-this"
    conversation = await sync_to_async(make_conversation)()
    conversation.connection = "hexgrid"
    await conversation.asave()
    socket, _ = await open_socket(conversation.pk, user)

    with caplog.at_level("DEBUG"):
        frames = await send_and_wait(socket, "Hi [[sim:status=401]]")
        frames += await send_and_wait(socket, "Again")
    await socket.disconnect()

    assert simulator.requests[-1].headers["authorization"] == "Bearer sk-frames-never-see-this"
    assert not any("sk-frames-never-see-this" in frame for frame in frames)
    assert "sk-frames-never-see-this" not in caplog.text
