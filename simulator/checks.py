"""vLLM's request checks: the body, its fields, the messages and the sampling parameters."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from simulator.catalog import MAX_N, MAX_STOP_STRINGS, MODELS, SAMPLING_EPS
from simulator.errors import (
    ApiError,
    Repr,
    field_error,
    serving_error,
    validation_error,
    validator_error,
)

# plan.plan_answer makes these checks in the order vLLM makes them: the request model's
# "before" validators (the last defined runs first), its field types, the model name, the Mistral
# tokenizer's rendering, the output length, then SamplingParams.

_ROLES = {"system", "developer", "user", "assistant", "tool"}
_REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")


def parse_body(content_type: str, raw: bytes) -> dict[str, Any]:
    media_type = content_type.split(";", 1)[0].strip().lower()
    # FastAPI decodes the body as JSON when the type is missing or any JSON type; vLLM's
    # dependency then accepts exactly application/json.
    decodes = not media_type or media_type.endswith(("/json", "+json"))
    body: Any = None
    if decodes and raw:
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            pos = getattr(exc, "pos", 0)
            reason = getattr(exc, "msg", "Invalid JSON")
            error = field_error(
                "json_invalid", f"body.{pos}", "JSON decode error", {}, error=reason
            )
            raise validation_error([error]) from None
    if media_type != "application/json":
        raise validation_error(["Unsupported Media Type: Only 'application/json' is allowed"])
    if body is None:
        raise validation_error([field_error("missing", "body", "Field required", None)])
    if not isinstance(body, dict):
        msg = "Input should be a valid dictionary or object to extract fields from"
        raise validation_error([field_error("model_attributes_type", "body", msg, body)])
    return body


def served_model(body: dict[str, Any]) -> str:
    """The model asked for (the first one served when none is named), or vLLM's 404."""
    model = body.get("model")
    if model is None:
        return MODELS[0]
    if model not in MODELS:
        raise ApiError(404, f"The model `{model}` does not exist.", "NotFoundError", "model")
    return model


def check_request_model(body: dict[str, Any]) -> None:
    if body.get("continue_final_message") and body.get("add_generation_prompt"):
        raise validator_error(
            body, "Cannot set both `continue_final_message` and `add_generation_prompt` to True."
        )
    _check_tool_usage(body)
    structured = body.get("structured_outputs")
    constraints = ("json", "regex", "choice")
    if isinstance(structured, dict) and sum(structured.get(k) is not None for k in constraints) > 1:
        raise validator_error(
            body,
            "You can only use one kind of constraints for structured outputs "
            "('json', 'regex' or 'choice').",
        )
    _check_logprobs(body)
    _check_constraint_kinds(body)
    _check_serving_extras(body)
    if body.get("stream_options") and not body.get("stream"):
        raise validator_error(
            body, "Stream options can only be defined when `stream=True`.", "stream_options"
        )
    response_format = body.get("response_format")
    if (
        isinstance(response_format, dict)
        and response_format.get("type") == "json_schema"
        and response_format.get("json_schema") is None
    ):
        raise validator_error(
            body,
            "When response_format type is 'json_schema', the 'json_schema' field must be provided.",
            "response_format",
        )


