"""Tool calls: which tools an answer calls, with what arguments, and answers to their results."""

from __future__ import annotations

import json

import httpx

from tests.simulator.helpers import (
    WEATHER_TOOL,
    assistant_calls,
    chat,
    chunks,
    finishes,
    stream,
    tool_result,
)


def test_required_tool_choice_streams_a_tool_call(client):
    events = stream(client, tools=[WEATHER_TOOL], tool_choice="required")
    calls = [
        c["choices"][0]["delta"]["tool_calls"][0]
        for c in chunks(events)
        if "tool_calls" in c["choices"][0]["delta"]
    ]
    assert calls[0]["function"] == {"name": "get_weather"} and len(calls[0]["id"]) == 9
    arguments = json.loads("".join(call["function"].get("arguments", "") for call in calls[1:]))
    assert arguments["unit"] == "celsius" and isinstance(arguments["city"], str)
    assert finishes(events)[0]["finish_reason"] == "tool_calls"
    message = chat(client, tools=[WEATHER_TOOL], tool_choice="required").json()["choices"][0][
        "message"
    ]
    assert message["content"] is None and message["tool_calls"][0]["type"] == "function"


def test_tool_call_hook_calls_the_first_tool_when_choice_is_auto(client):
    body = chat(
        client, tools=[WEATHER_TOOL], messages=[{"role": "user", "content": "Hi [[sim:tool-call]]"}]
    ).json()
    assert body["choices"][0]["finish_reason"] == "tool_calls"
    assert body["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "get_weather"
    plain = chat(client, tools=[WEATHER_TOOL]).json()["choices"][0]
    assert plain["finish_reason"] == "stop" and "tool_calls" not in plain["message"]


TIME_TOOL = {
    "type": "function",
    "function": {"name": "get_time", "parameters": {"properties": {"city": {"type": "string"}}}},
}


WEATHER_AND_TIME = [
    {"role": "user", "content": "What is the weather in Paris and the time in Oslo?"}
]


def called(response: httpx.Response) -> list[dict]:
    return response.json()["choices"][0]["message"].get("tool_calls") or []


def test_auto_calls_the_tools_a_message_plainly_asks_for(client):
    tools = [WEATHER_TOOL, TIME_TOOL]
    both = called(chat(client, tools=tools, messages=WEATHER_AND_TIME))
    assert [c["function"]["name"] for c in both] == ["get_weather", "get_time"]
    # Arguments take the places the message names.
    assert json.loads(both[0]["function"]["arguments"])["city"] in ("Paris", "Oslo")
    one = called(chat(client, tools=tools, messages=WEATHER_AND_TIME, parallel_tool_calls=False))
    assert [c["function"]["name"] for c in one] == ["get_weather"]
    assert called(chat(client, tools=tools)) == []  # tides and the moon: no tool asked for


def test_a_tool_result_is_answered_in_words_that_use_it(client):
    messages = [
        *WEATHER_AND_TIME,
        assistant_calls("aB3dE5gH7"),
        tool_result("aB3dE5gH7", "18 °C, sunny"),
    ]
    choice = chat(client, tools=[WEATHER_TOOL], messages=messages).json()["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["content"].startswith("According to get_weather: 18 °C, sunny.")
    # required keeps forcing a call, even right after the results, as vLLM's grammar does.
    forced = chat(client, tools=[WEATHER_TOOL], tool_choice="required", messages=messages)
    assert called(forced)
