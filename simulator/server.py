"""Offline stand-in for vLLM 0.33's OpenAI-compatible server serving Mistral models.

Pure standard library, so tests, management commands and benchmarks can import it anywhere::

    sim = Simulator(chunks_per_second=50).start()      # port 0 = a free loopback port
    httpx.post(f"{sim.base_url}/chat/completions", json={"messages": [...], "stream": True})
    sim.wait_for(lambda r: r.completed)
    sim.stop()

What it does like vLLM: ``GET /v1/models``; ``POST /v1/chat/completions`` with vLLM's
request checks, status codes and error JSON; non-streaming bodies with vLLM's null fields;
SSE chunks in vLLM's exact shapes (role chunk, deltas, per-choice finish chunk with
``stop_reason``, optional usage chunk with empty ``choices``, ``data: [DONE]``);
``delta.reasoning`` / ``message.reasoning`` for the reasoning models; ``--api-key`` auth.
Answers are pseudo-text built from a word list and the words of the last user message. As in
vLLM, the same model, messages and ``seed`` give the same answer, a different seed a different
one, no seed a new one each time, and temperature 0 (greedy) always the same one. Hooks that fix
a length (``[[sim:tokens=N]]``) fix it whatever the seed. ``completion_tokens`` counts the
end-of-sequence token when the model stops by itself, as vLLM does (an answer of N pieces that
ends naturally reports N + 1).
A ``structured_outputs.grammar`` (xgrammar's EBNF or Lark) made of literals, character classes,
groups, alternatives, repeats and rule references is followed; any other is answered with a
sentence saying the simulator cannot follow it.

Every chat request is recorded (``Simulator.requests``); another process can read the log
with ``GET /_simulator/requests``, clear it with ``DELETE /_simulator/requests``, and change
the pacing with ``POST /_simulator/config {"chunks_per_second": 20, "first_token_delay": 0.5}``.

Test hooks: put a marker in the text of the LAST user message (several may be combined).

``[[sim:status=503]]``
    Answer that HTTP status with vLLM's error JSON (503 ServiceUnavailableError,
    500 InternalServerError, 400 BadRequestError, 404 NotFoundError, ...).
``[[sim:stream-error]]``
    Stream a few chunks, then vLLM's in-stream error event
    ``data: {"error": {..., "code": 500}}`` and ``[DONE]``, all with HTTP 200.
``[[sim:no-done]]``
    Stream the text, then end the response without a finish chunk and without ``[DONE]``.
``[[sim:think-tags]]``
    Act like a server without a reasoning parser serving Magistral: the thinking comes inside
    ``delta.content`` as ``[THINK]…[/THINK]`` (markers split across chunks: "[TH", "INK]").
``[[sim:keepalive]]``
    Interleave ``: keep-alive`` SSE comment lines between the chunks.
``[[sim:long]]``
    A long answer of about 2,000 tokens.
``[[sim:tokens=N]]``
    Exactly N content tokens (then an end-of-sequence token, unless max tokens cut it short).
``[[sim:tool-call]]``
    With ``tools`` and ``tool_choice`` auto, call the first tool. ``required`` or a named
    ``tool_choice`` always call a tool; so does auto when the message plainly asks for one (its
    name, or a telling word of it: "weather" for get_current_weather), each tool asked for
    unless ``parallel_tool_calls`` is false. Right after tool results, auto answers in words
    that quote them.
``[[sim:rate=N]]`` / ``[[sim:first-token-delay=S]]``
    Pace this request only (chunks per second, seconds before the first token).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import re
import select
import socket
import string
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# The standard library's own regular expression parser, to write text a pattern accepts.
try:
    from re import _parser as _sre_parser  # Python 3.11+
except ImportError:  # pragma: no cover
    import sre_parse as _sre_parser  # type: ignore[no-redef]

MODELS = [
    "mistralai/Mistral-Small-3.2-24B-Instruct-2506",
    "mistralai/Magistral-Small-2506",
    "mistralai/Ministral-3-14B-Reasoning-2512",
    "mistralai/Mistral-7B-Instruct-v0.3",
    "mistralai/Mistral-Large-Instruct-2411",
]
REASONING_MODELS = [
    "mistralai/Magistral-Small-2506",
    "mistralai/Ministral-3-14B-Reasoning-2512",
]
MAX_MODEL_LEN = 32768
SYSTEM_FINGERPRINT = "vllm-0.33.0-4ba787ec"

# Limits vLLM applies by default (envs.py, --max-logprobs).
_MAX_LOGPROBS = 20
_MAX_STOP_STRINGS = 4
_MAX_N = 16384
_SAMPLING_EPS = 1e-5  # below this temperature vLLM samples greedily
_ROLES = {"system", "developer", "user", "assistant", "tool"}
_REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
_ERROR_TYPES = {
    400: "BadRequestError",
    404: "NotFoundError",
    422: "UnprocessableEntityError",
    500: "InternalServerError",
    501: "NotImplementedError",
    503: "ServiceUnavailableError",
}
_HOOK = re.compile(r"\[\[sim:([a-z-]+)(?:=([^\]]*))?\]\]")
_DISCONNECTS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


class _ClientGone(Exception):
    """The client closed its connection while the simulator was waiting to write."""


@dataclass
class RecordedRequest:
    """One request to /v1/chat/completions and what the simulator did with it."""

    path: str
    headers: dict[str, str]
    body: Any
    status: int = 0
    chunks_sent: int = 0
    completed: bool = False
    disconnected: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Simulator:
    """A vLLM look-alike on a loopback port, served from a daemon thread."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        chunks_per_second: float = 0.0,
        first_token_delay: float = 0.0,
        api_key: str = "",
        mistral_api: bool = False,
    ) -> None:
        self.chunks_per_second = chunks_per_second
        # Where Mistral's hosted API differs from vLLM on the wire, speak like it: tool_choice
        # "any", and each streamed tool call whole in one delta (its SDK needs the arguments).
        self.mistral_api = mistral_api
        self.first_token_delay = first_token_delay
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        # The management command turns request logging on; tests keep quiet.
        self.quiet = True
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = False
        server_class = _IPv6Server if ":" in host else _Server
        self._server = server_class((host, port), _Handler)
        self._server.simulator = self

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}/v1"

    def start(self) -> Simulator:
        if self._thread is not None:
            return self
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="vllm-simulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        # Answers still streaming notice this flag and close their connection.
        self._stopping = True
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def serve_forever(self) -> None:
        try:
            self._server.serve_forever(poll_interval=0.2)
        finally:
            self._stopping = True
            self._server.server_close()

    def wait_for(
        self, predicate: Callable[[RecordedRequest], bool], timeout: float = 5.0
    ) -> RecordedRequest:
        """The first recorded request that satisfies `predicate`, polling until `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                snapshot = list(self.requests)
            for record in snapshot:
                if predicate(record):
                    return record
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no recorded request matched within {timeout} s")
            time.sleep(0.01)

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _record(self, record: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(record)

    def _log(self) -> list[dict[str, Any]]:
        with self._lock:
            return [record.to_dict() for record in self.requests]

    def _clear(self) -> None:
        with self._lock:
            self.requests.clear()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The standard library's backlog of 5 resets connections when many clients arrive at once
    # (the benchmark's 50 conversations); vLLM's own server allows 2,048.
    request_queue_size = 128
    simulator: Simulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client closing its idle keep-alive connection is normal, not worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _IPv6Server(_Server):
    address_family = socket.AF_INET6


# ---------------------------------------------------------------------------------------------
# Errors, in vLLM's two shapes: checks in the request model arrive through FastAPI's
# RequestValidationError handler (type "Bad Request", a pydantic-style message), checks made
# while serving go through create_error_response (type "BadRequestError", message with the
# "(parameter=…, value=…)" suffix of VLLMValidationError).
# ---------------------------------------------------------------------------------------------


class _ApiError(Exception):
    def __init__(self, status: int, message: str, err_type: str, param: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.err_type = err_type
        self.param = param

    def payload(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.err_type,
                "param": self.param,
                "code": self.status,
            }
        }


class _Repr:
    """Prints as given inside str(dict), as an exception object does in pydantic's errors."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _with_suffix(message: str, parameter: str | None = None, value: Any = None) -> str:
    extras = []
    if parameter is not None:
        extras.append(f"parameter={parameter}")
    if value is not None:
        extras.append(f"value={value}")
    return f"{message} ({', '.join(extras)})" if extras else message


def _serving_error(message: str, parameter: str | None = None, value: Any = None) -> _ApiError:
    return _ApiError(400, _with_suffix(message, parameter, value), "BadRequestError", parameter)


def _summarize(value: Any) -> Any:
    """vLLM's bounded stand-in for an error's `input`."""
    if isinstance(value, str):
        return value[:200] + "...[truncated]" if len(value) > 200 else value
    if isinstance(value, list | tuple | set | dict):
        return f"<{type(value).__name__} of {len(value)} items>"
    text = str(value)
    return text[:200] + "...[truncated]" if len(text) > 200 else text


def _validation_error(errors: list[Any], param: str | None = None) -> _ApiError:
    if param is None and errors and isinstance(errors[0], dict):
        param = errors[0]["loc"]
    label = "error" if len(errors) == 1 else "errors"
    message = f"{len(errors)} validation {label}:\n" + "".join(f"  {e}\n" for e in errors)
    return _ApiError(400, message.rstrip(), "Bad Request", param)


def _field_error(kind: str, loc: str, msg: str, value: Any, **ctx: Any) -> dict[str, Any]:
    error = {"type": kind, "loc": loc, "msg": msg, "input": _summarize(value)}
    if ctx:
        error["ctx"] = ctx
    return error


def _validator_error(
    body: dict, message: str, parameter: str | None = None, value: Any = None
) -> _ApiError:
    error = {
        "type": "value_error",
        "loc": "body",
        "msg": f"Value error, {_with_suffix(message, parameter, value)}",
        "input": _summarize(body),
        "ctx": {"error": _Repr(f"VLLMValidationError({message!r})")},
    }
    return _validation_error([error], param=parameter)


def _status_error(status: int, message: str) -> _ApiError:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return _ApiError(status, message, _ERROR_TYPES.get(status, phrase), None)


