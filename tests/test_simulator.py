"""The offline vLLM simulator, over real HTTP on loopback: shapes, checks, hooks and the log."""

from __future__ import annotations

import json
import re
import socket
import time

import httpx
import pytest

from simulator import MAX_MODEL_LEN, MODELS, REASONING_MODELS, Simulator

SMALL = "mistralai/Mistral-Small-3.2-24B-Instruct-2506"
MAGISTRAL = "mistralai/Magistral-Small-2506"
HI = [{"role": "user", "content": "Tell me about tides and the moon"}]


def _calls(*ids: str) -> dict:
    calls = [
        {"id": i, "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
        for i in ids
    ]
    return {"role": "assistant", "content": "", "tool_calls": calls}


def _result(call_id: str, content: str = "18 °C, sunny") -> dict:
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


@pytest.fixture(scope="module")
def server():
    simulator = Simulator().start()
    yield simulator
    simulator.stop()


@pytest.fixture
def sim(server):
    server.requests.clear()
    server.chunks_per_second = 0.0
    server.first_token_delay = 0.0
    return server


@pytest.fixture
def client(sim):
    with httpx.Client(base_url=sim.base_url, timeout=10) as client:
        yield client


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


def test_models_list_has_vllms_shape(client):
    body = client.get("/models").json()
    assert body["object"] == "list"
    assert [card["id"] for card in body["data"]] == MODELS
    card = body["data"][0]
    assert card["object"] == "model" and card["owned_by"] == "vllm"
    assert card["root"] == card["id"] and card["parent"] is None
    assert card["max_model_len"] == MAX_MODEL_LEN
    assert card["permission"][0]["object"] == "model_permission"
    assert set(REASONING_MODELS) < set(MODELS)


def test_answer_without_streaming_has_vllms_shape_with_null_fields(client):
    body = chat(client).json()
    assert body["id"].startswith("chatcmpl-") and len(body["id"]) == len("chatcmpl-") + 16
    assert body["object"] == "chat.completion" and body["model"] == SMALL
    assert body["system_fingerprint"].startswith("vllm-0.33.0")
    for key in (
        "service_tier",
        "prompt_logprobs",
        "prompt_token_ids",
        "kv_transfer_params",
        "metrics",
    ):
        assert key in body and body[key] is None
    choice = body["choices"][0]
    assert choice["finish_reason"] == "stop" and choice["stop_reason"] is None
    assert choice["logprobs"] is None and choice["token_ids"] is None
    message = choice["message"]
    assert message["role"] == "assistant" and message["content"]
    assert message["reasoning"] is None and message["refusal"] is None
    assert "tool_calls" not in message
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["prompt_tokens"] == 7  # the words of the prompt
    assert 40 <= usage["completion_tokens"] <= 100
    assert usage["prompt_tokens_details"] is None and usage["completion_tokens_details"] is None


def test_stream_starts_with_a_role_chunk_and_ends_with_done(client):
    events = stream(client)
    first = events[0]
    assert first["object"] == "chat.completion.chunk" and first["id"].startswith("chatcmpl-")
    assert first["choices"] == [
        {
            "index": 0,
            "delta": {"role": "assistant", "content": ""},
            "logprobs": None,
            "finish_reason": None,
        }
    ]
    assert events[-1] == "[DONE]"
    last = events[-2]["choices"][0]
    assert last["finish_reason"] == "stop" and last["stop_reason"] is None and last["delta"] == {}
    assert "usage" not in events[-2] and events[-2]["system_fingerprint"].startswith("vllm-")
    assert all(len(c["choices"]) == 1 for c in chunks(events))
    assert len({c["id"] for c in chunks(events)}) == 1
    assert len(deltas(events, "content")) > 40


def test_include_usage_adds_a_last_chunk_with_empty_choices(client):
    events = stream(client, stream_options={"include_usage": True})
    usage_chunk = events[-2]
    assert usage_chunk["choices"] == [] and events[-1] == "[DONE]"
    content_chunks = len(deltas(events, "content")) - 1  # the role chunk's ""
    # The end-of-sequence token counts, as in vLLM.
    assert usage_chunk["usage"]["completion_tokens"] == content_chunks + 1
    assert "prompt_tokens_details" not in usage_chunk["usage"]
    assert "system_fingerprint" not in events[-3]


def test_continuous_usage_stats_put_running_usage_on_every_chunk(client):
    events = stream(client, stream_options={"include_usage": True, "continuous_usage_stats": True})
    running = [c["usage"]["completion_tokens"] for c in chunks(events)]
    assert running[0] == 0 and running == sorted(running)
    assert running[-1] == events[-2]["usage"]["completion_tokens"]


def test_request_id_names_the_completion(client):
    assert chat(client, request_id="abc123").json()["id"] == "chatcmpl-abc123"


def test_reasoning_model_streams_reasoning_before_content(client):
    events = stream(client, model=MAGISTRAL, stream_options={"include_usage": True})
    kinds = [
        next(iter(c["choices"][0]["delta"])) for c in chunks(events)[1:] if c["choices"][0]["delta"]
    ]
    assert kinds[0] == "reasoning" and "content" in kinds
    assert kinds == sorted(kinds, key=lambda kind: kind != "reasoning")
    reasoning = deltas(events, "reasoning")
    assert 18 <= len(reasoning) <= 45
    assert events[-2]["usage"]["completion_tokens_details"] == {"reasoning_tokens": len(reasoning)}


def test_reasoning_model_answers_with_a_reasoning_field(client):
    body = chat(client, model=REASONING_MODELS[1]).json()
    message = body["choices"][0]["message"]
    assert message["reasoning"].startswith("Okay, the user is asking about tides")
    assert message["content"]
    assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0


def test_include_reasoning_false_drops_the_reasoning(client):
    events = stream(client, model=MAGISTRAL, include_reasoning=False)
    assert deltas(events, "reasoning") == [] and content_of(events)
    assert (
        chat(client, model=MAGISTRAL, include_reasoning=False).json()["choices"][0]["message"][
            "reasoning"
        ]
        is None
    )


def test_reasoning_effort_none_turns_thinking_off(client):
    body = chat(client, model=MAGISTRAL, reasoning_effort="none").json()
    assert body["choices"][0]["message"]["reasoning"] is None
    assert body["usage"]["completion_tokens_details"] == {"reasoning_tokens": 0}
    assert chat(client, model=MAGISTRAL, reasoning_effort="high").json()["choices"][0]["message"][
        "reasoning"
    ]


def test_max_tokens_ends_with_length_after_exactly_that_many_tokens(client):
    full = chat(client, seed=3).json()["choices"][0]["message"]["content"]
    body = chat(client, seed=3, max_tokens=5).json()
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 5
    short = body["choices"][0]["message"]["content"]
    assert full.startswith(short) and short != full

    events = stream(client, seed=3, max_completion_tokens=5, stream_options={"include_usage": True})
    assert len(deltas(events, "content")) == 1 + 5  # the last piece rides on the finish chunk
    assert content_of(events) == short
    assert finishes(events)[0]["finish_reason"] == "length"
    assert finishes(events)[0]["delta"] == {"content": deltas(events, "content")[-1]}
    assert events[-2]["usage"]["completion_tokens"] == 5


def test_max_tokens_counts_the_reasoning_too(client):
    message = chat(client, model=MAGISTRAL, max_tokens=4).json()["choices"][0]["message"]
    assert message["content"] is None and len(message["reasoning"].split()) == 4


def test_stop_string_cuts_the_answer_before_it(client):
    full = chat(client, seed=5).json()["choices"][0]["message"]["content"]
    word = full.split()[6].strip(".,*")
    choice = chat(client, seed=5, stop=["zzz", word]).json()["choices"][0]
    assert choice["message"]["content"] == full[: full.index(word)]
    assert choice["finish_reason"] == "stop" and choice["stop_reason"] == word

    kept = chat(client, seed=5, stop=word, include_stop_str_in_output=True).json()["choices"][0]
    assert kept["message"]["content"] == full[: full.index(word) + len(word)]

    events = stream(client, seed=5, stop=[word])
    assert content_of(events) == full[: full.index(word)]
    assert finishes(events)[0]["stop_reason"] == word


def test_n_2_streams_two_interleaved_choices(client):
    events = stream(client, n=2, seed=4, stream_options={"include_usage": True})
    indexes = [c["choices"][0]["index"] for c in chunks(events)]
    assert set(indexes) == {0, 1}
    assert indexes[:2] == [0, 1]  # both role chunks come first
    assert indexes != sorted(indexes)
    assert set(finishes(events)) == {0, 1}
    assert content_of(events, 0) != content_of(events, 1)
    body = chat(client, n=2, seed=4).json()
    assert [c["message"]["content"] for c in body["choices"]] == [
        content_of(events, i) for i in (0, 1)
    ]
    pieces = [len(deltas(events, "content", i)) - 1 for i in (0, 1)]  # minus the role chunk's ""
    assert body["usage"]["completion_tokens"] == sum(pieces) + 2  # and each end-of-sequence token


def test_same_seed_gives_the_same_answer_and_another_seed_another(client):
    def answer(**extra) -> str:
        return chat(client, **extra).json()["choices"][0]["message"]["content"]

    assert answer(seed=1) == answer(seed=1)
    assert answer(seed=1) != answer(seed=2)
    assert answer(seed=1) != answer(seed=1, messages=[{"role": "user", "content": "Else"}])
    assert content_of(stream(client, seed=1)) == answer(seed=1)


def test_without_a_seed_each_request_samples_a_new_answer(client):
    def answer(**extra) -> str:
        return chat(client, **extra).json()["choices"][0]["message"]["content"]

    assert answer() != answer()
    assert answer(seed=-1) != answer(seed=-1)  # vLLM reads -1 as no seed
    assert answer(temperature=0.7) != answer(temperature=0.7)
    # Hooks that fix the length fix it for every sample: only the words change.
    sixty = [{"role": "user", "content": "Tell me about tides [[sim:tokens=60]]"}]
    first, second = chat(client, messages=sixty).json(), chat(client, messages=sixty).json()
    assert first["choices"][0]["message"]["content"] != second["choices"][0]["message"]["content"]
    assert first["usage"]["completion_tokens"] == second["usage"]["completion_tokens"] == 61


def test_temperature_0_is_greedy_and_gives_the_same_answer_whatever_the_seed(client):
    def answer(**extra) -> str:
        return chat(client, temperature=0, **extra).json()["choices"][0]["message"]["content"]

    assert answer() == answer() == answer(seed=1) == answer(seed=2)
    assert content_of(stream(client, temperature=0)) == answer()


def test_a_request_that_mentions_code_gets_a_python_block(client):
    content = chat(client, messages=[{"role": "user", "content": "Show me code"}]).json()
    assert "```python\n" in content["choices"][0]["message"]["content"]


def test_json_schema_response_format_answers_json(client):
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    }
    response_format = {"type": "json_schema", "json_schema": {"name": "person", "schema": schema}}
    content = chat(client, response_format=response_format).json()["choices"][0]["message"][
        "content"
    ]
    assert set(json.loads(content)) == {"name", "age"}


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


