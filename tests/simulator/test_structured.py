"""Structured outputs: a JSON schema or a regular expression answered with text it accepts."""

from __future__ import annotations

import json
import re

from tests.simulator.helpers import SMALL, chat


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


def test_structured_regex_answers_text_the_pattern_matches(client):
    for pattern in [r"\d{3}-\d{4}", "(yes|no|maybe)", "[A-Z][a-z]{2,5}!"]:
        body = chat(client, model=SMALL, structured_outputs={"regex": pattern}).json()
        assert re.fullmatch(pattern, body["choices"][0]["message"]["content"]), pattern