# ---------------------------------------------------------------------------------------------
# Request checks, in the order vLLM makes them: the request model's "before" validators (the
# last defined runs first), its field types, the model name, the Mistral tokenizer's rendering,
# the output length, then SamplingParams.
# ---------------------------------------------------------------------------------------------


def _parse_body(content_type: str, raw: bytes) -> dict[str, Any]:
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
            error = _field_error(
                "json_invalid", f"body.{pos}", "JSON decode error", {}, error=reason
            )
            raise _validation_error([error]) from None
    if media_type != "application/json":
        raise _validation_error(["Unsupported Media Type: Only 'application/json' is allowed"])
    if body is None:
        raise _validation_error([_field_error("missing", "body", "Field required", None)])
    if not isinstance(body, dict):
        msg = "Input should be a valid dictionary or object to extract fields from"
        raise _validation_error([_field_error("model_attributes_type", "body", msg, body)])
    return body


def _check_request_model(body: dict[str, Any]) -> None:
    if body.get("continue_final_message") and body.get("add_generation_prompt"):
        raise _validator_error(
            body, "Cannot set both `continue_final_message` and `add_generation_prompt` to True."
        )
    _check_tool_usage(body)
    structured = body.get("structured_outputs")
    constraints = ("json", "regex", "choice")
    if isinstance(structured, dict) and sum(structured.get(k) is not None for k in constraints) > 1:
        raise _validator_error(
            body,
            "You can only use one kind of constraints for structured outputs "
            "('json', 'regex' or 'choice').",
        )
    _check_logprobs(body)
    _check_constraint_kinds(body)
    _check_serving_extras(body)
    if body.get("stream_options") and not body.get("stream"):
        raise _validator_error(
            body, "Stream options can only be defined when `stream=True`.", "stream_options"
        )
    response_format = body.get("response_format")
    if (
        isinstance(response_format, dict)
        and response_format.get("type") == "json_schema"
        and response_format.get("json_schema") is None
    ):
        raise _validator_error(
            body,
            "When response_format type is 'json_schema', the 'json_schema' field must be provided.",
            "response_format",
        )


