"""Tool definitions as data: JSON Schemas from simple property rows and back, checks, import."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError, best_match

# The function name rule of OpenAI's API, which vLLM and Mistral's API follow.
NAME_PATTERN = r"^[a-zA-Z0-9_-]{1,64}$"
NAME_HELP = "Letters, digits, _ and - only, up to 64 characters, e.g. get_current_weather."
_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")

# The types the simple editor offers, with the words it shows for them.
TYPES = {
    "string": "Text (string)",
    "number": "Decimal number (number)",
    "integer": "Whole number (integer)",
    "boolean": "Yes or no (boolean)",
    "array": "List (array)",
    "object": "Group of named values (object)",
}
_ENUM_TYPES = ("string", "number", "integer")
_JSON_TYPES = ("string", "number", "integer", "boolean", "array", "object", "null")
_TYPE_WORDS = {
    "array": "a list ([…])",
    "object": "an object ({…})",
    "string": "text in quotes",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "null": "null",
}


class SchemaInvalid(ValueError):
    """A schema (or JSON text) that cannot be used; `problems` are plain sentences with places."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(" ".join(self.problems))


class ToolsRejected(ValueError):
    """Pasted tools that cannot be imported; the text names the tool and what is wrong."""


def empty_parameters() -> dict[str, Any]:
    """The parameters of a tool that takes no arguments."""
    return {"type": "object", "properties": {}}


def name_problem(name: Any) -> str | None:
    """Why `name` cannot name a tool, or None when it can."""
    if not isinstance(name, str) or not name:
        return "A tool needs a name. " + NAME_HELP
    if not _NAME.fullmatch(name):
        return f"“{name}” cannot be a tool name. " + NAME_HELP
    return None


def openai_tool(
    name: str, description: str, parameters: dict[str, Any], strict: bool = False
) -> dict[str, Any]:
    """One entry of the request's `tools` list; `strict` is sent only when on."""
    function: dict[str, Any] = {"name": name, "description": description, "parameters": parameters}
    if strict:
        function["strict"] = True
    return {"type": "function", "function": function}


def signature(name: str, parameters: Any) -> str:
    """A one-line summary such as `get_current_weather(location, unit?)`; ? marks optional ones."""
    properties = parameters.get("properties") if isinstance(parameters, dict) else None
    if not isinstance(properties, dict):
        return f"{name}(…)"
    required = parameters.get("required")
    required = {r for r in required if isinstance(r, str)} if isinstance(required, list) else set()
    arguments = [p if p in required else f"{p}?" for p in properties]
    return f"{name}({', '.join(arguments)})"


# ---- The simple editor: one row per property --------------------------------------------------


@dataclass
class Property:
    name: str
    type: str = "string"
    description: str = ""
    required: bool = False
    enum: list[Any] = field(default_factory=list)


def build_schema(properties: Iterable[Property]) -> dict[str, Any]:
    """The object schema the rows describe, `required` in row order and left out when empty."""
    schema: dict[str, Any] = {"type": "object", "properties": {}}
    required = []
    for prop in properties:
        item: dict[str, Any] = {"type": prop.type}
        if prop.description:
            item["description"] = prop.description
        if prop.enum:
            item["enum"] = list(prop.enum)
        schema["properties"][prop.name] = item
        if prop.required:
            required.append(prop.name)
    if required:
        schema["required"] = required
    return schema


def simple_properties(schema: Any) -> list[Property] | None:
    """The rows that write exactly `schema`, or None when the simple editor cannot show it."""
    if not isinstance(schema, dict) or schema.get("type") != "object":
        return None
    if set(schema) - {"type", "properties", "required"}:
        return None
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    if not isinstance(properties, dict) or not isinstance(required, list):
        return None
    if not all(isinstance(name, str) for name in required):
        return None
    if len(set(required)) != len(required) or not set(required) <= set(properties):
        return None
    rows = []
    for name, item in properties.items():
        if not _one_line(name) or not isinstance(item, dict):
            return None
        kind = item.get("type")
        if set(item) - {"type", "description", "enum"} or not isinstance(kind, str):
            return None
        if kind not in TYPES:
            return None
        # A row's fields are single lines, trimmed, and an empty one is left out of the schema.
        if "description" in item and not _one_line(item["description"]):
            return None
        enum = item.get("enum")
        if enum is not None and not _typeable_enum(enum, kind):
            return None
        rows.append(Property(name, kind, item.get("description", ""), name in required, enum or []))
    return rows


