"""Tool calls: fragments assembled by index, shown as cards, answered by hand, then continued."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from asgiref.sync import sync_to_async

from playground.models import Message
from playground.stream import Piece, generate
from playground.upstream.connections import get_connection
from tests.conftest import ANSWER_DONE, open_socket, receive_until

pytestmark = pytest.mark.django_db(transaction=True)

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["location"],
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


async def answer_with(conversation, body, *, client) -> tuple[Message, list[Piece]]:
    pieces: list[Piece] = []

    async def keep(piece: Piece) -> None:
        pieces.append(piece)

    connection = await sync_to_async(get_connection)("simulator")
    message = await sync_to_async(conversation.start_answer)(
        connection="simulator", model=body["model"], body=body
    )
    await generate(message, body, client=client, connection=connection, on_piece=keep)
    return message, pieces


def sse(*chunks: dict) -> bytes:
    events = [f"data: {json.dumps(c)}\n\n" for c in chunks] + ["data: [DONE]\n\n"]
    return "".join(events).encode()


def delta(**fields) -> dict:
    finish = fields.pop("finish", None)
    return {"choices": [{"index": 0, "delta": fields, "finish_reason": finish}]}


async def test_interleaved_parallel_call_fragments_are_assembled_by_index(
    user, make_conversation, simulator
):
    body = sse(
        delta(
            tool_calls=[
                {
                    "index": 0,
                    "id": "aB3dE5gH7",
                    "type": "function",
                    "function": {"name": "get_current_weather"},
                }
            ]
        ),
        delta(
            tool_calls=[
                {
                    "index": 1,
                    "id": "Zx9Yw8Vu7",
                    "type": "function",
                    "function": {"name": "get_time"},
                }
            ]
        ),
        delta(tool_calls=[{"index": 0, "function": {"arguments": '{"location": '}}]),
        delta(tool_calls=[{"index": 1, "function": {"arguments": '{"city": "Oslo"}'}}]),
        delta(tool_calls=[{"index": 0, "function": {"arguments": '"Paris"}'}}]),
        delta(finish="tool_calls"),
    )
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    conversation = await sync_to_async(make_conversation)()
    await sync_to_async(conversation.add_user_message)("Weather and time?")
    request = {"model": "m", "messages": [], "tools": [WEATHER, TIME], "stream": True}
    async with httpx.AsyncClient(transport=transport) as client:
        message, pieces = await answer_with(conversation, request, client=client)

    assert message.finish_reason == "tool_calls"
    assert message.tool_calls == [
        {
            "id": "aB3dE5gH7",
            "type": "function",
            "function": {"name": "get_current_weather", "arguments": '{"location": "Paris"}'},
        },
        {
            "id": "Zx9Yw8Vu7",
            "type": "function",
            "function": {"name": "get_time", "arguments": '{"city": "Oslo"}'},
        },
    ]
    # Each call is announced once, then its arguments stream into its own card.
    assert [(p.kind, p.index) for p in pieces if p.kind == "tool_call"] == [
        ("tool_call", 0),
        ("tool_call", 1),
    ]
    assert (
        "".join(p.text for p in pieces if p.kind == "tool_arguments" and p.index == 0)
        == '{"location": "Paris"}'
    )
    assert [card["error"] for card in message.tool_call_cards] == ["", ""]


async def test_forced_tool_call_from_the_simulator_arrives_with_a_mistral_id(
    user, make_conversation, simulator
):
    conversation = await sync_to_async(make_conversation)()
    await sync_to_async(conversation.add_user_message)("What is the weather in Paris?")
    request = {
        "model": "mistralai/Mistral-Small-3.2-24B-Instruct-2506",
        "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
        "tools": [WEATHER],
        "tool_choice": "required",
        "stream": True,
    }
    async with httpx.AsyncClient() as client:
        message, _ = await answer_with(conversation, request, client=client)
    (call,) = message.tool_calls
    assert re.fullmatch(r"[A-Za-z0-9]{9}", call["id"])
    assert call["function"]["name"] == "get_current_weather"
    assert "location" in json.loads(call["function"]["arguments"])
    assert message.tool_call_cards[0]["error"] == ""


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ('{"location": "Par', "not valid JSON"),
        ('{"unit": "kelvin"}', "do not fit the tool's schema"),
        ('{"location": "Paris", "unit": "kelvin"}', "unit: 'kelvin' is not one of"),
    ],
)
def test_cards_say_what_is_wrong_with_bad_arguments(arguments, error):
    message = Message(
        request_body={"tools": [WEATHER]},
        tool_calls=[
            {
                "id": "aB3dE5gH7",
                "type": "function",
                "function": {"name": "get_current_weather", "arguments": arguments},
            }
        ],
    )
    assert error in message.tool_call_cards[0]["error"]


def test_cards_pretty_print_good_arguments_and_flag_unknown_tools():
    message = Message(
        request_body={"tools": [WEATHER]},
        tool_calls=[
            {
                "id": "a",
                "type": "function",
                "function": {"name": "get_current_weather", "arguments": '{"location":"Paris"}'},
            },
            {
                "id": "b",
                "type": "function",
                "function": {"name": "launch_rockets", "arguments": "{}"},
            },
        ],
    )
    good, unknown = message.tool_call_cards
    assert good["arguments"] == '{\n  "location": "Paris"\n}' and good["error"] == ""
    assert "No tool called launch_rockets" in unknown["error"]


async def conversation_waiting_for_results(make_conversation):
    """A conversation whose last answer asked for two calls, as the model would have sent it."""
    conversation = await sync_to_async(make_conversation)()

    def build():
        conversation.add_user_message("Weather in Paris and time in Oslo?")
        conversation.append_branch(
            [
                {
                    "role": "assistant",
                    "content": "",
                    "finish_reason": "tool_calls",
                    "request_body": {"tools": [WEATHER, TIME]},
                    "tool_calls": [
                        {
                            "id": "aB3dE5gH7",
                            "type": "function",
                            "function": {
                                "name": "get_current_weather",
                                "arguments": '{"location": "Paris"}',
                            },
                        },
                        {
                            "id": "Zx9Yw8Vu7",
                            "type": "function",
                            "function": {"name": "get_time", "arguments": '{"city": "Oslo"}'},
                        },
                    ],
                }
            ]
        )

    await sync_to_async(build)()
    return conversation


async def test_results_become_tool_messages_and_the_model_continues(
    simulator, user, make_conversation
):
    conversation = await conversation_waiting_for_results(make_conversation)
    socket, _ = await open_socket(conversation.pk, user)
    await socket.send_json_to(
        {"action": "tool_results", "result:aB3dE5gH7": "18 °C, sunny", "result:Zx9Yw8Vu7": "14:05"}
    )
    fragments = await receive_until(socket, ANSWER_DONE)
    await socket.disconnect()

    sent = simulator.requests[-1].body["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "tool"]
    assert sent[1]["tool_calls"][0]["id"] == "aB3dE5gH7"
    assert [(m["tool_call_id"], m["name"], m["content"]) for m in sent[2:]] == [
        ("aB3dE5gH7", "get_current_weather", "18 °C, sunny"),
        ("Zx9Yw8Vu7", "get_time", "14:05"),
    ]
    await conversation.arefresh_from_db()
    path = await sync_to_async(conversation.path)()
    assert [m.role for m in path] == ["user", "assistant", "tool", "tool", "assistant"]
    assert path[-1].status == "complete" and path[-1].content
    assert "18 °C, sunny" in "".join(fragments)


async def test_results_for_only_some_calls_are_refused_and_nothing_is_stored(
    simulator, user, make_conversation
):
    conversation = await conversation_waiting_for_results(make_conversation)
    socket, _ = await open_socket(conversation.pk, user)
    await socket.send_json_to(
        {"action": "tool_results", "result:aB3dE5gH7": "18 °C", "result:Zx9Yw8Vu7": " "}
    )
    fragment = await socket.receive_from(timeout=5)
    await socket.disconnect()
    assert "Give a result for every call" in fragment and "get_time" in fragment
    assert await sync_to_async(conversation.messages.filter(role="tool").count)() == 0
    assert simulator.requests == []


def test_waiting_calls_show_a_result_box_for_each(client, user, make_conversation):
    import asyncio

    conversation = asyncio.run(conversation_waiting_for_results(make_conversation))
    client.force_login(user)
    page = client.get(f"/conversations/{conversation.pk}/").content.decode()
    assert page.count('name="result:') == 2
    assert "Result of get_current_weather" in page and ">Submit results</button>" in page
    assert "The model asked for 2 tool calls." in page
