"""vLLM's request checks: what it accepts, and each rejection with its status and error JSON."""

from __future__ import annotations

import json

import pytest

from simulator import MODELS
from tests.simulator.helpers import (
    HI,
    SMALL,
    WEATHER_TOOL,
    assistant_calls,
    chat,
    stream,
    tool_result,
)


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
    ({"messages": [*HI, assistant_calls("call_1"), tool_result("call_1")]}, "BadRequestError", None,
     "Tool call id was call_1 but must be a-z, A-Z, 0-9, with a length of 9."),
    ({"messages": [*HI, assistant_calls("chatcmpl-tool-0123456789abcdef"),
                   tool_result("0123456789abcdef")]}, None, None, None),
    ({"messages": [*HI, tool_result("aB3dE5gH7")]}, "BadRequestError", None,
     "Unexpected role 'tool' after role 'user'"),
    ({"messages": [*HI, assistant_calls("aB3dE5gH7"), tool_result("zzzzzzzz9")]}, "BadRequestError",
     None, "Unexpected tool call id zzzzzzzz9 in tool results"),
    ({"messages": [*HI, assistant_calls("aB3dE5gH7"), {"role": "assistant", "content": "Hm"}, *HI]},
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