def _one_line(text: Any) -> bool:
    return isinstance(text, str) and bool(text) and text == text.strip() and "\n" not in text


def _typeable_enum(values: Any, kind: str) -> bool:
    """Whether the allowed values come back exactly from the comma-separated text a row shows."""
    if kind not in _ENUM_TYPES or not isinstance(values, list) or not values:
        return False
    try:
        again = parse_enum(enum_text(values), kind)
    except (TypeError, ValueError):
        return False
    return again == values and all(type(a) is type(b) for a, b in zip(again, values, strict=True))


def parse_enum(text: Any, kind: str) -> list[Any]:
    """Comma-separated allowed values typed in a row, as values of the property's type."""
    if not isinstance(text, str):
        raise TypeError("enum text must be a string")
    words = [word.strip() for word in text.split(",")]
    words = [word for word in words if word]
    if not words:
        return []
    if kind not in _ENUM_TYPES:
        raise ValueError("Allowed values work with text and numbers only; leave this empty.")
    values: list[Any] = []
    for word in words:
        if kind == "string":
            value: Any = word
        elif kind == "integer":
            if not re.fullmatch(r"[-+]?\d+", word):
                raise ValueError(f"“{word}” is not a whole number.")
            value = int(word)
        else:
            try:
                value = int(word) if re.fullmatch(r"[-+]?\d+", word) else float(word)
            except ValueError:
                raise ValueError(f"“{word}” is not a number.") from None
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"“{word}” is not a number.")
        if value in values:
            raise ValueError(f"“{word}” is listed twice.")
        values.append(value)
    return values


def enum_text(values: Iterable[Any]) -> str:
    """The allowed values as a row shows them."""
    parts = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise TypeError("only text and numbers can be typed as allowed values")
        parts.append(value if isinstance(value, str) else json.dumps(value))
    return ", ".join(parts)


# ---- Checking schemas and arguments ----------------------------------------------------------


def load_json(text: str, what: str = "The JSON") -> Any:
    """Parse JSON text, or SchemaInvalid saying where it breaks."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SchemaInvalid(
            [f"{what} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."]
        ) from None


def schema_problems(schema: Any, *, root: str = "") -> list[str]:
    """Everything wrong with `schema` as a tool's parameters, in plain words with the place.

    Checked as `meta_schema_problems` does, and the top level must be an object schema, as
    function arguments are.
    """
    if not isinstance(schema, dict):
        return [f'{_where([], root)}: must be an object ({{…}}) with "type": "object"']
    problems = meta_schema_problems(schema, root=root)
    if schema.get("type") != "object":
        problems.append(f'{_where(["type"], root)}: must be "object" (arguments are an object)')
    return _unique(problems)


def meta_schema_problems(schema: Any, *, root: str = "") -> list[str]:
    """Everything the JSON Schema standard finds wrong with `schema`, in plain words with the place.

    Checked against the meta-schema of the draft `$schema` names (2020-12 if none). Places read
    like "properties → unit → enum: must be a list ([…])"; `root` names the top when given.
    """
    if not isinstance(schema, dict):
        return [f"{_where([], root)}: must be an object ({{…}})"]
    draft = schema.get("$schema", "")
    cls = (
        jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        if isinstance(draft, str)
        else jsonschema.Draft202012Validator
    )
    checker = cls(cls.META_SCHEMA, format_checker=cls.FORMAT_CHECKER)
    errors = sorted(checker.iter_errors(schema), key=lambda e: [str(p) for p in e.absolute_path])
    return _unique(_plain(error, root) for error in errors)


def check_parameters(schema: Any) -> dict[str, Any]:
    """`schema` when it can be a tool's parameters, else SchemaInvalid."""
    problems = schema_problems(schema)
    if problems:
        raise SchemaInvalid(problems)
    return schema