def _check_tool_usage(body: dict[str, Any]) -> None:
    if body.get("tools") == []:
        raise validator_error(
            body,
            "`tools` must not be an empty array. "
            "Either provide at least one tool or omit the field entirely.",
            "tools",
        )
    if "tool_choice" not in body and body.get("tools"):
        body["tool_choice"] = "auto"
    choice = body.get("tool_choice")
    if choice is None or choice == "none":
        return
    if body.get("tools") is None:
        raise validator_error(body, "When using `tool_choice`, `tools` must be set.", "tool_choice")
    if choice not in ("auto", "required") and not isinstance(choice, dict):
        raise validator_error(
            body,
            f"Invalid value for `tool_choice`: {choice}! "
            'Only named tools, "none", "auto" or "required" are supported.',
            "tool_choice",
        )
    if not isinstance(choice, dict):
        return
    usage = 'Correct usage: `{"type": "function", "function": {"name": "my_function"}}`'
    function = choice.get("function")
    if not isinstance(function, dict):
        raise validator_error(
            body,
            f"Invalid value for `function`: `{function}` in `tool_choice`! {usage}",
            "tool_choice.function",
        )
    if "name" not in function:
        raise validator_error(
            body,
            f"Expected field `name` in `function` in `tool_choice`! {usage}",
            "tool_choice.function.name",
        )
    name = function["name"]
    if not isinstance(name, str) or not name:
        raise validator_error(
            body,
            f"Invalid `name` in `function`: `{name}` in `tool_choice`! {usage}",
            "tool_choice.function.name",
        )
    if name not in _tool_names(body):
        raise validator_error(
            body,
            "The tool specified in `tool_choice` does not match any of the specified `tools`",
            "tool_choice",
        )


def _tool_names(body: dict[str, Any]) -> list[str]:
    names = []
    for tool in body.get("tools") or []:
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            names.append(function["name"])
    return names


def _check_logprobs(body: dict[str, Any]) -> None:
    for name in ("prompt_logprobs", "top_logprobs"):
        value = body.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise validator_error(body, f"`{name}` must be an integer.", name, value)
    prompt_logprobs = body.get("prompt_logprobs")
    if prompt_logprobs is not None:
        if body.get("stream") and (prompt_logprobs > 0 or prompt_logprobs == -1):
            raise validator_error(
                body, "`prompt_logprobs` are not available when `stream=True`.", "prompt_logprobs"
            )
        if prompt_logprobs < 0 and prompt_logprobs != -1:
            raise validator_error(
                body,
                "`prompt_logprobs` must be a positive value or -1.",
                "prompt_logprobs",
                prompt_logprobs,
            )
    top_logprobs = body.get("top_logprobs")
    if top_logprobs is not None:
        if top_logprobs < 0 and top_logprobs != -1:
            raise validator_error(
                body, "`top_logprobs` must be a positive value or -1.", "top_logprobs", top_logprobs
            )
        if (top_logprobs == -1 or top_logprobs > 0) and not body.get("logprobs"):
            raise validator_error(
                body, "when using `top_logprobs`, `logprobs` must be set to true.", "top_logprobs"
            )


# response_format types and the structured_outputs kind each becomes.
_FORMAT_KINDS = {
    "json_object": "json_object",
    "json_schema": "json",
    "structural_tag": "structural_tag",
}
_STRUCTURED_KINDS = ("json", "regex", "choice", "grammar", "json_object", "structural_tag")


def _check_constraint_kinds(body: dict[str, Any]) -> None:
    """A response_format overrides structured_outputs of its own kind; another kind is a 400."""
    response_format = body.get("response_format")
    structured = body.get("structured_outputs")
    if not isinstance(response_format, dict) or not isinstance(structured, dict):
        return
    kind = _FORMAT_KINDS.get(response_format.get("type"))
    others = [k for k in _STRUCTURED_KINDS if structured.get(k) is not None and k != kind]
    if kind is not None and others:
        raise validator_error(
            body,
            "You can only use one kind of structured outputs constraint but multiple are "
            f"specified: response_format {response_format.get('type')} and {others[0]}.",
            "response_format",
        )


