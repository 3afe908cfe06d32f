"""Talking to the simulator in its tests: requests, their SSE events, tool-call turns."""

from __future__ import annotations

import json

import httpx

SMALL = "mistralai/Mistral-Small-3.2-24B-Instruct-2506"


MAGISTRAL = "mistralai/Magistral-Small-2506"


HI = [{"role": "user", "content": "Tell me about tides and the moon"}]


def assistant_calls(*ids: str) -> dict:
    calls = [
        {"id": i, "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
        for i in ids
    ]
    return {"role": "assistant", "content": "", "tool_calls": calls}


def tool_result(call_id: str, content: str = "18 °C, sunny") -> dict:
    return {"role": "tool", "tool_call_id": call_id, "name": "get_weather", "content": content}


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"enum": ["celsius", "fahrenheit"]}},
            "required": ["city"],
        },
    },
}


def chat(client: httpx.Client, **body) -> httpx.Response:
    body.setdefault("messages", HI)
    return client.post("/chat/completions", json=body)


def stream(client: httpx.Client, **body) -> list:
    """Every SSE event: decoded JSON, the string "[DONE]", or a comment line as-is."""
    body.setdefault("messages", HI)
    events = []
    with client.stream("POST", "/chat/completions", json={**body, "stream": True}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                data = line[len("data: ") :]
                events.append(data if data == "[DONE]" else json.loads(data))
            elif line.startswith(":"):
                events.append(line)
    return events


def chunks(events: list) -> list[dict]:
    return [e for e in events if isinstance(e, dict) and e.get("choices")]


def deltas(events: list, key: str, index: int = 0) -> list[str]:
    return [
        c["choices"][0]["delta"][key]
        for c in chunks(events)
        if c["choices"][0]["index"] == index and key in c["choices"][0]["delta"]
    ]


def content_of(events: list, index: int = 0) -> str:
    return "".join(deltas(events, "content", index))


def finishes(events: list) -> dict[int, dict]:
    return {
        c["choices"][0]["index"]: c["choices"][0]
        for c in chunks(events)
        if c["choices"][0]["finish_reason"] is not None
    }
