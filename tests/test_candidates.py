"""What the n and logprobs options produce: candidates side by side, tokens with their odds."""

from __future__ import annotations

import re

import pytest
from asgiref.sync import sync_to_async

from tests.conftest import ANSWER_DONE, appends, open_socket, receive_until

pytestmark = pytest.mark.django_db(transaction=True)


async def test_candidates_stream_side_by_side_and_are_kept_as_versions(
    simulator, user, make_conversation
):
    conversation = await sync_to_async(make_conversation)(options={"n": 3, "temperature": 0.8})
    socket, _ = await open_socket(conversation.pk, user)
    await socket.send_json_to({"message": "Name a colour"})
    fragments = await receive_until(socket, ANSWER_DONE)
    await socket.disconnect()

    columns = (re.search(r"-candidate-(\d)-content$", target) for target, _ in appends(fragments))
    streamed = {column[1] for column in columns if column}
    assert streamed == {"0", "1", "2"}
    await conversation.arefresh_from_db()
    path = await sync_to_async(conversation.path)()
    first = path[-1]
    others = [m async for m in first.other_candidates.order_by("candidate_index")]
    assert [m.candidate_index for m in others] == [1, 2]
    assert all(m.parent_id == first.parent_id and m.content for m in others)
    # The final render shows every candidate with a way to continue with each of the others.
    assert fragments[-1].count("Continue with this one") == 2
    assert "Continuing with this one" in fragments[-1]


async def test_each_candidate_keeps_its_own_times_and_with_logprobs_its_own_tokens(
    simulator, user, make_conversation
):
    conversation = await sync_to_async(make_conversation)(
        options={"n": 3, "temperature": 0.8, "logprobs": True}
    )
    socket, _ = await open_socket(conversation.pk, user)
    await socket.send_json_to({"message": "Name a colour [[sim:tokens=12]] [[sim:rate=400]]"})
    fragments = await receive_until(socket, ANSWER_DONE)
    await socket.disconnect()

    versions = [m async for m in conversation.messages.filter(role="assistant")]
    assert len(versions) == 3
    # The server's usage counts all three together; each keeps that and times of its own.
    assert len({str(m.usage) for m in versions}) == 1
    assert versions[0].usage["completion_tokens"] > max(len(m.logprobs) for m in versions)
    for version in versions:
        assert 0 < version.time_to_first_token_ms < version.duration_ms
        assert version.tokens_per_second is not None
    final = fragments[-1]
    for version in versions:
        assert f"<dt>Tokens</dt><dd>{len(version.logprobs)} out</dd>" in final
    assert "for the 3 candidates together, as the server counts them." in final


def test_picking_a_candidate_continues_the_conversation_from_it(client, user, make_conversation):
    conversation = make_conversation()
    question = conversation.add_user_message("Name a colour")
    first = conversation.start_answer(connection="simulator", model="m", body={"n": 2})
    first.content, first.content_html, first.status = "Red", "<p>Red</p>", "complete"
    first.save()
    second = conversation.messages.create(
        parent=question, role="assistant", content="Blue", content_html="<p>Blue</p>",
        candidate_of=first, candidate_index=1, request_body={"n": 2},
    )  # fmt: skip
    client.force_login(user)
    page = client.get(f"/conversations/{conversation.pk}/").content.decode()
    assert 'aria-label="2 candidates"' in page and "Blue" in page and "Red" in page
    client.post(
        f"/conversations/{conversation.pk}/messages/{second.pk}/show/", HTTP_HX_REQUEST="true"
    )
    conversation.refresh_from_db()
    assert conversation.path()[-1] == second
    assert [m["content"] for m in conversation.upstream_messages()] == ["Name a colour", "Blue"]


async def test_token_odds_are_saved_and_shown_with_alternatives(simulator, user, make_conversation):
    conversation = await sync_to_async(make_conversation)(
        options={"logprobs": True, "top_logprobs": 3}
    )
    socket, _ = await open_socket(conversation.pk, user)
    await socket.send_json_to({"message": "Say something short [[sim:tokens=6]]"})
    fragments = await receive_until(socket, ANSWER_DONE)
    await socket.disconnect()

    answer = await conversation.messages.aget(role="assistant")
    assert len(answer.logprobs) == 6
    assert "".join(entry["token"] for entry in answer.logprobs) == answer.content
    assert all(len(entry["top_logprobs"]) == 3 for entry in answer.logprobs)
    final = fragments[-1]
    assert "Token probabilities" in final
    # Every token is a keyboard stop whose tooltip names its odds and the alternatives.
    assert final.count('tabindex="0"') == 6 and final.count('role="tooltip"') == 6
    assert re.search(r"\d+% likely; instead: ", final) or "100% likely" in final
