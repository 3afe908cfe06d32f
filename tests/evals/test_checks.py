"""Every kind of check: it passes the answers it should, and a failure says why in words."""

from __future__ import annotations

import json

import pytest

from evals.checks import Answer, evaluate


def result(kind: str, text: str = "", value: str = "", **fields):
    check = {"kind": kind, "value": value, "label": kind, "ignore_case": False, "schema": None}
    check.update({k: v for k, v in fields.items() if k in ("ignore_case", "schema")})
    answer = Answer(
        text=text,
        **{k: v for k, v in fields.items() if k not in ("ignore_case", "schema")},
    )
    return evaluate(check, answer)


def test_contains_passes_when_the_text_is_there_and_says_when_not():
    assert result("contains", "The capital is Paris.", "Paris").passed
    failed = result("contains", "The capital is Lyon.", "Paris")
    assert not failed.passed and failed.why == "“Paris” is not in the answer"


def test_contains_can_ignore_case():
    assert not result("contains", "paris", "Paris").passed
    assert result("contains", "paris", "Paris", ignore_case=True).passed


def test_does_not_contain_fails_when_the_text_is_there():
    assert result("not_contains", "Fine.", "sorry").passed
    failed = result("not_contains", "I am sorry.", "sorry")
    assert not failed.passed and failed.why == "the answer contains “sorry”"


def test_equals_ignores_surrounding_white_space_only():
    assert result("equals", "  positive\n", "positive").passed
    failed = result("equals", "positive!", "positive")
    assert not failed.passed and "not exactly “positive”" in failed.why


def test_regex_searches_the_answer():
    assert result("regex", "Total: 42 euros", r"\d+ euros").passed
    failed = result("regex", "Total: forty", r"^\d+$")
    assert not failed.passed and failed.why == r"nothing in the answer matches /^\d+$/"


def test_valid_json_says_where_the_json_breaks():
    assert result("valid_json", '{"city": "Paris"}').passed
    assert result("valid_json", '```json\n{"city": "Paris"}\n```').passed
    failed = result("valid_json", '{"city": Paris}')
    assert not failed.passed
    assert failed.why == "not valid JSON: Expecting value at line 1, column 10"
    assert result("valid_json", "").why == "the answer is empty, not JSON"


SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
    "required": ["city"],
}


def test_schema_check_names_the_missing_key():
    assert result("json_schema", '{"city": "Paris"}', schema=SCHEMA).passed
    failed = result("json_schema", '{"town": "Paris"}', schema=SCHEMA)
    assert not failed.passed and failed.why == "no “city” key"


def test_schema_check_names_the_field_of_the_wrong_type():
    failed = result("json_schema", '{"city": "Paris", "population": "many"}', schema=SCHEMA)
    assert failed.why == "population: 'many' is not of type 'integer'"


def test_schema_check_defaults_to_the_response_format_schema_sent():
    request = {
        "response_format": {"type": "json_schema", "json_schema": {"name": "c", "schema": SCHEMA}}
    }
    assert result("json_schema", '{"city": "Oslo"}', request=request).passed
    assert result("json_schema", "{}", request=request).why == "no “city” key"
    without = result("json_schema", "{}")
    assert not without.passed and without.why.startswith("no schema:")


def call(name: str, arguments: dict) -> dict:
    return {"name": name, "arguments": json.dumps(arguments)}


def test_tool_call_check_says_which_tool_was_called_instead():
    calls = [call("get_weather", {"city": "Paris"})]
    assert result("tool_call", "", "get_weather", tool_calls=calls).passed
    wrong = result("tool_call", "", "get_weather", tool_calls=[call("get_time", {})])
    assert wrong.why == "called get_time, expected get_weather"
    assert result("tool_call", "Sunny.", "get_weather").why == (
        "called no tool, expected get_weather"
    )


def test_tool_call_check_can_hold_the_arguments_to_a_schema():
    calls = [call("get_weather", {"town": "Paris"})]
    failed = result("tool_call", "", "get_weather", tool_calls=calls, schema=SCHEMA)
    assert failed.why == "called get_weather, but no “city” key"
    good = [call("get_weather", {"city": "Paris"})]
    assert result("tool_call", "", "get_weather", tool_calls=good, schema=SCHEMA).passed


@pytest.mark.parametrize(
    ("reason", "why"),
    [
        ("length", "cut off at the length limit (finish reason length), expected stop"),
        ("tool_calls", "finished with tool_calls, expected stop"),
    ],
)
def test_finish_reason_stop(reason, why):
    assert result("finish_stop", "Done.", finish_reason="stop").passed
    assert result("finish_stop", "Do", finish_reason=reason).why == why


def test_under_n_tokens():
    assert result("max_tokens", "Short.", "50", completion_tokens=12).passed
    assert result("max_tokens", "Long.", "50", completion_tokens=50).why == (
        "50 tokens, expected under 50"
    )