def _check_serving_extras(body: dict[str, Any]) -> None:
    if body.get("logprob_token_ids") and not body.get("logprobs"):
        raise validator_error(
            body, "`logprob_token_ids` requires `logprobs` to be true.", "logprob_token_ids"
        )
    detection = body.get("repetition_detection")
    if isinstance(detection, dict):
        largest = detection.get("max_pattern_size") or 0
        smallest = detection.get("min_pattern_size") or 0
        if smallest > largest:
            raise validator_error(
                body,
                "min_pattern_size must be less than or equal to max_pattern_size.",
                "repetition_detection",
            )
        if largest > 0 and (detection.get("min_count") or 0) < 2:
            raise validator_error(body, "min_count must be at least 2.", "repetition_detection")
    salt = body.get("cache_salt")
    if salt is not None and (
        not isinstance(salt, str) or not salt or len(salt) > 128 or any(c in salt for c in "@/\\\0")
    ):
        raise validator_error(
            body,
            "Parameter 'cache_salt' must be a non-empty string of at most 128 characters "
            "without '@', '/', '\\' or NUL.",
            "cache_salt",
        )
    if any(not word for word in body.get("bad_words") or []):
        raise validator_error(body, "bad_words cannot contain an empty string.", "bad_words")


_FLOAT_FIELDS = (
    "temperature",
    "top_p",
    "presence_penalty",
    "frequency_penalty",
    "repetition_penalty",
    "min_p",
)
_INT_FIELDS = (
    "n",
    "max_tokens",
    "max_completion_tokens",
    "min_tokens",
    "top_k",
    "seed",
    "thinking_token_budget",
)


def check_fields(body: dict[str, Any]) -> dict[str, Any]:
    """Coerce the typed fields as pydantic would; raise every field error at once."""
    errors: list[dict[str, Any]] = []
    values: dict[str, Any] = {}
    for name in _FLOAT_FIELDS:
        values[name] = _coerce(body, name, errors, integer=False)
    for name in _INT_FIELDS:
        values[name] = _coerce(body, name, errors, integer=True)

    model = body.get("model")
    if model is not None and not isinstance(model, str):
        errors.append(
            field_error("string_type", "body.model", "Input should be a valid string", model)
        )
    if "messages" not in body:
        errors.append(field_error("missing", "body.messages", "Field required", body))
    elif not isinstance(body["messages"], list):
        errors.append(
            field_error(
                "list_type", "body.messages", "Input should be a valid list", body["messages"]
            )
        )

    stop = body.get("stop")
    if stop is None:
        values["stop"] = []
    elif isinstance(stop, str):
        values["stop"] = [stop]
    elif isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        if len(stop) > MAX_STOP_STRINGS:
            errors.append(
                field_error(
                    "too_long",
                    "body.stop",
                    f"List should have at most {MAX_STOP_STRINGS} items after validation, "
                    f"not {len(stop)}",
                    stop,
                    field_type="List",
                    max_length=MAX_STOP_STRINGS,
                    actual_length=len(stop),
                )
            )
        values["stop"] = stop
    else:
        errors.append(
            field_error("string_type", "body.stop", "Input should be a valid string", stop)
        )

    effort = body.get("reasoning_effort")
    if effort is not None and effort not in _REASONING_EFFORTS:
        expected = ", ".join(repr(e) for e in _REASONING_EFFORTS[:-1]) + " or 'max'"
        errors.append(
            field_error(
                "literal_error",
                "body.reasoning_effort",
                f"Input should be {expected}",
                effort,
                expected=expected,
            )
        )

    structured = body.get("structured_outputs")
    if isinstance(structured, dict):
        kinds = ("json", "regex", "choice", "grammar", "json_object", "structural_tag")
        count = sum(structured.get(k) is not None for k in kinds)
        if count != 1:
            state = {
                "json": structured.get("json"),
                "regex": structured.get("regex"),
                "choice": structured.get("choice"),
                "grammar": structured.get("grammar"),
                "json_object": structured.get("json_object"),
                "disable_any_whitespace": structured.get("disable_any_whitespace", False),
                "disable_additional_properties": structured.get(
                    "disable_additional_properties", False
                ),
                "whitespace_pattern": structured.get("whitespace_pattern"),
                "structural_tag": structured.get("structural_tag"),
                "_backend": None,
                "_backend_was_auto": False,
            }
            problem = "multiple are specified" if count > 1 else "none are specified"
            verb = "can only" if count > 1 else "must"
            errors.append(
                field_error(
                    "value_error",
                    "body.structured_outputs",
                    f"Value error, You {verb} use one kind of structured outputs constraint "
                    f"but {problem}: {state}",
                    structured,
                    error=Repr("VLLMValidationError(…)"),
                )
            )
    if errors:
        raise validation_error(errors)
    return values