def _check_tool_usage(body: dict[str, Any]) -> None:
    if body.get("tools") == []:
        raise _validator_error(
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
        raise _validator_error(
            body, "When using `tool_choice`, `tools` must be set.", "tool_choice"
        )
    if choice not in ("auto", "required") and not isinstance(choice, dict):
        raise _validator_error(
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
        raise _validator_error(
            body,
            f"Invalid value for `function`: `{function}` in `tool_choice`! {usage}",
            "tool_choice.function",
        )
    if "name" not in function:
        raise _validator_error(
            body,
            f"Expected field `name` in `function` in `tool_choice`! {usage}",
            "tool_choice.function.name",
        )
    name = function["name"]
    if not isinstance(name, str) or not name:
        raise _validator_error(
            body,
            f"Invalid `name` in `function`: `{name}` in `tool_choice`! {usage}",
            "tool_choice.function.name",
        )
    if name not in _tool_names(body):
        raise _validator_error(
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
            raise _validator_error(body, f"`{name}` must be an integer.", name, value)
    prompt_logprobs = body.get("prompt_logprobs")
    if prompt_logprobs is not None:
        if body.get("stream") and (prompt_logprobs > 0 or prompt_logprobs == -1):
            raise _validator_error(
                body, "`prompt_logprobs` are not available when `stream=True`.", "prompt_logprobs"
            )
        if prompt_logprobs < 0 and prompt_logprobs != -1:
            raise _validator_error(
                body,
                "`prompt_logprobs` must be a positive value or -1.",
                "prompt_logprobs",
                prompt_logprobs,
            )
    top_logprobs = body.get("top_logprobs")
    if top_logprobs is not None:
        if top_logprobs < 0 and top_logprobs != -1:
            raise _validator_error(
                body, "`top_logprobs` must be a positive value or -1.", "top_logprobs", top_logprobs
            )
        if (top_logprobs == -1 or top_logprobs > 0) and not body.get("logprobs"):
            raise _validator_error(
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
        raise _validator_error(
            body,
            "You can only use one kind of structured outputs constraint but multiple are "
            f"specified: response_format {response_format.get('type')} and {others[0]}.",
            "response_format",
        )


def _check_serving_extras(body: dict[str, Any]) -> None:
    if body.get("logprob_token_ids") and not body.get("logprobs"):
        raise _validator_error(
            body, "`logprob_token_ids` requires `logprobs` to be true.", "logprob_token_ids"
        )
    detection = body.get("repetition_detection")
    if isinstance(detection, dict):
        largest = detection.get("max_pattern_size") or 0
        smallest = detection.get("min_pattern_size") or 0
        if smallest > largest:
            raise _validator_error(
                body,
                "min_pattern_size must be less than or equal to max_pattern_size.",
                "repetition_detection",
            )
        if largest > 0 and (detection.get("min_count") or 0) < 2:
            raise _validator_error(body, "min_count must be at least 2.", "repetition_detection")
    salt = body.get("cache_salt")
    if salt is not None and (
        not isinstance(salt, str) or not salt or len(salt) > 128 or any(c in salt for c in "@/\\\0")
    ):
        raise _validator_error(
            body,
            "Parameter 'cache_salt' must be a non-empty string of at most 128 characters "
            "without '@', '/', '\\' or NUL.",
            "cache_salt",
        )
    if any(not word for word in body.get("bad_words") or []):
        raise _validator_error(body, "bad_words cannot contain an empty string.", "bad_words")


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


def _check_fields(body: dict[str, Any]) -> dict[str, Any]:
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
            _field_error("string_type", "body.model", "Input should be a valid string", model)
        )
    if "messages" not in body:
        errors.append(_field_error("missing", "body.messages", "Field required", body))
    elif not isinstance(body["messages"], list):
        errors.append(
            _field_error(
                "list_type", "body.messages", "Input should be a valid list", body["messages"]
            )
        )

    stop = body.get("stop")
    if stop is None:
        values["stop"] = []
    elif isinstance(stop, str):
        values["stop"] = [stop]
    elif isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        if len(stop) > _MAX_STOP_STRINGS:
            errors.append(
                _field_error(
                    "too_long",
                    "body.stop",
                    f"List should have at most {_MAX_STOP_STRINGS} items after validation, "
                    f"not {len(stop)}",
                    stop,
                    field_type="List",
                    max_length=_MAX_STOP_STRINGS,
                    actual_length=len(stop),
                )
            )
        values["stop"] = stop
    else:
        errors.append(
            _field_error("string_type", "body.stop", "Input should be a valid string", stop)
        )

    effort = body.get("reasoning_effort")
    if effort is not None and effort not in _REASONING_EFFORTS:
        expected = ", ".join(repr(e) for e in _REASONING_EFFORTS[:-1]) + " or 'max'"
        errors.append(
            _field_error(
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
                _field_error(
                    "value_error",
                    "body.structured_outputs",
                    f"Value error, You {verb} use one kind of structured outputs constraint "
                    f"but {problem}: {state}",
                    structured,
                    error=_Repr("VLLMValidationError(…)"),
                )
            )
    if errors:
        raise _validation_error(errors)
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
                _field_error(
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
            errors.append(_field_error(kind, loc, f"{msg}unable to parse string as {what}", value))
            return None
    kind, what = ("int_type", "integer") if integer else ("float_type", "number")
    errors.append(_field_error(kind, loc, f"Input should be a valid {what}", value))
    return None


def _check_rendering(body: dict[str, Any], messages: list[Any]) -> None:
    """What vLLM's Mistral tokenizer refuses while turning the messages into a prompt."""
    if body.get("chat_template") is not None or body.get("chat_template_kwargs") is not None:
        raise _serving_error(
            "chat_template is not supported for Mistral tokenizers.", "chat_template"
        )
    effort = body.get("reasoning_effort")
    if effort is not None and effort not in ("none", "high"):
        raise _serving_error(f"'{effort}' is not a valid ReasoningEffort")
    if not messages:
        raise _serving_error("Conversation must have at least one message")
    for message in messages:
        role = message.get("role") if isinstance(message, dict) else None
        if role not in _ROLES:
            raise _serving_error(f"Unknown message role: {role}")
    _check_tool_turns(messages)
    add_generation_prompt = body.get("add_generation_prompt", True)
    if add_generation_prompt and body.get("continue_final_message"):
        raise _serving_error(
            "Cannot set both `add_generation_prompt` and `continue_final_message` to True."
        )
    if body.get("continue_final_message") and messages[-1]["role"] != "assistant":
        raise _serving_error(
            "Expected last role Assistant for continue_final_message, "
            f"but got {messages[-1]['role']}"
        )
    if add_generation_prompt and messages[-1]["role"] == "assistant":
        raise _serving_error(
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
                raise _serving_error("Not the same number of function calls and responses")
            expected, observed = set(), set()
            for call in message.get("tool_calls") or []:
                call_id = _mistral_tool_id(call.get("id") if isinstance(call, dict) else None)
                if not _MISTRAL_TOOL_ID.fullmatch(call_id):
                    raise _serving_error(
                        f"Tool call id was {call_id} but must be a-z, A-Z, 0-9, with a length of 9."
                    )
                if call_id in expected:
                    raise _serving_error(f"Duplicate tool call id {call_id} in assistant message")
                expected.add(call_id)
        elif role == "tool":
            if previous not in ("assistant", "tool"):
                raise _serving_error(f"Unexpected role 'tool' after role '{previous}'")
            call_id = _mistral_tool_id(message.get("tool_call_id"))
            if not _MISTRAL_TOOL_ID.fullmatch(call_id):
                raise _serving_error(
                    f"Tool call id was {call_id} but must be a-z, A-Z, 0-9, with a length of 9."
                )
            if call_id in observed:
                raise _serving_error(f"Duplicate tool call id {call_id} in tool results")
            if call_id not in expected:
                raise _serving_error(f"Unexpected tool call id {call_id} in tool results")
            observed.add(call_id)
        previous = role


def _check_sampling(values: dict[str, Any], max_tokens: int | None) -> None:
    """SamplingParams._verify_args, in its order."""
    n = 1 if values["n"] is None else values["n"]
    if n < 1:
        raise _serving_error(f"n must be at least 1, got {n}.")
    if n > _MAX_N:
        raise _serving_error(
            f"n must be at most {_MAX_N}, got {n}. To increase this limit, "
            "set the VLLM_MAX_N_SEQUENCES environment variable."
        )
    for name in ("presence_penalty", "frequency_penalty"):
        value = 0.0 if values[name] is None else values[name]
        if not -2.0 <= value <= 2.0:
            raise _serving_error(f"{name} must be in [-2, 2], got {value}.")
    repetition = 1.0 if values["repetition_penalty"] is None else values["repetition_penalty"]
    if not math.isfinite(repetition):
        raise _serving_error(f"repetition_penalty must be a finite number, got {repetition}.")
    if repetition <= 0.0:
        raise _serving_error(f"repetition_penalty must be greater than zero, got {repetition}.")
    temperature = 1.0 if values["temperature"] is None else values["temperature"]
    if not math.isfinite(temperature):
        raise _serving_error(
            f"temperature must be a finite number, got {temperature}.", "temperature", temperature
        )
    if temperature < 0.0:
        raise _serving_error(
            f"temperature must be non-negative, got {temperature}.", "temperature", temperature
        )
    if temperature > 2.0:
        raise _serving_error(
            f"temperature must be in [0, 2], got {temperature}.", "temperature", temperature
        )
    top_p = 1.0 if values["top_p"] is None else values["top_p"]
    if not 0.0 < top_p <= 1.0:
        raise _serving_error(f"top_p must be in (0, 1], got {top_p}.", "top_p", top_p)
    top_k = 0 if values["top_k"] is None else values["top_k"]
    if top_k < -1:
        raise _serving_error(f"top_k must be 0 (disable), or at least 1, got {top_k}.")
    min_p = 0.0 if values["min_p"] is None else values["min_p"]
    if not 0.0 <= min_p <= 1.0:
        raise _serving_error(f"min_p must be in [0, 1], got {min_p}.")
    if max_tokens is not None and max_tokens < 1:
        raise _serving_error(
            f"max_tokens must be at least 1, got {max_tokens}.", "max_tokens", max_tokens
        )
    min_tokens = values["min_tokens"] or 0
    if min_tokens < 0:
        raise _serving_error(f"min_tokens must be greater than or equal to 0, got {min_tokens}.")
    if max_tokens is not None and min_tokens > max_tokens:
        raise _serving_error(
            f"min_tokens must be less than or equal to max_tokens={max_tokens}, got {min_tokens}."
        )
    if any(not s for s in values["stop"]):
        raise _serving_error("stop cannot contain an empty string.")
    if temperature < _SAMPLING_EPS and n > 1:
        raise _serving_error(f"n must be 1 when using greedy sampling, got {n}.")


# ---------------------------------------------------------------------------------------------
# Pseudo-text. A token is one word-ish piece with its leading space.
# ---------------------------------------------------------------------------------------------

# Sentences are an opener, a subject, a predicate and sometimes a tail about the user's words.
_ANSWER = {
    "openers": ["", "", "", "In practice,", "Usually,", "First,", "Then", "Finally,", "Of course,"],
    "subjects": [
        "the answer", "each token", "a short example", "the model", "a lower temperature",
        "the context window", "the server", "this approach", "a simple test", "the first step",
    ],
    "predicates": [
        "arrives as soon as it is sampled", "helps explain the idea", "is usually good enough",
        "makes the output more predictable", "holds the prompt and the reply together",
        "batches many requests at once", "works well in most cases", "needs a little attention",
        "depends on the length of the prompt", "adds up over time", "is worth checking carefully",
        "shows progress while the rest is still being written", "keeps the page responsive",
    ],
    "tails": ["", "", "", " for {}", " when it comes to {}", " with {} in mind", " around {}"],
}  # fmt: skip
_THINKING = {
    "openers": ["", "", "Hmm,", "Wait,", "So", "Actually,", "Then"],
    "subjects": ["I", "maybe I", "I think I", "first I"],
    "predicates": [
        "should check what they mean", "need to look at this more closely",
        "could start from the basics", "might be overcomplicating this",
        "can give a short example", "should keep the answer brief",
        "want to explain it clearly", "can assume they know the basics",
    ],
    "tails": ["", "", " about {}", " regarding {}"],
}  # fmt: skip
_STOPWORDS = set(
    """about above after again also and any are because been before being below between both but can
    could did does doing down during each few for from further had has have having her here hers him
    his how into its itself just more most not now off once only other our out over own same she
    should some such than that the their them then there these they this those through too under
    until very was were what when where which while who whom why will with would you your yours
    please tell give show write explain""".split()  # noqa: SIM905 (reads better as prose)
)
_ALNUM = string.ascii_letters + string.digits
_FALLBACK_WORDS = ["answer", "token", "model", "example", "value", "result"]


class _Pieces:
    """Builds the token list; words get a leading space unless they start a line."""

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.fresh = True

    def word(self, word: str) -> None:
        self.pieces.append(word if self.fresh else " " + word)
        self.fresh = False

    def raw(self, piece: str) -> None:
        self.pieces.append(piece)
        self.fresh = piece.endswith("\n")

    def sentence(self, rng: random.Random, topic: list[str], parts: dict[str, list[str]]) -> None:
        words = f"{rng.choice(parts['openers'])} {rng.choice(parts['subjects'])}".split()
        predicate = rng.choice(parts["predicates"]).split()
        if rng.random() < 0.15:
            i = max(range(len(predicate)), key=lambda k: len(predicate[k]))
            predicate[i] = f"**{predicate[i]}**"
        words += predicate
        tail = rng.choice(parts["tails"])
        if topic and tail:
            words += tail.format(rng.choice(topic)).split()
        words[0] = words[0][0].upper() + words[0][1:]
        words[-1] += "."
        for word in words:
            self.word(word)


def _topic_words(text: str) -> list[str]:
    words = []
    for word in re.findall(r"[A-Za-z][A-Za-z'-]{2,}", text):
        lowered = word.lower().strip("'-")
        if len(lowered) > 2 and lowered not in _STOPWORDS and lowered not in words:
            words.append(lowered)
    return words[:12]


def _answer_pieces(rng: random.Random, topic: list[str], *, code: bool, target: int) -> list[str]:
    out = _Pieces()
    out.sentence(rng, topic, _ANSWER)
    if code:
        name = re.sub(r"\W", "_", topic[0] if topic else "answer")
        for piece in ("\n\n", "```", "python", "\n", "def", f" {name}", "(", "text", "):", "\n   ",
                      " words", " =", " text", ".split", "()", "\n   ", " return", " len", "(",
                      "words", ")", "\n", "```", "\n\n"):  # fmt: skip
            out.raw(piece)
    if rng.random() < 0.35:
        out.raw("\n\n")
        for _ in range(3):
            out.raw("-")
            item = rng.choice(_ANSWER["predicates"]).split()
            item[0] = item[0].capitalize()
            for word in item:
                out.word(word)
            out.raw("\n")
        out.raw("\n")
    while len(out.pieces) < target:
        if not out.fresh and rng.random() < (0.25 if target > 200 else 0.12):
            out.raw("\n\n")
        out.sentence(rng, topic, _ANSWER)
    return out.pieces


def _reasoning_pieces(rng: random.Random, topic: list[str]) -> list[str]:
    out = _Pieces()
    opening = "Okay, the user is asking about " + " and ".join(topic[:2] or ["something"]) + "."
    for word in opening.split():
        out.word(word)
    target = rng.randint(18, 32)
    while len(out.pieces) < target:
        out.sentence(rng, topic, _THINKING)
    return out.pieces


def _json_pieces(text: str) -> list[str]:
    return re.findall(r"\s*\w+|\s*[^\w\s]+|\s+", text)


def _example(schema: Any, rng: random.Random, topic: list[str], depth: int = 0) -> Any:
    """A plausible value for a JSON schema, enough for tool arguments and JSON mode."""
    if not isinstance(schema, dict) or depth > 6:
        return rng.choice(topic or _FALLBACK_WORDS)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return _example(schema[key][0], rng, topic, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "string"
    if kind == "object":
        return {
            key: _example(value, rng, topic, depth + 1)
            for key, value in (schema.get("properties") or {}).items()
        }
    if kind == "array":
        return [_example(schema.get("items"), rng, topic, depth + 1) for _ in range(2)]
    if kind == "integer":
        return rng.randint(1, 100)
    if kind == "number":
        return round(rng.uniform(1, 100), 1)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    if schema.get("format") == "date":
        return "2025-06-01"
    return rng.choice(topic or _FALLBACK_WORDS)


# ---------------------------------------------------------------------------------------------
# One answer, planned before anything is written so that pacing only decides *when* to write.
# ---------------------------------------------------------------------------------------------


@dataclass
class _Choice:
    index: int
    # ("reasoning" | "content", text) or ("tool", call_index, id, name) or ("args", index, text)
    tokens: list[tuple] = field(default_factory=list)
    finish_reason: str | None = None
    stop_reason: str | None = None
    generated: int = 0
    reasoning_tokens: int = 0
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    logprobs: list[dict[str, Any] | None] = field(default_factory=list)


@dataclass
class _Plan:
    id: str
    created: int
    model: str
    stream: bool
    role: str
    prompt_tokens: int
    choices: list[_Choice]
    hooks: dict[str, str]
    include_usage: bool = False
    continuous_usage: bool = False
    reasoning_parser: bool = False
    engine_error: _ApiError | None = None

    @property
    def completion_tokens(self) -> int:
        return sum(choice.generated for choice in self.choices)

    def usage(self, *, exclude_none: bool) -> dict[str, Any]:
        completion = self.completion_tokens
        usage: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "total_tokens": self.prompt_tokens + completion,
            "completion_tokens": completion,
        }
        details = None
        if self.reasoning_parser:
            details = {"reasoning_tokens": sum(c.reasoning_tokens for c in self.choices)}
        if not exclude_none:
            usage["prompt_tokens_details"] = None
        if details is not None or not exclude_none:
            usage["completion_tokens_details"] = details
        return usage


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            part.get("text", "")
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def _plan(body: dict[str, Any], headers: dict[str, str]) -> _Plan:
    _check_request_model(body)
    values = _check_fields(body)

    model = body.get("model")
    if model is None:
        model = MODELS[0]
    if model not in MODELS:
        raise _ApiError(404, f"The model `{model}` does not exist.", "NotFoundError", "model")

    messages = body["messages"]
    _check_rendering(body, messages)
    prompt_tokens = sum(
        len(_text_of(m.get("content")).split()) + len(_text_of(m.get("reasoning")).split())
        for m in messages
    )

    if values["max_completion_tokens"] is not None:
        requested, requested_param = values["max_completion_tokens"], "max_completion_tokens"
    else:
        requested, requested_param = values["max_tokens"], "max_tokens"
    if requested is not None and requested > MAX_MODEL_LEN:
        raise _serving_error(
            f"{requested_param}={requested}cannot be greater than "
            f"max_model_len=max_total_tokens={MAX_MODEL_LEN}. Please request fewer output tokens.",
            requested_param,
            requested,
        )
    max_input = MAX_MODEL_LEN - (requested or 0)
    if prompt_tokens > max_input:
        raise _serving_error(
            f"You passed {prompt_tokens} input tokens and requested {requested or 0} output "
            f"tokens. However, the model's context length is only {MAX_MODEL_LEN} tokens, "
            f"resulting in a maximum input length of {max_input} tokens. "
            "Please reduce the length of the input prompt.",
            "input_tokens",
            prompt_tokens,
        )
    max_tokens = MAX_MODEL_LEN - prompt_tokens
    if requested is not None:
        max_tokens = min(max_tokens, requested)
    _check_sampling(values, max_tokens)

    last_user = next(
        (_text_of(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), ""
    )
    hooks = {name: value or "" for name, value in _HOOK.findall(last_user)}
    stream = bool(body.get("stream"))
    stream_options = body.get("stream_options") or {}
    include_usage = stream and bool(stream_options.get("include_usage"))
    request_id = headers.get("x-request-id") or body.get("request_id") or os.urandom(8).hex()
    add_generation_prompt = body.get("add_generation_prompt", True)
    plan = _Plan(
        id=f"chatcmpl-{request_id}",
        created=int(time.time()),
        model=model,
        stream=stream,
        role="assistant" if add_generation_prompt else messages[-1]["role"],
        prompt_tokens=prompt_tokens,
        choices=[],
        hooks=hooks,
        include_usage=include_usage,
        continuous_usage=include_usage and bool(stream_options.get("continuous_usage_stats")),
        reasoning_parser=model in REASONING_MODELS and "think-tags" not in hooks,
    )

    # The engine validates logprob limits only once generation starts: a streaming client
    # already has its 200 and gets the error as an event.
    top_logprobs = body.get("top_logprobs") or 0
    if body.get("logprobs"):
        wanted = (32768 if "7B" in model else 131072) if top_logprobs == -1 else top_logprobs
        if wanted > _MAX_LOGPROBS:
            plan.engine_error = _serving_error(
                f"Requested sample logprobs of {wanted}, which is greater than max allowed: "
                f"{_MAX_LOGPROBS}",
                "logprobs",
                wanted,
            )
            return plan

    base = _answer_seed(model, messages, values)
    n = values["n"] or 1
    for index in range(n):
        plan.choices.append(
            _generate(
                body,
                values,
                hooks,
                last_user,
                rng=random.Random(base + index),
                index=index,
                reasoning_parser=plan.reasoning_parser,
                max_tokens=max_tokens,
            )
        )
    return plan


def _answer_seed(model: str, messages: list[Any], values: dict[str, Any]) -> int:
    """Where the answer's random numbers start: fixed by a seed or by greedy decoding, else fresh.

    As in vLLM, a request without a seed samples anew, so Regenerate gives another answer;
    temperature 0 is greedy and gives the same answer every time, whatever the seed.
    """
    temperature = 1.0 if values["temperature"] is None else values["temperature"]
    greedy = temperature < _SAMPLING_EPS
    seed = None if greedy or values["seed"] == -1 else values["seed"]
    if seed is None and not greedy:
        return int.from_bytes(os.urandom(8), "big")
    key = json.dumps([model, messages, seed], sort_keys=True, default=str).encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")


def _generate(
    body: dict[str, Any],
    values: dict[str, Any],
    hooks: dict[str, str],
    last_user: str,
    *,
    rng: random.Random,
    index: int,
    reasoning_parser: bool,
    max_tokens: int,
) -> _Choice:
    choice = _Choice(index=index)
    topic = _topic_words(_HOOK.sub(" ", last_user))
    model = body.get("model") or MODELS[0]

    thinking: list[str] = []
    thinks = model in REASONING_MODELS or "think-tags" in hooks
    if thinks and body.get("reasoning_effort") != "none":
        thinking = _reasoning_pieces(rng, topic)
        budget = values["thinking_token_budget"]
        if reasoning_parser and budget is not None and budget >= 0:
            thinking = thinking[:budget]

    calls = _tool_calls(body, hooks, last_user, rng, topic)
    min_tokens = values["min_tokens"] or 0
    if calls:
        answer: list[str] = []
    elif (structured := _structured_text(body, rng, topic)) is not None:
        answer = _json_pieces(structured)
    else:
        if "tokens" in hooks and hooks["tokens"].isdigit():
            count = int(hooks["tokens"])
            answer = _answer_pieces(rng, topic, code=False, target=count)[:count]
        elif results := _tool_results(body["messages"]):
            answer = _result_pieces(rng, results, topic)
        else:
            target = rng.randint(1900, 2100) if "long" in hooks else rng.randint(40, 80)
            wants_code = re.search(r"\bcode", last_user, re.I) is not None
            answer = _answer_pieces(rng, topic, code=wants_code, target=target)
        # The end-of-sequence token is suppressed until min_tokens, and for good by ignore_eos.
        wanted = max_tokens if body.get("ignore_eos") else min_tokens
        if len(answer) < wanted:
            answer += ["\n\n", *_answer_pieces(rng, topic, code=False, target=wanted)]
        answer = _without_words(answer, body.get("bad_words") or [], rng)

    tokens: list[tuple] = []
    if "think-tags" in hooks:
        if thinking:
            pieces = ["[TH", "INK]", *thinking, "[/TH", "INK]"]
            tokens += [("content", piece) for piece in pieces]
    else:
        tokens += [("reasoning", piece) for piece in thinking]
    tokens += [("content", piece) for piece in answer]
    for call_index, call in enumerate(calls):
        tokens.append(("tool", call_index, call["id"], call["function"]["name"]))
        tokens += [("args", call_index, p) for p in _json_pieces(call["function"]["arguments"])]

    natural_end = len(tokens)
    include_stop = bool(body.get("include_stop_str_in_output"))
    stop_at = _find_stop(tokens, values["stop"], include_stop, after=min_tokens - 1)
    if stop_at is not None and stop_at[0] < max_tokens:
        cut, stop_string, kept = stop_at
        tokens = kept
        choice.generated = cut + 1
        choice.finish_reason, choice.stop_reason = "stop", stop_string
    elif natural_end >= max_tokens:
        tokens = tokens[:max_tokens]
        choice.generated = max_tokens
        choice.finish_reason = "length"
    else:
        choice.generated = natural_end + 1  # the end-of-sequence token
        named = isinstance(body.get("tool_choice"), dict)
        choice.finish_reason = "tool_calls" if calls and not named else "stop"
    choice.tokens = tokens
    choice.reasoning_tokens = min(len(thinking), choice.generated) if reasoning_parser else 0

    # Only the calls whose name made it out before a cut are returned.
    emitted = {token[1] for token in tokens if token[0] == "tool"}
    arguments: dict[int, str] = {}
    for token in tokens:
        if token[0] == "args":
            arguments[token[1]] = arguments.get(token[1], "") + token[2]
    choice.tool_calls = [
        {**call, "function": {**call["function"], "arguments": arguments.get(i, "")}}
        for i, call in enumerate(calls)
        if i in emitted
    ]

    if body.get("logprobs") and body.get("include_reasoning", True) is not False:
        top = max(body.get("top_logprobs") or 0, 0)
        choice.logprobs = [_logprob(token, rng, top) for token in tokens]
    return choice


def _find_stop(
    tokens: list[tuple], stops: list[str], include: bool, *, after: int = -1
) -> tuple[int, str, list[tuple]] | None:
    """(index of the token that completed a stop string, the string, the tokens cut there).

    Tokens up to index `after` cannot stop the answer (min_tokens).
    """
    if not stops:
        return None
    text = {"reasoning": "", "content": ""}
    longest = max(len(s) for s in stops)
    for i, token in enumerate(tokens):
        kind = token[0]
        if kind not in text:
            continue
        before = len(text[kind])
        text[kind] += token[1]
        if i <= after:
            continue
        # vLLM checks each stop string in order over the newly added text.
        for stop in stops:
            found = text[kind].find(stop, max(0, before - longest + 1))
            if found == -1:
                continue
            end = found + len(stop) if include else found
            kept, offset = [], 0
            for earlier in tokens[:i] + [token]:
                if earlier[0] != kind:
                    kept.append(earlier)
                    continue
                piece = earlier[1][: max(0, end - offset)]
                offset += len(earlier[1])
                if piece:
                    kept.append((kind, piece))
            return i, stop, kept
    return None


def _without_words(pieces: list[str], banned: list[str], rng: random.Random) -> list[str]:
    """The pieces with every banned single word swapped for another (bad_words)."""
    words = {word.strip().lower() for word in banned if word.strip()}
    if not words:
        return pieces
    spare = [w for w in _FALLBACK_WORDS if w not in words] or ["thing"]
    kept = []
    for piece in pieces:
        core = piece.strip().strip(".,:;!?*")
        if core.lower() in words:
            piece = piece.replace(core, rng.choice(spare), 1)
        kept.append(piece)
    return kept


def _tool_calls(
    body: dict[str, Any], hooks: dict[str, str], last_user: str, rng: random.Random, topic: list
) -> list[dict[str, Any]]:
    """The calls of one answer: what tool_choice forces, or the tools the message asks for.

    required and a named tool call in every answer, even right after tool results, as vLLM's
    grammar makes them; auto calls the tools the last user message plainly asks for (their
    name, or a word of it such as "weather" for get_current_weather), and never right after
    tool results, which it answers in words. parallel_tool_calls false keeps the first call.
    """
    functions = [
        tool["function"]
        for tool in body.get("tools") or []
        if isinstance(tool, dict)
        and isinstance(tool.get("function"), dict)
        and isinstance(tool["function"].get("name"), str)
    ]
    choice = body.get("tool_choice")
    if not functions or choice in (None, "none"):
        return []
    after_results = body["messages"][-1].get("role") == "tool"
    asked = [f for f in functions if _asks_for(f["name"], last_user)]
    if isinstance(choice, dict):
        chosen = [next(f for f in functions if f["name"] == choice["function"]["name"])]
    elif choice == "required" or ("tool-call" in hooks and not after_results):
        chosen = asked or functions[:1]
    elif after_results:
        return []
    else:
        chosen = asked
    if body.get("parallel_tool_calls") is False:
        chosen = chosen[:1]
    # Arguments take the message's names (Paris, Oslo) first: they are what tools look up.
    names = _proper_nouns(_HOOK.sub(" ", last_user))
    calls = []
    for function in chosen:
        parameters = function.get("parameters") or {"type": "object"}
        arguments = _example(parameters, rng, names or topic)
        calls.append(
            {
                # Mistral's parser makes 9-character alphanumeric ids.
                "id": "".join(rng.choice(_ALNUM) for _ in range(9)),
                "type": "function",
                "function": {"name": function["name"], "arguments": json.dumps(arguments)},
            }
        )
    return calls


# Words of tool names too common to show that a message asks for that tool.
_GENERIC_NAME_WORDS = {
    "get", "set", "current", "fetch", "find", "lookup", "look", "list", "info", "data", "tool",
    "call", "run", "make", "the", "for", "and", "by", "of", "to", "from", "new", "all",
}  # fmt: skip


def _asks_for(name: str, text: str) -> bool:
    """Whether `text` plainly asks for the tool called `name` (its name or a telling word)."""
    if name in text:
        return True
    words = {w.lower() for w in re.split(r"[_\-\s]+|(?<=[a-z])(?=[A-Z])", name)}
    telling = {w for w in words if len(w) >= 3 and w not in _GENERIC_NAME_WORDS}
    said = {w.lower().rstrip("s") for w in re.findall(r"[A-Za-z]+", text)}
    return any(w.rstrip("s") in said for w in telling)


def _proper_nouns(text: str) -> list[str]:
    """Capitalised words that do not start a sentence, such as Paris in "What about Paris?"."""
    found = []
    for sentence in re.split(r"[.!?]+\s*", text):
        words = re.findall(r"[A-Za-z][A-Za-z'-]*", sentence)
        found += [word for word in words[1:] if word[0].isupper() and word != "I"]
    return list(dict.fromkeys(found))


def _tool_results(messages: list[Any]) -> list[tuple[str, str]]:
    """(tool name, result) of the tool messages that end the conversation, in their order."""
    results: list[tuple[str, str]] = []
    for message in reversed(messages):
        if not isinstance(message, dict) or message.get("role") != "tool":
            break
        results.append((message.get("name") or "", _text_of(message.get("content"))))
    results.reverse()
    if not results:
        return []
    # Results without a name are named by the call they answer.
    calls = next(
        (m.get("tool_calls") or [] for m in reversed(messages) if m.get("role") == "assistant"),
        [],
    )
    names = {c.get("id"): (c.get("function") or {}).get("name", "") for c in calls}
    answers = messages[len(messages) - len(results) :]
    return [
        (name or names.get(answer.get("tool_call_id"), "") or "the tool", text)
        for (name, text), answer in zip(results, answers, strict=True)
    ]


def _result_pieces(rng: random.Random, results: list[tuple[str, str]], topic: list) -> list[str]:
    """An answer that uses the tool results: each quoted, then a sentence or two more."""
    out = _Pieces()
    for name, text in results:
        shown = " ".join(text.split())
        if len(shown) > 300:
            shown = shown[:300].rsplit(" ", 1)[0] + "…"
        for word in f"According to {name}: {shown}".split():
            out.word(word)
        out.raw(".\n\n" if not shown.endswith((".", "!", "?", "…")) else "\n\n")
    pieces = out.pieces + _answer_pieces(rng, topic, code=False, target=12)
    return pieces


def _structured_text(body: dict[str, Any], rng: random.Random, topic: list[str]) -> str | None:
    response_format = body.get("response_format")
    if isinstance(response_format, dict):
        if response_format.get("type") == "json_object":
            return json.dumps({"answer": "".join(_answer_pieces(rng, topic, code=False, target=8))})
        if response_format.get("type") == "json_schema":
            schema = (response_format.get("json_schema") or {}).get("schema") or {"type": "object"}
            return json.dumps(_example(schema, rng, topic))
    structured = body.get("structured_outputs")
    if isinstance(structured, dict):
        if structured.get("choice"):
            return str(rng.choice(structured["choice"]))
        if isinstance(structured.get("regex"), str):
            return _regex_text(structured["regex"], rng)
        if isinstance(structured.get("grammar"), str):
            return _grammar_text(structured["grammar"], rng, topic)
        schema = structured.get("json")
        if isinstance(schema, str):
            try:
                schema = json.loads(schema)
            except ValueError:
                schema = None
        if isinstance(schema, dict):
            return json.dumps(_example(schema, rng, topic))
        if structured.get("json_object"):
            return json.dumps({"answer": rng.choice(topic or _FALLBACK_WORDS)})
    return None


def _regex_text(pattern: str, rng: random.Random) -> str | None:
    """A short text matching a simple regular expression; None when it is not simple."""
    try:
        parsed = _sre_parser.parse(pattern)
        text = "".join(_from_regex(list(parsed), rng, {}))
    except (re.error, ValueError, KeyError, OverflowError, RecursionError):
        return None
    return text if re.fullmatch(pattern, text) else None


def _from_regex(items: list, rng: random.Random, groups: dict[int, str]) -> list[str]:
    out: list[str] = []
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(arg))
        elif name == "NOT_LITERAL":
            out.append("x" if chr(arg) != "x" else "y")
        elif name == "ANY":
            out.append(rng.choice(string.ascii_lowercase))
        elif name == "IN":
            out.append(_from_class(arg, rng))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, inner = arg
            count = rng.randint(low, min(high, low + 3))
            for _ in range(count):
                out += _from_regex(list(inner), rng, groups)
        elif name == "SUBPATTERN":
            group, _, _, inner = arg
            text = "".join(_from_regex(list(inner), rng, groups))
            if group is not None:
                groups[group] = text
            out.append(text)
        elif name == "ATOMIC_GROUP":
            out += _from_regex(list(arg), rng, groups)
        elif name == "BRANCH":
            out += _from_regex(list(rng.choice(arg[1])), rng, groups)
        elif name == "GROUPREF":
            out.append(groups[arg])
        elif name != "AT":  # anchors produce nothing; lookarounds are not simple
            raise ValueError(f"not simple: {name}")
    return out


_CATEGORIES = {
    "CATEGORY_DIGIT": string.digits,
    "CATEGORY_WORD": string.ascii_letters + string.digits + "_",
    "CATEGORY_SPACE": " ",
    "CATEGORY_NOT_DIGIT": string.ascii_letters,
    "CATEGORY_NOT_WORD": " -.",
    "CATEGORY_NOT_SPACE": string.ascii_letters,
}


def _from_class(items: list, rng: random.Random) -> str:
    choices: list[str] = []
    for op, arg in items:
        name = str(op)
        if name == "NEGATE":
            raise ValueError("not simple: negated class")
        if name == "LITERAL":
            choices.append(chr(arg))
        elif name == "RANGE":
            choices.append(chr(rng.randint(*arg)))
        elif name == "CATEGORY":
            choices.append(rng.choice(_CATEGORIES[str(arg)]))
        else:
            raise ValueError(f"not simple: {name}")
    return rng.choice(choices)


# ---------------------------------------------------------------------------------------------
# Grammars (structured_outputs.grammar): the simple part of xgrammar's EBNF (GBNF) and of Lark.
# ---------------------------------------------------------------------------------------------


class _UnsupportedGrammar(Exception):
    """A grammar the simulator cannot follow; the message says why, for the answer."""


_EBNF_TOKEN = re.compile(
    r"""(?P<skip>\s+|\#[^\n]*)
    |(?P<lit>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
    |(?P<cls>\[(?:[^\]\\]|\\.)*\])
    |(?P<name>[A-Za-z_][\w-]*)
    |(?P<op>::=|\d+|[|()*+?{},])""",
    re.X,
)
_LARK_TOKEN = re.compile(
    r"""(?P<skip>[ \t\r\f]+|//[^\n]*|->\s*\w+)  # an alias (-> name) only names the tree
    |(?P<newline>\n)
    |(?P<lit>"(?:[^"\\\n]|\\.)*"i?|'(?:[^'\\\n]|\\.)*'i?)
    |(?P<re>/(?:[^/\\\n]|\\.)+/[imsux]*)
    |(?P<name>[A-Za-z_]\w*(?:\.-?\d+)?)
    |(?P<op>\.\.|\d+|[:|()*+?\[\]~!])""",
    re.X,
)
# Lark's common.lark terminals, as regular expressions for text each accepts.
_LARK_COMMON = {
    "DIGIT": "[0-9]",
    "HEXDIGIT": "[a-fA-F0-9]",
    "INT": "[0-9]+",
    "SIGNED_INT": "[+-]?[0-9]+",
    "DECIMAL": r"[0-9]+\.[0-9]+",
    "FLOAT": r"[0-9]+\.[0-9]+",
    "SIGNED_FLOAT": r"[+-]?[0-9]+\.[0-9]+",
    "NUMBER": r"[0-9]+(\.[0-9]+)?",
    "SIGNED_NUMBER": r"[+-]?[0-9]+(\.[0-9]+)?",
    "LETTER": "[A-Za-z]",
    "LCASE_LETTER": "[a-z]",
    "UCASE_LETTER": "[A-Z]",
    "WORD": "[A-Za-z]+",
    "CNAME": "[A-Za-z_][A-Za-z0-9_]*",
    "ESCAPED_STRING": '"[a-z]+( [a-z]+)?"',
    "WS": "[ \t\f\r\n]+",
    "WS_INLINE": "[ \t]+",
    "NEWLINE": "\n",
    "CR": "\r",
    "LF": "\n",
}
_LARK_IMPORT = re.compile(r"%import\s+common\s*(?:\.\s*(\w+)(?:\s*->\s*(\w+))?|\(([\w\s,]+)\))\s*$")
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0"}
_GRAMMAR_DEPTH = 12  # rule references deeper than this take the shortest way out
_GRAMMAR_SIZE = 2000  # characters; past them too


def _grammar_text(grammar: str, rng: random.Random, topic: list[str]) -> str:
    """Text the grammar accepts, or a sentence saying the simulator cannot follow it."""
    try:
        return _Grammar(grammar).text(rng, topic)
    except _UnsupportedGrammar as error:
        return f"The simulator cannot follow this grammar: {error}."
    except RecursionError:
        return "The simulator cannot follow this grammar: it nests too deeply."
    except (re.error, ValueError, OverflowError) as error:
        return f"The simulator cannot follow this grammar: {error}."


class _Grammar:
    """A grammar's rules, parsed, and text they accept.

    EBNF when the grammar has ``::=`` (root rule ``root``), else Lark (root rule ``start``).
    A rule is ("lit", text), ("range", low, high), ("cls" | "re", pattern), ("ref", name),
    ("seq", items), ("alt", options) or ("rep", item, low, high), high None for no limit.
    """

    def __init__(self, grammar: str) -> None:
        self.lark = "::=" not in grammar
        self.rules: dict[str, tuple] = {}
        self.separator = ""  # Lark's %ignore of spaces lets rules put one between their terms
        ignored = self._parse_lark(grammar) if self.lark else self._parse_ebnf(grammar)
        self.root = "start" if self.lark else "root"
        if self.root not in self.rules:
            raise _UnsupportedGrammar(f"it has no `{self.root}` rule")
        for body in self.rules.values():
            self._check_refs(body)
        if any(self._accepts_space(expr, 0) for expr in ignored):
            self.separator = " "
        self.heights = self._heights()
        if math.isinf(self.heights[self.root]):
            raise _UnsupportedGrammar("its rules never end")

    # -- parsing ------------------------------------------------------------------------------

    def _tokens(self, text: str) -> list[tuple[str, str]]:
        pattern = _LARK_TOKEN if self.lark else _EBNF_TOKEN
        tokens, at = [], 0
        while at < len(text):
            match = pattern.match(text, at)
            if match is None:
                raise _UnsupportedGrammar(f"it uses syntax it does not know at `{text[at:][:20]}`")
            if match.lastgroup != "skip":
                tokens.append((match.lastgroup, match.group()))
            at = match.end()
        return tokens

    def _parse_ebnf(self, grammar: str) -> list[tuple]:
        tokens = self._tokens(grammar)
        heads = [
            i
            for i in range(len(tokens) - 1)
            if tokens[i][0] == "name" and tokens[i + 1][1] == "::="
        ]
        if not heads or heads[0] != 0:
            raise _UnsupportedGrammar("it does not start with a rule (`name ::= …`)")
        for head, end in zip(heads, [*heads[1:], len(tokens)], strict=True):
            self._define(tokens[head][1], tokens[head + 2 : end])
        return []

    def _parse_lark(self, grammar: str) -> list[tuple]:
        ignored, lines = [], []
        for line in grammar.splitlines():
            stripped = line.strip()
            if not stripped.startswith("%"):
                lines.append(line)
            elif stripped.startswith("%ignore"):
                ignored.append(self._expression(self._tokens(stripped[len("%ignore") :])))
            elif match := _LARK_IMPORT.match(stripped):
                if match[1]:
                    pairs = [(match[1], match[2] or match[1])]
                else:
                    pairs = [(name, name) for name in re.findall(r"\w+", match[3])]
                for name, alias in pairs:
                    if name not in _LARK_COMMON:
                        raise _UnsupportedGrammar(f"it imports `common.{name}`")
                    self.rules[alias] = ("re", _LARK_COMMON[name])
            else:
                raise _UnsupportedGrammar(f"it uses `{stripped.split()[0]}`")
        # A definition starts a line ("?expr: …", "NAME.2: …"); the lines after it continue it.
        definitions: list[tuple[str, list]] = []
        for line in self._lines(self._tokens("\n".join(lines))):
            start = 1 if line[0][1] in ("?", "!") else 0
            if len(line) > start + 1 and line[start][0] == "name" and line[start + 1][1] == ":":
                definitions.append((line[start][1].split(".")[0], line[start + 2 :]))
            elif definitions:
                definitions[-1][1].extend(line)
            else:
                raise _UnsupportedGrammar("it does not start with a rule (`name: …`)")
        for name, body in definitions:
            self._define(name, body)
        return ignored

    @staticmethod
    def _lines(tokens: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
        lines: list[list[tuple[str, str]]] = [[]]
        for token in tokens:
            if token[0] == "newline":
                lines.append([])
            else:
                lines[-1].append(token)
        return [line for line in lines if line]

    def _define(self, name: str, body: list[tuple[str, str]]) -> None:
        if name in self.rules:
            raise _UnsupportedGrammar(f"it defines `{name}` twice")
        self.rules[name] = self._expression(body)

    def _expression(self, tokens: list[tuple[str, str]]) -> tuple:
        self._at, self._body = 0, tokens
        expr = self._alternatives()
        if self._at < len(tokens):
            raise _UnsupportedGrammar(f"it uses syntax it does not know at `{tokens[self._at][1]}`")
        return expr

    def _peek(self) -> str | None:
        return self._body[self._at][1] if self._at < len(self._body) else None

    def _take(self, expected: str | None = None) -> tuple[str, str]:
        if self._at >= len(self._body) or (expected and self._body[self._at][1] != expected):
            raise _UnsupportedGrammar(f"a `{expected or 'term'}` is missing")
        self._at += 1
        return self._body[self._at - 1]

    def _alternatives(self) -> tuple:
        options = [self._sequence()]
        while self._peek() == "|":
            self._take()
            options.append(self._sequence())
        return options[0] if len(options) == 1 else ("alt", options)

    def _sequence(self) -> tuple:
        items = []
        while self._peek() not in (None, "|", ")", "]"):
            items.append(self._postfix(self._atom()))
        return items[0] if len(items) == 1 else ("seq", items)

    def _atom(self) -> tuple:
        kind, text = self._take()
        if kind == "lit":
            literal = ("lit", self._unescape(text.removesuffix("i")[1:-1]))
            if self._peek() != "..":
                return literal
            self._take()
            high = self._unescape(self._take()[1].removesuffix("i")[1:-1])
            if len(literal[1]) != 1 or len(high) != 1:
                raise _UnsupportedGrammar("a `..` range is not between two characters")
            return ("range", literal[1], high)
        if kind == "cls":
            return ("cls", text)
        if kind == "re":
            body, flags = text[1:].rsplit("/", 1)
            return ("re", (f"(?{flags})" if flags else "") + body.replace("\\/", "/"))
        if kind == "name":
            return ("ref", text)
        if text in ("(", "["):
            inner = self._alternatives()
            if text == "(":
                self._take(")")
                return inner
            self._take("]")
            return ("rep", inner, 0, 1)  # Lark's [optional]
        raise _UnsupportedGrammar(f"it uses syntax it does not know at `{text}`")

    def _postfix(self, item: tuple) -> tuple:
        while (mark := self._peek()) in ("*", "+", "?", "{", "~"):
            self._take()
            if mark in ("*", "+", "?"):
                low, high = {"*": (0, None), "+": (1, None), "?": (0, 1)}[mark]
            elif mark == "~":  # Lark: item ~ 3, item ~ 2..5
                low = high = int(self._take()[1])
                if self._peek() == "..":
                    self._take()
                    high = int(self._take()[1])
            else:  # EBNF: item{3}, item{2,5}, item{2,}
                low = high = int(self._take()[1])
                if self._peek() == ",":
                    self._take()
                    high = None if self._peek() == "}" else int(self._take()[1])
                self._take("}")
            item = ("rep", item, low, high)
        return item

    @staticmethod
    def _unescape(text: str) -> str:
        def one(match: re.Match) -> str:
            code = match[1]
            if code[0] in "xuU" and len(code) > 1:
                return chr(int(code[1:], 16))
            return _ESCAPES.get(code, code)

        return _ESCAPE.sub(one, text)

    def _check_refs(self, expr: tuple) -> None:
        if expr[0] == "ref" and expr[1] not in self.rules:
            raise _UnsupportedGrammar(f"the rule `{expr[1]}` is not defined")
        if expr[0] in ("seq", "alt"):
            for item in expr[1]:
                self._check_refs(item)
        elif expr[0] == "rep":
            self._check_refs(expr[1])

    def _accepts_space(self, expr: tuple, depth: int) -> bool:
        kind = expr[0]
        if kind == "lit":
            return expr[1] == " "
        if kind in ("cls", "re"):
            return re.fullmatch(expr[1], " ") is not None
        if kind == "ref" and depth < 5:
            return self._accepts_space(self.rules.get(expr[1], ("seq", [])), depth + 1)
        if kind == "alt":
            return any(self._accepts_space(option, depth) for option in expr[1])
        if kind == "rep":
            return expr[2] <= 1 and expr[3] != 0 and self._accepts_space(expr[1], depth)
        return False

    def _heights(self) -> dict[str, float]:
        """Per rule, the fewest nested rule references it takes to finish (inf: never)."""
        heights = dict.fromkeys(self.rules, math.inf)
        changed = True
        while changed:
            changed = False
            for name, body in self.rules.items():
                height = self._height(body, heights)
                if height < heights[name]:
                    heights[name], changed = height, True
        return heights

    def _height(self, expr: tuple, heights: dict[str, float]) -> float:
        kind = expr[0]
        if kind == "ref":
            return heights[expr[1]] + 1
        if kind == "seq":
            return max((self._height(item, heights) for item in expr[1]), default=0)
        if kind == "alt":
            return min(self._height(option, heights) for option in expr[1])
        if kind == "rep":
            return 0 if expr[2] == 0 else self._height(expr[1], heights)
        return 0

    # -- writing ------------------------------------------------------------------------------

    def text(self, rng: random.Random, topic: list[str]) -> str:
        self._rng, self._topic, self._written = rng, topic, 0
        return self._write(("ref", self.root), 0, terminal=False)

    def _write(self, expr: tuple, depth: int, *, terminal: bool) -> str:
        kind, rng = expr[0], self._rng
        # Deep or long, every choice takes the shortest way out so that the text ends.
        short = depth > _GRAMMAR_DEPTH or self._written > _GRAMMAR_SIZE
        if kind == "lit":
            self._written += len(expr[1])
            return expr[1]
        if kind == "range":
            self._written += 1
            return chr(rng.randint(ord(expr[1]), ord(expr[2])))
        if kind in ("cls", "re"):
            text = self._pattern_text(expr[1])
            self._written += len(text)
            return text
        if kind == "ref":
            name = expr[1]
            # Lark's upper-case names are terminals: their parts join without a separator.
            inner = terminal or (self.lark and name.lstrip("_")[:1].isupper())
            return self._write(self.rules[name], depth + 1, terminal=inner)
        if kind == "alt":
            options = expr[1]
            if short:
                least = min(self._height(o, self.heights) for o in options)
                options = [o for o in options if self._height(o, self.heights) == least]
            return self._write(rng.choice(options), depth, terminal=terminal)
        if kind == "seq":
            parts = [self._write(item, depth, terminal=terminal) for item in expr[1]]
        else:  # rep
            _, item, low, high = expr
            # Optional spacing stays out, as a model's would; other repeats vary a little.
            most = low if short or self._spacing(item) else low + 3
            count = rng.randint(low, most if high is None else min(high, most))
            parts = [self._write(item, depth, terminal=terminal) for _ in range(count)]
        joiner = "" if terminal else self.separator
        return joiner.join(part for part in parts if part or not joiner)

    @staticmethod
    def _spacing(expr: tuple) -> bool:
        """Whether a class or pattern is whitespace: it takes a space but no letter or digit."""
        return (
            expr[0] in ("cls", "re")
            and re.fullmatch(expr[1], " ") is not None
            and not any(re.fullmatch(expr[1], c) for c in "aA0")
        )

    def _pattern_text(self, pattern: str) -> str:
        """A word of the topic the pattern accepts, else text written from the pattern."""
        if self._spacing(("re", pattern)):
            return " "
        words = [w for w in self._topic if re.fullmatch(pattern, w)]
        if words:
            return self._rng.choice(words)
        text = _regex_text(pattern, self._rng)
        if text is None:  # e.g. a negated class: try a few plain characters
            spare = [c for c in _ALNUM + " .,-_" if re.fullmatch(pattern, c)]
            if not spare:
                raise _UnsupportedGrammar(f"it cannot write text for `{pattern}`")
            text = self._rng.choice(spare)
        return text


def _logprob(token: tuple, rng: random.Random, top: int) -> dict[str, Any] | None:
    if token[0] not in ("reasoning", "content"):
        return None
    value = round(-rng.random() * 1.5, 4)
    # vLLM lists the sampled token first among the alternatives.
    alternatives = [(token[1], value)] + [
        (" " + rng.choice(_FALLBACK_WORDS), round(value - rank - rng.random(), 4))
        for rank in range(1, top)
    ]
    return {
        "token": token[1],
        "logprob": value,
        "bytes": list(token[1].encode()),
        "top_logprobs": [
            {"token": text, "logprob": logprob, "bytes": list(text.encode())}
            for text, logprob in alternatives[:top]
        ],
    }


# ---------------------------------------------------------------------------------------------
# Serialisation: non-streaming bodies as dicts, stream chunks as pre-built strings.
# ---------------------------------------------------------------------------------------------


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _completion_body(plan: _Plan, include_reasoning: bool) -> dict[str, Any]:
    choices = []
    for choice in plan.choices:
        content = "".join(t[1] for t in choice.tokens if t[0] == "content")
        reasoning = "".join(t[1] for t in choice.tokens if t[0] == "reasoning")
        has_content = any(t[0] == "content" for t in choice.tokens)
        message: dict[str, Any] = {
            "role": plan.role,
            "content": content if has_content or not (reasoning or choice.tool_calls) else None,
            "refusal": None,
            "annotations": None,
            "audio": None,
            "function_call": None,
        }
        if choice.tool_calls:
            message["tool_calls"] = choice.tool_calls
        message["reasoning"] = reasoning if reasoning and include_reasoning else None
        logprobs = [entry for entry in choice.logprobs if entry is not None]
        choices.append(
            {
                "index": choice.index,
                "message": message,
                "logprobs": {"content": logprobs} if choice.logprobs else None,
                "finish_reason": choice.finish_reason,
                "stop_reason": choice.stop_reason,
                "token_ids": None,
                "routed_experts": None,
                "weight_versions": None,
            }
        )
    return {
        "id": plan.id,
        "object": "chat.completion",
        "created": plan.created,
        "model": plan.model,
        "choices": choices,
        "service_tier": None,
        "system_fingerprint": SYSTEM_FINGERPRINT,
        "usage": plan.usage(exclude_none=False),
        "prompt_logprobs": None,
        "prompt_token_ids": None,
        "prompt_text": None,
        "kv_transfer_params": None,
        "ec_transfer_params": None,
        "metrics": None,
    }


# How the writer paces a frame: not at all, as the first token, or as any later chunk.
_NOW, _FIRST, _NEXT = 0, 1, 2


def _frame(text: str) -> bytes:
    """One SSE event as one HTTP/1.1 chunk, ready for a single sendall()."""
    data = text.encode()
    return b"%x\r\n%b\r\n" % (len(data), data)


def _stream_frames(
    plan: _Plan, include_reasoning: bool, whole_tool_calls: bool = False
) -> list[tuple[int, bytes, int]]:
    """Every frame of the answer as (pacing, bytes, counts as a chunk)."""
    if plan.engine_error is not None:
        return [
            (_NOW, _frame(f"data: {_dumps(plan.engine_error.payload())}\n\n"), 1),
            (_NOW, _frame("data: [DONE]\n\n"), 0),
        ]
    hooks = plan.hooks
    head = (
        f'data: {{"id":{_dumps(plan.id)},"object":"chat.completion.chunk",'
        f'"created":{plan.created},"model":{_dumps(plan.model)},"choices":[{{"index":'
    )
    prompt = plan.prompt_tokens

    def usage(done: int) -> str:
        if not plan.continuous_usage:
            return ""
        return (
            f',"usage":{{"prompt_tokens":{prompt},"total_tokens":{prompt + done},'
            f'"completion_tokens":{done}}}'
        )

    per_choice: list[list[tuple[int, bytes, int]]] = []
    for choice in plan.choices:
        i = choice.index
        frames = [
            (
                _NOW,
                _frame(
                    f'{head}{i},"delta":{{"role":{_dumps(plan.role)},"content":""}},'
                    f'"logprobs":null,"finish_reason":null}}]{usage(0)},'
                    '"prompt_token_ids":null,"prompt_text":null}\n\n'
                ),
                1,
            )
        ]
        tokens = choice.tokens
        if not include_reasoning:
            tokens = [t for t in tokens if t[0] != "reasoning"]
        logprobs = choice.logprobs if include_reasoning else []
        if whole_tool_calls:
            tokens, logprobs = _whole_tool_calls(tokens, logprobs)
        deltas = [_delta(token) for token in tokens]
        lps = [
            _dumps({"content": [logprobs[k]]}) if k < len(logprobs) and logprobs[k] else "null"
            for k in range(len(tokens))
        ] if logprobs else ["null"] * len(tokens)  # fmt: skip
        truncated = "no-done" in hooks or "stream-error" in hooks
        # A cut answer (length, stop string) sends its last piece with the finish reason.
        last_rides = choice.finish_reason in ("length",) or choice.stop_reason is not None
        body_count = len(deltas) - (1 if last_rides and deltas and not truncated else 0)
        if "stream-error" in hooks:
            body_count = min(body_count, 3)
        done = len(choice.tokens) - len(tokens)  # hidden reasoning tokens still count
        for k in range(body_count):
            done += 1
            frames.append(
                (
                    _FIRST if k == 0 else _NEXT,
                    _frame(
                        f'{head}{i},"delta":{deltas[k]},"logprobs":{lps[k]},'
                        f'"finish_reason":null,"token_ids":null}}]{usage(done)},'
                        '"kv_transfer_params":null}\n\n'
                    ),
                    1,
                )
            )
        if truncated:
            per_choice.append(frames)
            continue
        delta = deltas[-1] if body_count < len(deltas) else "{}"
        lp = lps[-1] if body_count < len(deltas) else "null"
        fingerprint = "" if plan.include_usage else f',"system_fingerprint":"{SYSTEM_FINGERPRINT}"'
        frames.append(
            (
                _FIRST if body_count == 0 else _NEXT,
                _frame(
                    f'{head}{i},"delta":{delta},"logprobs":{lp},'
                    f'"finish_reason":{_dumps(choice.finish_reason)},'
                    f'"stop_reason":{_dumps(choice.stop_reason)},'
                    f'"token_ids":null,"weight_versions":null}}]{usage(choice.generated)}'
                    f'{fingerprint},"kv_transfer_params":null}}\n\n'
                ),
                1,
            )
        )
        per_choice.append(frames)

    # Choices advance together, one step each, as the engine batches them.
    frames: list[tuple[int, bytes, int]] = []
    longest = max((len(f) for f in per_choice), default=0)
    for step in range(longest):
        for choice_frames in per_choice:
            if step < len(choice_frames):
                pace, data, counted = choice_frames[step]
                if frames and pace == _FIRST and any(p != _NOW for p, _, _ in frames):
                    pace = _NEXT
                frames.append((pace, data, counted))

    if "stream-error" in hooks:
        error = _status_error(500, "The simulator was asked to fail in the middle of the stream")
        frames.append((_NEXT, _frame(f"data: {_dumps(error.payload())}\n\n"), 1))
        frames.append((_NOW, _frame("data: [DONE]\n\n"), 0))
    elif "no-done" not in hooks:
        if plan.include_usage:
            usage_chunk = {
                "id": plan.id,
                "object": "chat.completion.chunk",
                "created": plan.created,
                "model": plan.model,
                "choices": [],
                "usage": plan.usage(exclude_none=True),
                "system_fingerprint": SYSTEM_FINGERPRINT,
            }
            frames.append((_NOW, _frame(f"data: {_dumps(usage_chunk)}\n\n"), 1))
        frames.append((_NOW, _frame("data: [DONE]\n\n"), 0))

    if "keepalive" in hooks:
        comment = _frame(": keep-alive\n\n")
        with_comments = [(_NOW, comment, 0)]
        for k, item in enumerate(frames):
            with_comments.append(item)
            if k % 2 == 1 and k < len(frames) - 1:
                with_comments.append((_NOW, comment, 0))
        frames = with_comments
    return frames


def _whole_tool_calls(tokens: list[tuple], logprobs: list) -> tuple[list[tuple], list]:
    """The tokens with each call's arguments folded into the token that names it."""
    arguments: dict[int, str] = {}
    for token in tokens:
        if token[0] == "args":
            arguments[token[1]] = arguments.get(token[1], "") + token[2]
    kept = [k for k, token in enumerate(tokens) if token[0] != "args"]
    folded = [
        (*tokens[k], arguments.get(tokens[k][1], "")) if tokens[k][0] == "tool" else tokens[k]
        for k in kept
    ]
    return folded, [logprobs[k] for k in kept if k < len(logprobs)]


def _delta(token: tuple) -> str:
    kind = token[0]
    if kind == "content":
        return f'{{"content":{_dumps(token[1])}}}'
    if kind == "reasoning":
        return f'{{"reasoning":{_dumps(token[1])}}}'
    if kind == "tool" and len(token) == 5:
        return (
            f'{{"tool_calls":[{{"id":{_dumps(token[2])},"type":"function","index":{token[1]},'
            f'"function":{{"name":{_dumps(token[3])},"arguments":{_dumps(token[4])}}}}}]}}'
        )
    if kind == "tool":
        return (
            f'{{"tool_calls":[{{"id":{_dumps(token[2])},"type":"function","index":{token[1]},'
            f'"function":{{"name":{_dumps(token[3])}}}}}]}}'
        )
    return (
        f'{{"tool_calls":[{{"index":{token[1]},"function":{{"arguments":{_dumps(token[2])}}}}}]}}'
    )


def _hook_number(hooks: dict[str, str], name: str, default: float) -> float:
    try:
        return float(hooks[name]) if name in hooks else default
    except ValueError:
        return default


def _models_body() -> dict[str, Any]:
    now = int(time.time())
    return {
        "object": "list",
        "data": [
            {
                "id": model,
                "object": "model",
                "created": now,
                "owned_by": "vllm",
                "root": model,
                "parent": None,
                "max_model_len": MAX_MODEL_LEN,
                "permission": [
                    {
                        "id": f"modelperm-{os.urandom(8).hex()}",
                        "object": "model_permission",
                        "created": now,
                        "allow_create_engine": False,
                        "allow_sampling": True,
                        "allow_logprobs": True,
                        "allow_search_indices": False,
                        "allow_view": True,
                        "allow_fine_tuning": False,
                        "organization": "*",
                        "group": None,
                        "is_blocking": False,
                    }
                ],
            }
            for model in MODELS
        ],
    }


# ---------------------------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Each SSE event is one small write; Nagle would hold it back waiting for an ACK.
    disable_nagle_algorithm = True
    server: _Server

    def version_string(self) -> str:
        return "uvicorn"

    def log_message(self, format: str, *args: Any) -> None:
        if not self.server.simulator.quiet:
            super().log_message(format, *args)

    @property
    def route(self) -> str:
        return self.path.split("?", 1)[0].rstrip("/") or "/"

    def do_GET(self) -> None:
        route = self.route
        if route == "/v1/models":
            if self._authorized():
                self._send_json(200, _models_body())
        elif route == "/_simulator/requests":
            self._send_json(200, self.server.simulator._log())
        elif route == "/_simulator/config":
            self._send_json(200, self._config())
        elif route == "/health":
            self._send_empty(200)
        elif route == "/version":
            self._send_json(200, {"version": "0.33.0"})
        elif route == "/v1/chat/completions":
            self._read_body()
            self._send_json(405, {"detail": "Method Not Allowed"})
        else:
            self._send_json(404, {"detail": "Not Found"})

    def do_POST(self) -> None:
        route = self.route
        if route == "/v1/chat/completions":
            self._chat()
        elif route == "/_simulator/config":
            self._update_config()
        else:
            self._read_body()
            self._send_json(404, {"detail": "Not Found"})

    def do_DELETE(self) -> None:
        self._read_body()
        if self.route == "/_simulator/requests":
            self.server.simulator._clear()
            self._send_empty(204)
        else:
            self._send_json(404, {"detail": "Not Found"})

    def _config(self) -> dict[str, float]:
        simulator = self.server.simulator
        return {
            "chunks_per_second": simulator.chunks_per_second,
            "first_token_delay": simulator.first_token_delay,
        }

    def _update_config(self) -> None:
        try:
            changes = json.loads(self._read_body() or b"{}")
            simulator = self.server.simulator
            for name in ("chunks_per_second", "first_token_delay"):
                if name in changes:
                    setattr(simulator, name, float(changes[name]))
        except (ValueError, TypeError, AttributeError) as exc:
            self._send_json(400, {"detail": str(exc)})
            return
        self._send_json(200, self._config())

    def _read_body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _authorized(self) -> bool:
        api_key = self.server.simulator.api_key
        if not api_key or self.headers.get("authorization") == f"Bearer {api_key}":
            return True
        self._send_json(401, {"error": "Unauthorized"})
        return False

    def _send_empty(self, status: int) -> None:
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def _send_json(self, status: int, payload: Any, record: RecordedRequest | None = None) -> None:
        data = _dumps(payload).encode()
        if record is not None:
            record.status = status
        try:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except _DISCONNECTS:
            self.close_connection = True
            if record is not None:
                record.disconnected = True
            return
        if record is not None:
            record.completed = True

    def _chat(self) -> None:
        simulator = self.server.simulator
        raw = self._read_body()
        headers = {name.lower(): value for name, value in self.headers.items()}
        # The record gets a parse of its own: validation fills in defaults such as tool_choice.
        try:
            body = json.loads(raw) if raw else None
        except (ValueError, UnicodeDecodeError):
            body = None
        record = RecordedRequest(path=self.path, headers=headers, body=body)
        simulator._record(record)
        if simulator.api_key and headers.get("authorization") != f"Bearer {simulator.api_key}":
            self._send_json(401, {"error": "Unauthorized"}, record)
            return
        try:
            parsed = _parse_body(headers.get("content-type", ""), raw)
            if simulator.mistral_api and parsed.get("tool_choice") == "any":
                parsed["tool_choice"] = "required"
            plan = _plan(parsed, headers)
        except _ApiError as error:
            self._send_json(error.status, error.payload(), record)
            return
        if "status" in plan.hooks:
            status = int(plan.hooks["status"]) if plan.hooks["status"].isdigit() else 500
            error = _status_error(status, f"The simulator was asked to fail with {status}")
            # vLLM's auth middleware answers 401 with a bare string.
            payload = {"error": "Unauthorized"} if status == 401 else error.payload()
            self._send_json(status, payload, record)
            return
        include_reasoning = parsed.get("include_reasoning", True) is not False
        if plan.stream:
            self._stream(plan, record, include_reasoning)
        else:
            self._answer(plan, record, include_reasoning)

    def _rates(self, plan: _Plan) -> tuple[float, float]:
        """Chunks per second and first-token delay: the request's hooks, else the simulator's."""
        simulator = self.server.simulator
        return (
            _hook_number(plan.hooks, "rate", simulator.chunks_per_second),
            _hook_number(plan.hooks, "first-token-delay", simulator.first_token_delay),
        )

    def _answer(self, plan: _Plan, record: RecordedRequest, include_reasoning: bool) -> None:
        if plan.engine_error is not None:
            self._send_json(400, plan.engine_error.payload(), record)
            return
        if "stream-error" in plan.hooks:
            error = _status_error(500, "The simulator was asked to fail while generating")
            self._send_json(500, error.payload(), record)
            return
        # Take as long as streaming would have taken; the choices are generated side by side.
        rate, first = self._rates(plan)
        longest = max(choice.generated for choice in plan.choices)
        wait = first + (longest / rate if rate > 0 else 0.0)
        if wait > 0 and not self._pause(wait):
            record.disconnected = not self.server.simulator._stopping
            self.close_connection = True
            return
        self._send_json(200, _completion_body(plan, include_reasoning), record)

    def _stream(self, plan: _Plan, record: RecordedRequest, include_reasoning: bool) -> None:
        frames = _stream_frames(plan, include_reasoning, self.server.simulator.mistral_api)
        simulator = self.server.simulator
        record.status = 200
        try:
            self.send_response(200)
            self.send_header("content-type", "text/event-stream; charset=utf-8")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            write = self.wfile.write
            paced_by_hooks = "rate" in plan.hooks or "first-token-delay" in plan.hooks
            for pace, data, counted in frames:
                if pace:
                    # Read on every chunk: tests change the pacing while answers stream.
                    if paced_by_hooks:
                        rate, first = self._rates(plan)
                    else:
                        rate, first = simulator.chunks_per_second, simulator.first_token_delay
                    delay = (first if pace == _FIRST else 0.0) + (1.0 / rate if rate > 0 else 0.0)
                    if simulator._stopping or (delay > 0 and not self._pause(delay)):
                        raise _ClientGone
                write(data)
                record.chunks_sent += counted
            write(b"0\r\n\r\n")
        except (_ClientGone, *_DISCONNECTS):
            record.disconnected = not simulator._stopping
            self.close_connection = True
            return
        record.completed = True

    def _pause(self, seconds: float) -> bool:
        """Sleep, but return False as soon as the client closes its end of the connection."""
        deadline = time.monotonic() + seconds
        connection = self.connection
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return True
            if self.server.simulator._stopping:
                return False
            try:
                readable, _, _ = select.select([connection], [], [], min(remaining, 0.1))
                if readable and not connection.recv(1, socket.MSG_PEEK):
                    return False
            except (OSError, ValueError):
                return False
            if readable:
                # The client sent something (a pipelined request): just sleep the rest.
                time.sleep(max(0.0, deadline - time.monotonic()))
                return True