def check_schema(schema: Any) -> dict[str, Any]:
    """`schema` when the JSON Schema standard accepts it (as an answer's), else SchemaInvalid."""
    problems = meta_schema_problems(schema)
    if problems:
        raise SchemaInvalid(problems)
    return schema


def argument_problems(parameters: dict[str, Any], arguments: str) -> list[str]:
    """What is wrong with a tool call's arguments (JSON text) for the tool's schema; [] if fine."""
    try:
        value = json.loads(arguments)
    except (json.JSONDecodeError, TypeError) as exc:
        return [f"The arguments are not valid JSON: {getattr(exc, 'msg', exc)}."]
    if schema_problems(parameters):
        return []  # nothing to judge them by
    cls = jsonschema.validators.validator_for(parameters, default=jsonschema.Draft202012Validator)
    checker = cls(parameters, format_checker=cls.FORMAT_CHECKER)
    errors = sorted(checker.iter_errors(value), key=lambda e: [str(p) for p in e.absolute_path])
    return _unique(_plain(error) for error in errors)


def _unique(texts: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(texts))


def _where(path: Iterable[Any], root: str = "") -> str:
    parts = [f"item {part + 1}" if isinstance(part, int) else str(part) for part in path]
    parts = [root, *parts] if root else parts
    return " → ".join(parts) if parts else "top level"


def _plain(error: ValidationError, root: str = "") -> str:
    """One jsonschema error as '<place>: <what is wrong>'."""
    kind, expected, path = error.validator, error.validator_value, list(error.absolute_path)
    if kind in ("anyOf", "oneOf") and path and path[-1] == "type":
        allowed = ", ".join(_JSON_TYPES)
        wrong = error.instance
        if isinstance(wrong, list) and (unknown := [k for k in wrong if k not in _JSON_TYPES]):
            wrong = unknown[0]  # the misspelt one, not the whole list
        problem = f"must be one of {allowed} (or a list of them), not {_show(wrong)}"
    elif kind in ("anyOf", "oneOf") and error.context:
        return _plain(best_match(error.context), root)
    elif kind == "type" and expected in (["object", "boolean"], ["boolean", "object"]):
        # Where a schema goes; a type name alone there is the common slip.
        problem = 'must be a schema in { }, like {"type": "string"}'
        if error.instance in _JSON_TYPES:
            problem = f'must be a schema in {{ }}: write {{"type": {_show(error.instance)}}}'
    elif kind == "type":
        kinds = expected if isinstance(expected, list) else [expected]
        problem = "must be " + " or ".join(_TYPE_WORDS.get(k, k) for k in kinds)
    elif kind == "required":
        missing = [name for name in expected if name not in error.instance]
        path.append(missing[0] if missing else "?")
        problem = "is required but missing"
    elif kind == "enum":
        problem = "must be one of " + ", ".join(_show(value) for value in expected)
    elif kind == "const":
        problem = f"must be {_show(expected)}"
    elif kind in _LIMITS:
        problem = _LIMITS[kind].format(expected)
    elif kind in ("minItems", "minLength") and expected == 1:
        problem = "must not be empty"
    elif kind == "uniqueItems":
        problem = "must not list the same value twice"
    elif kind == "format" and expected == "regex":
        problem = "is not a valid regular expression"
    elif kind == "additionalProperties" and expected is False:
        problem = "has a property the schema does not allow: " + _extra(error)
    else:
        problem = error.message
    return f"{_where(path, root)}: {problem}"


_LIMITS = {
    "minimum": "must be at least {}",
    "maximum": "must be at most {}",
    "exclusiveMinimum": "must be more than {}",
    "exclusiveMaximum": "must be less than {}",
    "multipleOf": "must be a multiple of {}",
    "maxItems": "must list at most {} items",
    "maxLength": "must be at most {} characters long",
    "maxProperties": "must have at most {} properties",
    "minProperties": "must have at least {} properties",
    "pattern": "must match the pattern {}",
}


