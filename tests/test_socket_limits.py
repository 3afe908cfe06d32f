"""The conversation's websocket under hostile or broken frames: each is refused in words, the
socket stays up, nothing is stored, and a normal message afterwards is answered."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from playground import upstream
from tests.conftest import ANSWER_DONE, open_socket, receive_until

pytestmark = pytest.mark.django_db(transaction=True)

NOTICE = 'id="notice"'

# Anything JSON can hold that is not what a form sends: objects, booleans, null.
not_form_values = st.recursive(
    st.booleans() | st.none() | st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=5,
)
hostile_frames = st.one_of(
    st.text(min_size=1, max_size=200),  # mostly not JSON at all
    st.builds(
        json.dumps, st.lists(st.integers(), max_size=4) | st.text(max_size=20) | st.integers()
    ),
    st.builds(
        json.dumps,
        st.fixed_dictionaries(
            {
                "action": st.text(max_size=12).filter(
                    lambda a: (
                        a
                        not in {
                            "",
                            "send",
                            "stop",
                            "retry",
                            "regenerate",
                            "continue",
                            "tool_results",
                        }
                    )
                )
            },
            optional={"message": st.text(max_size=20)},
        ),
    ),
    st.builds(
        json.dumps,
        st.fixed_dictionaries(
            {"action": st.sampled_from(["send", "retry", "regenerate", "tool_results"])},
        ).flatmap(
            lambda base: st.fixed_dictionaries(
                {**{k: st.just(v) for k, v in base.items()}, "message": not_form_values}
            )
        ),
    ),
)


def is_json_object(frame: str) -> bool:
    try:
        return isinstance(json.loads(frame), dict)
    except ValueError:
        return False


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(frames=st.lists(hostile_frames, min_size=1, max_size=8))
def test_hostile_frames_are_refused_and_the_socket_still_answers(
    frames, simulator, user, make_conversation
):
    async def attack() -> None:
        conversation = await sync_to_async(make_conversation)()
        socket, connected = await open_socket(conversation.pk, user)
        assert connected
        for frame in frames:
            await socket.send_to(text_data=frame)
            said = await socket.receive_from(timeout=5)
            assert NOTICE in said  # every one is answered in words, none closes the socket
        assert await conversation.messages.acount() == 0
        assert simulator.requests == []

        await socket.send_json_to({"message": "Still there?"})
        await receive_until(socket, ANSWER_DONE)
        assert await conversation.messages.acount() == 2
        await socket.disconnect()
        simulator.requests.clear()
        await upstream.close_shared_client()  # each example runs in an event loop of its own

    async_to_sync(attack)()


async def test_an_oversized_frame_is_refused_in_words(simulator, user, make_conversation, settings):
    settings.WEBSOCKET_MAX_BYTES = 2048
    conversation = await sync_to_async(make_conversation)()
    socket, _ = await open_socket(conversation.pk, user)

    await socket.send_json_to({"message": "x" * 5000})

    said = await socket.receive_from(timeout=5)
    assert "That is too large to send (over 2 KB): shorten the message." in said
    assert await conversation.messages.acount() == 0
    await socket.disconnect()


async def test_a_flood_of_frames_is_slowed_down_not_dropped(
    simulator, user, make_conversation, settings
):
    settings.WEBSOCKET_BURST = 3
    settings.WEBSOCKET_PER_SECOND = 0.5
    conversation = await sync_to_async(make_conversation)()
    socket, _ = await open_socket(conversation.pk, user)

    said = []
    for _ in range(6):
        await socket.send_json_to({"action": "stop"})
    await socket.send_json_to({"action": "stop"})
    while not await socket.receive_nothing(timeout=0.3):
        said.append(await socket.receive_from())

    assert sum("Too many requests at once: wait a moment." in s for s in said) == 4
    await socket.disconnect()