def _coerce(body: dict[str, Any], name: str, errors: list, *, integer: bool) -> Any:
    value = body.get(name)
    if value is None:
        return None
    loc = f"body.{name}"
    if isinstance(value, bool | int | float):
        if not integer:
            return float(value)
        if isinstance(value, float) and not value.is_integer():
            errors.append(
                field_error(
                    "int_from_float",
                    loc,
                    "Input should be a valid integer, got a number with a fractional part",
                    value,
                )
            )
            return None
        return int(value)
    if isinstance(value, str):
        try:
            return int(value) if integer else float(value)
        except ValueError:
            kind = "int_parsing" if integer else "float_parsing"
            what = "an integer" if integer else "a number"
            msg = f"Input should be a valid {'integer' if integer else 'number'}, "
            errors.append(field_error(kind, loc, f"{msg}unable to parse string as {what}", value))
            return None
    kind, what = ("int_type", "integer") if integer else ("float_type", "number")
    errors.append(field_error(kind, loc, f"Input should be a valid {what}", value))
    return None


def check_rendering(body: dict[str, Any], messages: list[Any]) -> None:
    """What vLLM's Mistral tokenizer refuses while turning the messages into a prompt."""
    if body.get("chat_template") is not None or body.get("chat_template_kwargs") is not None:
        raise serving_error(
            "chat_template is not supported for Mistral tokenizers.", "chat_template"
        )
    effort = body.get("reasoning_effort")
    if effort is not None and effort not in ("none", "high"):
        raise serving_error(f"'{effort}' is not a valid ReasoningEffort")
    if not messages:
        raise serving_error("Conversation must have at least one message")
    for message in messages:
        role = message.get("role") if isinstance(message, dict) else None
        if role not in _ROLES:
            raise serving_error(f"Unknown message role: {role}")
    _check_tool_turns(messages)
    add_generation_prompt = body.get("add_generation_prompt", True)
    if add_generation_prompt and body.get("continue_final_message"):
        raise serving_error(
            "Cannot set both `add_generation_prompt` and `continue_final_message` to True."
        )
    if body.get("continue_final_message") and messages[-1]["role"] != "assistant":
        raise serving_error(
            "Expected last role Assistant for continue_final_message, "
            f"but got {messages[-1]['role']}"
        )
    if add_generation_prompt and messages[-1]["role"] == "assistant":
        raise serving_error(
            "Expected last role User or Tool (or Assistant with prefix True) for serving "
            "but got assistant"
        )


_MISTRAL_TOOL_ID = re.compile(r"[a-zA-Z0-9]{9}")


def _mistral_tool_id(value: Any) -> str:
    """vLLM cuts an id longer than 9 characters to its last 9 before mistral-common sees it."""
    text = str(value)
    return text[-9:] if len(text) > 9 else text


