"""Whether an answer passes a check, and if not why, in words a person reads in the grid."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import jsonschema

# An answer's text is searched by a person's pattern: it is cut to this length first.
MAX_SEARCHED = 200_000


@dataclass(frozen=True)
class Answer:
    """What a check looks at: the answer and what the request asked for."""

    text: str
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # {"name", "arguments"}
    finish_reason: str = ""
    completion_tokens: int | None = None
    request: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Result:
    label: str
    passed: bool
    why: str = ""

    def as_data(self) -> dict[str, Any]:
        return {"label": self.label, "passed": self.passed, "why": self.why}


def evaluate(check: dict[str, Any], answer: Answer) -> Result:
    """One check (as `Check.as_data` stores it) applied to one answer."""
    why = _FAILURES[check["kind"]](check, answer)
    return Result(check["label"], why is None, why or "")


def evaluate_all(checks: list[dict[str, Any]], case_id: int | None, answer: Answer) -> list[Result]:
    """The checks that apply to this row: those for every row, then the row's own."""
    return [
        evaluate(check, answer)
        for check in checks
        if check.get("case") is None or check.get("case") == case_id
    ]


def _folded(text: str, check: dict[str, Any]) -> str:
    return text.casefold() if check.get("ignore_case") else text


def _contains(check: dict[str, Any], answer: Answer) -> str | None:
    if _folded(check["value"], check) in _folded(answer.text, check):
        return None
    return f"“{check['value']}” is not in the answer"


def _not_contains(check: dict[str, Any], answer: Answer) -> str | None:
    if _folded(check["value"], check) not in _folded(answer.text, check):
        return None
    return f"the answer contains “{check['value']}”"


def _equals(check: dict[str, Any], answer: Answer) -> str | None:
    # Leading and trailing white space is not a difference a person sees.
    if _folded(check["value"].strip(), check) == _folded(answer.text.strip(), check):
        return None
    return f"the answer is not exactly “{check['value'].strip()}”"


def _regex(check: dict[str, Any], answer: Answer) -> str | None:
    flags = re.IGNORECASE if check.get("ignore_case") else 0
    try:
        pattern = re.compile(check["value"], flags)
    except re.error as exc:  # refused when the check is saved; kept for stored runs
        return f"the pattern is not valid: {exc}"
    if pattern.search(answer.text[:MAX_SEARCHED]):
        return None
    return f"nothing in the answer matches /{check['value']}/"


def parse_json(text: str) -> tuple[Any, str | None]:
    """The answer as JSON, or why it is not. A ```json fence around it is allowed."""
    stripped = text.strip()
    fenced = re.fullmatch(r"```(?:json)?\s*\n(.*)\n```", stripped, re.DOTALL)
    if fenced:
        stripped = fenced.group(1)
    try:
        return json.loads(stripped), None
    except json.JSONDecodeError as exc:
        if not stripped:
            return None, "the answer is empty, not JSON"
        return None, f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"


def _valid_json(check: dict[str, Any], answer: Answer) -> str | None:
    return parse_json(answer.text)[1]


def request_schema(request: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON Schema the request asked the answer to follow (response_format or
    structured_outputs/guided_json), if any."""
    response_format = request.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        return (response_format.get("json_schema") or {}).get("schema")
    for name in ("structured_outputs", "guided_json"):
        value = request.get(name)
        if isinstance(value, dict) and name == "structured_outputs":
            value = value.get("json")
        if isinstance(value, dict):
            return value
    return None


def schema_failure(instance: Any, schema: dict[str, Any]) -> str | None:
    """The most telling way `instance` fails `schema`, in words, or None if it matches."""
    try:
        validator = jsonschema.validators.validator_for(schema)(schema)
        error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
    except jsonschema.exceptions.SchemaError as exc:
        return f"the schema itself is not valid: {exc.message}"
    if error is None:
        return None
    where = "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    if error.validator == "required":
        missing = [key for key in error.validator_value if key not in (error.instance or {})]
        keys = ", ".join(f"“{key}”" for key in missing) or "a required"
        return f"no {keys} key" + (f" in {where.lstrip('.')}" if where else "")
    return f"{where.lstrip('.') + ': ' if where else ''}{error.message}"


def _json_schema(check: dict[str, Any], answer: Answer) -> str | None:
    schema = check.get("schema") or request_schema(answer.request)
    if schema is None:
        return "no schema: give one in the check, or send a response_format json_schema"
    instance, error = parse_json(answer.text)
    if error:
        return error
    return schema_failure(instance, schema)


def _tool_call(check: dict[str, Any], answer: Answer) -> str | None:
    expected = check["value"].strip()
    names = [call.get("name") or "" for call in answer.tool_calls]
    if expected not in names:
        called = ", ".join(names) if names else "no tool"
        return f"called {called}, expected {expected}"
    if not check.get("schema"):
        return None
    failures = []
    for call in answer.tool_calls:
        if call.get("name") != expected:
            continue
        try:
            arguments = json.loads(call.get("arguments") or "{}")
        except json.JSONDecodeError as exc:
            failures.append(f"its arguments are not valid JSON ({exc.msg})")
            continue
        failure = schema_failure(arguments, check["schema"])
        if failure is None:
            return None
        failures.append(failure)
    return f"called {expected}, but {failures[0]}"


def _finish_stop(check: dict[str, Any], answer: Answer) -> str | None:
    if answer.finish_reason == "stop":
        return None
    if answer.finish_reason == "length":
        return "cut off at the length limit (finish reason length), expected stop"
    return f"finished with {answer.finish_reason or 'no reason'}, expected stop"


def _max_tokens(check: dict[str, Any], answer: Answer) -> str | None:
    limit = int(check["value"])
    if answer.completion_tokens is None:
        return "the server did not say how many tokens the answer took"
    if answer.completion_tokens < limit:
        return None
    return f"{answer.completion_tokens:,} tokens, expected under {limit:,}"


_FAILURES = {
    "contains": _contains,
    "not_contains": _not_contains,
    "equals": _equals,
    "regex": _regex,
    "valid_json": _valid_json,
    "json_schema": _json_schema,
    "tool_call": _tool_call,
    "finish_stop": _finish_stop,
    "max_tokens": _max_tokens,
}
