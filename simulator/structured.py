"""Structured outputs: the text a response_format or structured_outputs constraint asks for."""

from __future__ import annotations

import json
import random
from typing import Any

from simulator.grammar import grammar_text
from simulator.regex import regex_text
from simulator.text import FALLBACK_WORDS, answer_pieces


def example(schema: Any, rng: random.Random, topic: list[str], depth: int = 0) -> Any:
    """A plausible value for a JSON schema, enough for tool arguments and JSON mode."""
    if not isinstance(schema, dict) or depth > 6:
        return rng.choice(topic or FALLBACK_WORDS)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return example(schema[key][0], rng, topic, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "string"
    if kind == "object":
        return {
            key: example(value, rng, topic, depth + 1)
            for key, value in (schema.get("properties") or {}).items()
        }
    if kind == "array":
        return [example(schema.get("items"), rng, topic, depth + 1) for _ in range(2)]
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
    return rng.choice(topic or FALLBACK_WORDS)


def structured_text(body: dict[str, Any], rng: random.Random, topic: list[str]) -> str | None:
    response_format = body.get("response_format")
    if isinstance(response_format, dict):
        if response_format.get("type") == "json_object":
            return json.dumps({"answer": "".join(answer_pieces(rng, topic, code=False, target=8))})
        if response_format.get("type") == "json_schema":
            schema = (response_format.get("json_schema") or {}).get("schema") or {"type": "object"}
            return json.dumps(example(schema, rng, topic))
    structured = body.get("structured_outputs")
    if isinstance(structured, dict):
        if structured.get("choice"):
            return str(rng.choice(structured["choice"]))
        if isinstance(structured.get("regex"), str):
            return regex_text(structured["regex"], rng)
        if isinstance(structured.get("grammar"), str):
            return grammar_text(structured["grammar"], rng, topic)
        schema = structured.get("json")
        if isinstance(schema, str):
            try:
                schema = json.loads(schema)
            except ValueError:
                schema = None
        if isinstance(schema, dict):
            return json.dumps(example(schema, rng, topic))
        if structured.get("json_object"):
            return json.dumps({"answer": rng.choice(topic or FALLBACK_WORDS)})
    return None