def _check_tool_turns(messages: list[Any]) -> None:
    """mistral-common's checks of tool calls and their results (v13 validator), as 400s."""
    previous = None
    expected: set[str] = set()
    observed: set[str] = set()
    for message in messages:
        role = message["role"]
        if role == "assistant":
            if len(expected) != len(observed):
                raise serving_error("Not the same number of function calls and responses")
            expected, observed = set(), set()
            for call in message.get("tool_calls") or []:
                call_id = _mistral_tool_id(call.get("id") if isinstance(call, dict) else None)
                if not _MISTRAL_TOOL_ID.fullmatch(call_id):
                    raise serving_error(
                        f"Tool call id was {call_id} but must be a-z, A-Z, 0-9, with a length of 9."
                    )
                if call_id in expected:
                    raise serving_error(f"Duplicate tool call id {call_id} in assistant message")
                expected.add(call_id)
        elif role == "tool":
            if previous not in ("assistant", "tool"):
                raise serving_error(f"Unexpected role 'tool' after role '{previous}'")
            call_id = _mistral_tool_id(message.get("tool_call_id"))
            if not _MISTRAL_TOOL_ID.fullmatch(call_id):
                raise serving_error(
                    f"Tool call id was {call_id} but must be a-z, A-Z, 0-9, with a length of 9."
                )
            if call_id in observed:
                raise serving_error(f"Duplicate tool call id {call_id} in tool results")
            if call_id not in expected:
                raise serving_error(f"Unexpected tool call id {call_id} in tool results")
            observed.add(call_id)
        previous = role


def check_sampling(values: dict[str, Any], max_tokens: int | None) -> None:
    """SamplingParams._verify_args, in its order."""
    n = 1 if values["n"] is None else values["n"]
    if n < 1:
        raise serving_error(f"n must be at least 1, got {n}.")
    if n > MAX_N:
        raise serving_error(
            f"n must be at most {MAX_N}, got {n}. To increase this limit, "
            "set the VLLM_MAX_N_SEQUENCES environment variable."
        )
    for name in ("presence_penalty", "frequency_penalty"):
        value = 0.0 if values[name] is None else values[name]
        if not -2.0 <= value <= 2.0:
            raise serving_error(f"{name} must be in [-2, 2], got {value}.")
    repetition = 1.0 if values["repetition_penalty"] is None else values["repetition_penalty"]
    if not math.isfinite(repetition):
        raise serving_error(f"repetition_penalty must be a finite number, got {repetition}.")
    if repetition <= 0.0:
        raise serving_error(f"repetition_penalty must be greater than zero, got {repetition}.")
    temperature = 1.0 if values["temperature"] is None else values["temperature"]
    if not math.isfinite(temperature):
        raise serving_error(
            f"temperature must be a finite number, got {temperature}.", "temperature", temperature
        )
    if temperature < 0.0:
        raise serving_error(
            f"temperature must be non-negative, got {temperature}.", "temperature", temperature
        )
    if temperature > 2.0:
        raise serving_error(
            f"temperature must be in [0, 2], got {temperature}.", "temperature", temperature
        )
    top_p = 1.0 if values["top_p"] is None else values["top_p"]
    if not 0.0 < top_p <= 1.0:
        raise serving_error(f"top_p must be in (0, 1], got {top_p}.", "top_p", top_p)
    top_k = 0 if values["top_k"] is None else values["top_k"]
    if top_k < -1:
        raise serving_error(f"top_k must be 0 (disable), or at least 1, got {top_k}.")
    min_p = 0.0 if values["min_p"] is None else values["min_p"]
    if not 0.0 <= min_p <= 1.0:
        raise serving_error(f"min_p must be in [0, 1], got {min_p}.")
    if max_tokens is not None and max_tokens < 1:
        raise serving_error(
            f"max_tokens must be at least 1, got {max_tokens}.", "max_tokens", max_tokens
        )
    min_tokens = values["min_tokens"] or 0
    if min_tokens < 0:
        raise serving_error(f"min_tokens must be greater than or equal to 0, got {min_tokens}.")
    if max_tokens is not None and min_tokens > max_tokens:
        raise serving_error(
            f"min_tokens must be less than or equal to max_tokens={max_tokens}, got {min_tokens}."
        )
    if any(not s for s in values["stop"]):
        raise serving_error("stop cannot contain an empty string.")
    if temperature < SAMPLING_EPS and n > 1:
        raise serving_error(f"n must be 1 when using greedy sampling, got {n}.")