def _extra(error: ValidationError) -> str:
    allowed = set(error.schema.get("properties", {}))
    extra = [name for name in error.instance if name not in allowed]
    return ", ".join(extra) or "?"


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "…"


# ---- Import and export -----------------------------------------------------------------------


@dataclass(frozen=True)
class ToolSpec:
    """One tool read from pasted JSON, checked and ready to store."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=empty_parameters)
    strict: bool = False

    def as_openai(self) -> dict[str, Any]:
        return openai_tool(self.name, self.description, self.parameters, self.strict)


def parse_tools(text: str) -> list[ToolSpec]:
    """OpenAI-style `tools` JSON, checked whole: one tool or a list, wrapped or bare.

    Accepts `{"type": "function", "function": {...}}`, bare `{"name": ..., "parameters": ...}`,
    a list of either, or a request body with a `tools` list. Raises ToolsRejected naming the
    first tool that is wrong and what is wrong with it.
    """
    if not text.strip():
        raise ToolsRejected("Paste the tools' JSON first.")
    try:
        data = load_json(text)
    except SchemaInvalid as exc:
        raise ToolsRejected(str(exc)) from None
    if isinstance(data, dict) and isinstance(data.get("tools"), list):
        data = data["tools"]
    items = data if isinstance(data, list) else [data]
    if not items:
        raise ToolsRejected("The list is empty: there is no tool to import.")
    specs: list[ToolSpec] = []
    seen: dict[str, int] = {}
    for number, item in enumerate(items, start=1):
        spec = _read_tool(item, _label(number, item, len(items)))
        if spec.name in seen:
            raise ToolsRejected(
                f"{_label(number, item, len(items))}: tool {seen[spec.name]} has the same name."
            )
        seen[spec.name] = number
        specs.append(spec)
    return specs


def tools_json(tools: Iterable[Any]) -> str:
    """The OpenAI `tools` list of anything with `as_openai()`, as a file to download."""
    return json.dumps([tool.as_openai() for tool in tools], indent=2, ensure_ascii=False) + "\n"


def _label(number: int, item: Any, count: int) -> str:
    name = _function_of(item).get("name") if isinstance(item, dict) else None
    label = f"Tool {number}" if count > 1 else "The tool"
    return f"{label} ({name})" if isinstance(name, str) and name else label


def _function_of(item: dict[str, Any]) -> dict[str, Any]:
    function = item.get("function")
    if item.get("type") == "function" or isinstance(function, dict):
        return function if isinstance(function, dict) else {}
    return item


def _read_tool(item: Any, label: str) -> ToolSpec:
    if not isinstance(item, dict):
        raise ToolsRejected(f"{label}: must be an object like {_EXAMPLE}.")
    if "type" in item and item["type"] != "function":
        raise ToolsRejected(f'{label}: type must be "function", not {_show(item["type"])}.')
    wrapped = item.get("type") == "function" or "function" in item
    if wrapped and not isinstance(item.get("function"), dict):
        raise ToolsRejected(f"{label}: function must be an object with a name and parameters.")
    function = _function_of(item)
    name = function.get("name")
    if problem := name_problem(name):
        raise ToolsRejected(f"{label}: {problem}")
    description = function.get("description") or ""
    if not isinstance(description, str):
        raise ToolsRejected(f"{label}: description must be text.")
    parameters = function.get("parameters")
    if parameters is None:
        parameters = empty_parameters()
    problems = schema_problems(parameters, root="parameters")
    if problems:
        raise ToolsRejected(f"{label}: " + "; ".join(problems) + ".")
    strict = function.get("strict", False)
    if strict is None:
        strict = False
    if not isinstance(strict, bool):
        raise ToolsRejected(f"{label}: strict must be true or false.")
    return ToolSpec(name, description, parameters, strict)


_EXAMPLE = '{"type": "function", "function": {"name": "…", "parameters": {…}}}'