def test_logprobs_come_with_each_token(client):
    choice = chat(client, logprobs=True, top_logprobs=2).json()["choices"][0]
    entry = choice["logprobs"]["content"][0]
    assert entry["bytes"] == list(entry["token"].encode()) and len(entry["top_logprobs"]) == 2
    events = stream(client, logprobs=True)
    assert all(c["choices"][0]["logprobs"]["content"] for c in chunks(events)[1:-1])


def test_unknown_keys_are_accepted_and_ignored(client):
    assert (
        chat(client, guided_json={"type": "object"}, random_seed=4, metadata={"a": 1}).status_code
        == 200
    )


def test_missing_model_means_the_first_one(client):
    assert chat(client, model=None).json()["model"] == MODELS[0]


def test_unknown_model_is_404(client):
    response = chat(client, model="mistral-small-latest")
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "message": "The model `mistral-small-latest` does not exist.",
            "type": "NotFoundError",
            "param": "model",
            "code": 404,
        }
    }


REJECTED = [
    # Checked while serving: "BadRequestError", with VLLMValidationError's suffix when it has one.
    ({"temperature": 2.5}, "BadRequestError", "temperature",
     "temperature must be in [0, 2], got 2.5. (parameter=temperature, value=2.5)"),
    ({"temperature": -1}, "BadRequestError", "temperature", "temperature must be non-negative"),
    ({"top_p": 0}, "BadRequestError", "top_p",
     "top_p must be in (0, 1], got 0.0. (parameter=top_p, value=0.0)"),
    ({"top_p": 1.5}, "BadRequestError", "top_p", "top_p must be in (0, 1]"),
    ({"presence_penalty": 3}, "BadRequestError", None,
     "presence_penalty must be in [-2, 2], got 3.0."),
    ({"frequency_penalty": -2.5}, "BadRequestError", None, "frequency_penalty must be in [-2, 2]"),
    ({"repetition_penalty": 0}, "BadRequestError", None,
     "repetition_penalty must be greater than zero"),
    ({"min_p": 1.5}, "BadRequestError", None, "min_p must be in [0, 1], got 1.5."),
    ({"n": 0}, "BadRequestError", None, "n must be at least 1, got 0."),
    ({"n": 2, "temperature": 0}, "BadRequestError", None,
     "n must be 1 when using greedy sampling, got 2."),
    ({"max_tokens": 0}, "BadRequestError", "max_tokens",
     "max_tokens must be at least 1, got 0. (parameter=max_tokens, value=0)"),
    ({"max_completion_tokens": 40000}, "BadRequestError", "max_completion_tokens",
     "max_completion_tokens=40000cannot be greater than max_model_len"),
    ({"max_tokens": 40000}, "BadRequestError", "max_tokens", "Please request fewer output tokens."),
    ({"min_tokens": 10, "max_tokens": 5}, "BadRequestError", None,
     "min_tokens must be less than or equal to max_tokens=5, got 10."),
    ({"stop": ["a", ""]}, "BadRequestError", None, "stop cannot contain an empty string."),
    ({"messages": []}, "BadRequestError", None, "Conversation must have at least one message"),
    ({"messages": [{"role": "robot", "content": "beep"}]}, "BadRequestError", None,
     "Unknown message role: robot"),
    ({"reasoning_effort": "low"}, "BadRequestError", None, "'low' is not a valid ReasoningEffort"),
    ({"chat_template_kwargs": {"enable_thinking": False}}, "BadRequestError", "chat_template",
     "chat_template is not supported for Mistral tokenizers."),
    ({"continue_final_message": True, "messages": [*HI, {"role": "assistant", "content": "Well"}]},
     "BadRequestError", None,
     "Cannot set both `add_generation_prompt` and `continue_final_message`"),
    ({"messages": [*HI, {"role": "assistant", "content": "Well"}]}, "BadRequestError", None,
     "Expected last role User or Tool"),
    # Checked by the request model: FastAPI's "Bad Request" with pydantic's error list.
    ({"stop": ["a", "b", "c", "d", "e"]}, "Bad Request", "body.stop",
     "List should have at most 4 items"),
    ({"stream_options": {"include_usage": True}}, "Bad Request", "stream_options",
     "Stream options can only be defined when `stream=True`."),
    ({"top_logprobs": 5}, "Bad Request", "top_logprobs",
     "when using `top_logprobs`, `logprobs` must be set to true."),
    ({"logprobs": True, "top_logprobs": -2}, "Bad Request", "top_logprobs",
     "`top_logprobs` must be a positive value or -1."),
    ({"stream": True, "prompt_logprobs": 1}, "Bad Request", "prompt_logprobs",
     "`prompt_logprobs` are not available when `stream=True`."),
    ({"continue_final_message": True, "add_generation_prompt": True}, "Bad Request", "body",
     "Cannot set both `continue_final_message` and `add_generation_prompt` to True."),
    ({"tools": []}, "Bad Request", "tools", "`tools` must not be an empty array."),
    ({"tool_choice": "auto"}, "Bad Request", "tool_choice",
     "When using `tool_choice`, `tools` must be set."),
    ({"tools": [WEATHER_TOOL], "tool_choice": "any"}, "Bad Request", "tool_choice",
     "Invalid value for `tool_choice`: any!"),
    ({"tools": [WEATHER_TOOL], "tool_choice": {"type": "function", "function": {"name": "nope"}}},
     "Bad Request", "tool_choice", "does not match any of the specified `tools`"),
    # mistral-common's checks of tool turns (v13 validator), after vLLM cut long ids.
    ({"messages": [*HI, _calls("call_1"), _result("call_1")]}, "BadRequestError", None,
     "Tool call id was call_1 but must be a-z, A-Z, 0-9, with a length of 9."),
    ({"messages": [*HI, _calls("chatcmpl-tool-0123456789abcdef"), _result("0123456789abcdef")]},
     None, None, None),
    ({"messages": [*HI, _result("aB3dE5gH7")]}, "BadRequestError", None,
     "Unexpected role 'tool' after role 'user'"),
    ({"messages": [*HI, _calls("aB3dE5gH7"), _result("zzzzzzzz9")]}, "BadRequestError", None,
     "Unexpected tool call id zzzzzzzz9 in tool results"),
    ({"messages": [*HI, _calls("aB3dE5gH7"), {"role": "assistant", "content": "Hm"}, *HI]},
     "BadRequestError", None, "Not the same number of function calls and responses"),
    ({"structured_outputs": {}}, "Bad Request", "body.structured_outputs",
     "You must use one kind of structured outputs constraint but none are specified"),
    ({"structured_outputs": {"json": {}, "regex": "a+"}}, "Bad Request", "body",
     "You can only use one kind of constraints for structured outputs"),
    ({"structured_outputs": {"regex": "a+", "grammar": "root ::= 'a'"}}, "Bad Request",
     "body.structured_outputs", "but multiple are specified"),
    ({"response_format": {"type": "json_schema"}}, "Bad Request", "response_format",
     "the 'json_schema' field must be provided."),
    ({"messages": None}, "Bad Request", "body.messages", "Input should be a valid list"),
    ({"reasoning_effort": "extreme"}, "Bad Request", "body.reasoning_effort",
     "Input should be 'none'"),
    ({"temperature": "hot"}, "Bad Request", "body.temperature", "Input should be a valid number"),
]  # fmt: skip


@pytest.mark.parametrize(("fields", "error_type", "param", "message"), REJECTED)
def test_each_rejection_rule_answers_vllms_error_json(client, fields, error_type, param, message):
    body = {"messages": HI, **fields}
    response = client.post("/chat/completions", json=body)
    if error_type is None:  # a near miss that vLLM accepts
        assert response.status_code == 200, response.text
        return
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == error_type and error["code"] == 400 and error["param"] == param
    assert message in error["message"]
    if error_type == "Bad Request":
        assert error["message"].startswith("1 validation error:\n  {")


def test_missing_messages_is_a_validation_error(client):
    error = client.post("/chat/completions", json={"model": SMALL}).json()["error"]
    assert error["param"] == "body.messages" and "Field required" in error["message"]


def test_body_must_be_sent_as_json(client):
    response = client.post(
        "/chat/completions",
        content=json.dumps({"messages": HI}),
        headers={"content-type": "text/plain"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == {
        "message": "1 validation error:\n"
        "  Unsupported Media Type: Only 'application/json' is allowed",
        "type": "Bad Request",
        "param": None,
        "code": 400,
    }
    broken = client.post(
        "/chat/completions", content=b'{"messages": [', headers={"content-type": "application/json"}
    )
    assert broken.status_code == 400 and "JSON decode error" in broken.json()["error"]["message"]


def test_too_many_logprobs_fail_inside_the_stream_with_status_200(client):
    events = stream(client, logprobs=True, top_logprobs=50)
    assert events == [
        {
            "error": {
                "message": "Requested sample logprobs of 50, which is greater than max allowed: 20 "
                "(parameter=logprobs, value=50)",
                "type": "BadRequestError",
                "param": "logprobs",
                "code": 400,
            }
        },
        "[DONE]",
    ]
    assert chat(client, logprobs=True, top_logprobs=50).status_code == 400


def test_api_key_is_required_when_set():
    with (
        Simulator(api_key="sk-test").start() as guarded,
        httpx.Client(base_url=guarded.base_url) as client,
    ):
        for headers in ({}, {"authorization": "Bearer wrong"}):
            response = client.post("/chat/completions", json={"messages": HI}, headers=headers)
            assert response.status_code == 401 and response.json() == {"error": "Unauthorized"}
        assert client.get("/models").status_code == 401
        ok = client.post(
            "/chat/completions", json={"messages": HI}, headers={"authorization": "Bearer sk-test"}
        )
        assert ok.status_code == 200
        assert [r.status for r in guarded.requests] == [401, 401, 200]


@pytest.mark.parametrize("streaming", [False, True])
@pytest.mark.parametrize(
    ("status", "error_type"), [(503, "ServiceUnavailableError"), (500, "InternalServerError")]
)
def test_status_hook_fails_with_vllms_error_json(client, streaming, status, error_type):
    response = chat(
        client,
        stream=streaming,
        messages=[{"role": "user", "content": f"Hi [[sim:status={status}]]"}],
    )
    assert response.status_code == status
    error = response.json()["error"]
    assert error["type"] == error_type and error["code"] == status
    assert error["message"] == f"The simulator was asked to fail with {status}"


def test_stream_error_hook_sends_an_error_event_after_some_text(client, sim):
    events = stream(client, messages=[{"role": "user", "content": "Hi [[sim:stream-error]]"}])
    assert 1 <= len(deltas(events, "content")) - 1 <= 3
    assert (
        events[-2]["error"]["code"] == 500 and events[-2]["error"]["type"] == "InternalServerError"
    )
    assert events[-1] == "[DONE]" and finishes(events) == {}
    assert sim.requests[-1].status == 200


def test_no_done_hook_ends_without_finish_or_done(client):
    events = stream(client, messages=[{"role": "user", "content": "Hi [[sim:no-done]]"}])
    assert content_of(events) and finishes(events) == {} and "[DONE]" not in events


def test_think_tags_hook_puts_split_markers_in_the_content(client):
    events = stream(
        client, model=MAGISTRAL, messages=[{"role": "user", "content": "Hi [[sim:think-tags]]"}]
    )
    pieces = deltas(events, "content")[1:]
    assert pieces[:2] == ["[TH", "INK]"] and "[/TH" in pieces
    assert pieces[pieces.index("[/TH") + 1] == "INK]"
    assert deltas(events, "reasoning") == []
    body = chat(
        client, model=MAGISTRAL, messages=[{"role": "user", "content": "Hi [[sim:think-tags]]"}]
    ).json()
    content = body["choices"][0]["message"]["content"]
    assert content.startswith("[THINK]Okay, the user") and "[/THINK]" in content
    assert body["choices"][0]["message"]["reasoning"] is None
    assert body["usage"]["completion_tokens_details"] is None


def test_keepalive_hook_interleaves_comment_lines(client):
    events = stream(client, messages=[{"role": "user", "content": "Hi [[sim:keepalive]]"}])
    assert events[0] == ": keep-alive" and events.count(": keep-alive") > 10
    assert events[-1] == "[DONE]" and content_of(events)


def test_long_hook_answers_about_two_thousand_tokens(client):
    usage = chat(client, messages=[{"role": "user", "content": "Go [[sim:long]]"}]).json()["usage"]
    assert 1900 <= usage["completion_tokens"] <= 2200


def test_tokens_hook_sends_exactly_that_many_content_tokens(client):
    events = stream(
        client,
        messages=[{"role": "user", "content": "Go [[sim:tokens=17]]"}],
        stream_options={"include_usage": True},
    )
    assert len(deltas(events, "content")) - 1 == 17
    assert events[-2]["usage"]["completion_tokens"] == 18  # and the end-of-sequence token


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
    messages = [*WEATHER_AND_TIME, _calls("aB3dE5gH7"), _result("aB3dE5gH7", "18 °C, sunny")]
    choice = chat(client, tools=[WEATHER_TOOL], messages=messages).json()["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["content"].startswith("According to get_weather: 18 °C, sunny.")
    # required keeps forcing a call, even right after the results, as vLLM's grammar does.
    forced = chat(client, tools=[WEATHER_TOOL], tool_choice="required", messages=messages)
    assert called(forced)


def test_rate_hook_and_setting_pace_the_chunks(client, sim):
    started = time.monotonic()
    stream(client, messages=[{"role": "user", "content": "Go [[sim:tokens=4]] [[sim:rate=20]]"}])
    assert time.monotonic() - started >= 0.25  # 4 tokens and the finish chunk at 20 per second
    sim.first_token_delay = 0.3
    started = time.monotonic()
    stream(client, messages=[{"role": "user", "content": "Go [[sim:tokens=2]]"}])
    assert time.monotonic() - started >= 0.3


def test_disconnect_is_seen_quickly_when_the_client_goes_away_mid_stream(client, sim):
    sim.chunks_per_second = 2  # half a second between chunks
    with client.stream(
        "POST", "/chat/completions", json={"messages": HI, "stream": True}
    ) as response:
        lines = response.iter_lines()
        assert next(lines).startswith("data: ")
        closed_at = time.monotonic()
    record = sim.wait_for(lambda r: r.disconnected, timeout=2)
    assert time.monotonic() - closed_at < 0.5
    assert not record.completed and record.status == 200 and record.chunks_sent < 5


def test_request_log_can_be_read_and_cleared_over_http(client, sim):
    chat(client, seed=9)
    with httpx.Client(base_url=sim.base_url.removesuffix("/v1")) as admin:
        log = admin.get("/_simulator/requests").json()
        assert len(log) == 1
        assert log[0]["body"]["seed"] == 9 and log[0]["path"] == "/v1/chat/completions"
        assert log[0]["status"] == 200 and log[0]["completed"] and not log[0]["disconnected"]
        assert log[0]["headers"]["content-type"] == "application/json"
        assert admin.delete("/_simulator/requests").status_code == 204
        assert admin.get("/_simulator/requests").json() == [] and sim.requests == []
        assert (
            admin.post("/_simulator/config", json={"chunks_per_second": 7}).json()[
                "chunks_per_second"
            ]
            == 7
        )
    assert sim.chunks_per_second == 7


def test_the_log_counts_chunks_and_wait_for_times_out(client, sim):
    events = stream(client)
    assert sim.requests[-1].chunks_sent == len(events) - 1  # every data event but [DONE]
    with pytest.raises(TimeoutError):
        sim.wait_for(lambda r: r.disconnected, timeout=0.05)


def test_connection_is_kept_alive_across_answers(sim):
    host, port = sim.base_url.removeprefix("http://").removesuffix("/v1").split(":")
    body = json.dumps({"messages": HI, "stream": True}).encode()
    request = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    request += b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        for _ in range(2):
            conn.sendall(request)
            received = b""
            while not received.endswith(b"\r\n0\r\n\r\n"):
                received += conn.recv(65536)
            assert b"transfer-encoding: chunked" in received.lower()
            assert b"data: [DONE]\n\n" in received
        conn.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n")
        assert conn.recv(65536).startswith(b"HTTP/1.1 200")


def test_status_hook_401_answers_like_vllms_auth_middleware(client):
    response = chat(client, messages=[{"role": "user", "content": "Hi [[sim:status=401]]"}])
    assert response.status_code == 401 and response.json() == {"error": "Unauthorized"}


def test_a_slow_answer_without_streaming_notices_the_client_giving_up(client, sim):
    sim.chunks_per_second = 5  # a 60-token answer takes about 12 seconds
    with pytest.raises(httpx.ReadTimeout):
        client.post("/chat/completions", json={"messages": HI}, timeout=0.2)
    gave_up_at = time.monotonic()
    record = sim.wait_for(lambda r: r.disconnected, timeout=2)
    assert time.monotonic() - gave_up_at < 0.5 and record.status == 0


def test_full_speed_streams_well_over_five_thousand_chunks_a_second(sim):
    host, port = sim.base_url.removeprefix("http://").removesuffix("/v1").split(":")
    prompt = [{"role": "user", "content": "Go [[sim:tokens=10000]]"}]
    body = json.dumps({"messages": prompt, "stream": True}).encode()
    request = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    request += b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        started = time.perf_counter()
        conn.sendall(request)
        received = bytearray()
        while not received.endswith(b"\r\n0\r\n\r\n"):
            received += conn.recv(1 << 20)
        elapsed = time.perf_counter() - started
    assert received.count(b"data: ") == 10003  # role, 10,000 tokens, finish, [DONE]
    assert 10000 / elapsed > 5000


# --- What the request options do (the options panel's controls all have a visible effect) ------


def test_structured_regex_answers_text_the_pattern_matches(client):
    for pattern in [r"\d{3}-\d{4}", "(yes|no|maybe)", "[A-Z][a-z]{2,5}!"]:
        body = chat(client, model=SMALL, structured_outputs={"regex": pattern}).json()
        assert re.fullmatch(pattern, body["choices"][0]["message"]["content"]), pattern


def test_ignore_eos_writes_until_max_tokens(client):
    body = chat(client, model=SMALL, ignore_eos=True, max_tokens=300).json()
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 300


def test_min_tokens_holds_the_end_and_stop_texts_back(client):
    short = chat(client, model=SMALL, messages=[{"role": "user", "content": "Hi [[sim:tokens=5]]"}])
    assert short.json()["usage"]["completion_tokens"] == 6
    held = chat(
        client,
        model=SMALL,
        min_tokens=40,
        stop=["."],
        messages=[{"role": "user", "content": "Hi [[sim:tokens=5]]"}],
    ).json()
    assert held["usage"]["completion_tokens"] >= 40
    assert held["choices"][0]["stop_reason"] == "."


def test_bad_words_never_appear_in_the_answer(client):
    free = chat(client, model=SMALL, seed=3).json()["choices"][0]["message"]["content"]
    assert "tides" in free
    banned = chat(client, model=SMALL, seed=3, bad_words=["tides"]).json()
    assert "tides" not in banned["choices"][0]["message"]["content"]


MORE_REJECTED = [
    ({"response_format": {"type": "json_object"}, "structured_outputs": {"regex": "a+"}},
     "response_format", "only use one kind of structured outputs constraint"),
    ({"logprob_token_ids": [1, 2]}, "logprob_token_ids", "requires `logprobs` to be true"),
    ({"repetition_detection": {"max_pattern_size": 4, "min_count": 1}}, "repetition_detection",
     "min_count must be at least 2"),
    ({"cache_salt": "a/b"}, "cache_salt", "Parameter 'cache_salt' must be"),
    ({"bad_words": ["ok", ""]}, "bad_words", "bad_words cannot contain an empty string."),
    ({"continue_final_message": True, "add_generation_prompt": False}, None,
     "Expected last role Assistant for continue_final_message, but got user"),
]  # fmt: skip


@pytest.mark.parametrize(("fields", "param", "message"), MORE_REJECTED)
def test_more_of_vllms_rejections(client, fields, param, message):
    response = chat(client, model=SMALL, **fields)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == param and message in error["message"]


def test_a_response_format_of_the_same_kind_as_structured_outputs_is_fine(client):
    response = chat(
        client,
        model=SMALL,
        response_format={"type": "json_object"},
        structured_outputs={"json_object": True},
    )
    assert response.status_code == 200
    json.loads(response.json()["choices"][0]["message"]["content"])


def grammar_answer(client: httpx.Client, grammar: str, **extra) -> str:
    body = chat(client, structured_outputs={"grammar": grammar}, **extra).json()
    return body["choices"][0]["message"]["content"]


@pytest.mark.parametrize(
    "grammar",
    [
        'root ::= "yes" | "no" | "maybe"',  # xgrammar's EBNF (GBNF)
        "# one word\nroot ::= answer\nanswer ::= 'yes' | 'no' | 'maybe'",
        'start: "yes" | "no"\n     | "maybe"',  # Lark
    ],
)
def test_a_grammar_of_literal_choices_answers_one_of_them(client, grammar):
    answers = {grammar_answer(client, grammar) for _ in range(12)}
    assert answers <= {"yes", "no", "maybe"} and len(answers) > 1


def test_a_grammar_of_a_simple_sequence_answers_text_it_accepts(client):
    ebnf = 'root ::= greeting " " name "!"\ngreeting ::= "hello" | "hi"\nname ::= [A-Z] [a-z]{2,5}'
    assert re.fullmatch(r"(hello|hi) [A-Z][a-z]{2,5}!", grammar_answer(client, ebnf))
    lark = 'start: "on" SEP NUMBER\nSEP: ":"\n%import common.NUMBER'
    assert re.fullmatch(r"on:\d+(\.\d+)?", grammar_answer(client, lark))
    recursive = 'root ::= list\nlist ::= "[" (item ("," item)*)? "]"\nitem ::= list | [0-9]'
    text = grammar_answer(client, recursive)
    assert re.fullmatch(r"[\[\],0-9]+", text) and text.count("[") == text.count("]")
    events = stream(client, seed=2, structured_outputs={"grammar": ebnf})
    assert content_of(events) == grammar_answer(client, ebnf, seed=2)


@pytest.mark.parametrize(
    ("grammar", "why"),
    [
        ('start: %json {"type": "object"}', "it uses syntax it does not know at `%json"),
        ('root ::= "a" (= "b")', "it uses syntax it does not know at `="),
        ("root ::= value", "the rule `value` is not defined"),
        ('expr ::= "x"', "it has no `root` rule"),
    ],
)
def test_a_grammar_the_simulator_cannot_follow_is_answered_with_a_sentence_saying_so(
    client, grammar, why
):
    content = grammar_answer(client, grammar)
    assert content.startswith("The simulator cannot follow this grammar: ")
    assert why in content and content.endswith(".")
