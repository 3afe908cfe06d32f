"""The JSON Schema editor (simple rows beside raw JSON) of tool parameters and answers."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from playground import tools

# The options panel's form prefix, which names the answer schema's fields.
OPTIONS_PREFIX = "opt"


@dataclass
class PropertyRow:
    """One row of the simple parameters editor, as typed, with what is wrong with it."""

    name: str = ""
    type: str = "string"
    description: str = ""
    enum: str = ""
    required: bool = False
    index: int = 0
    errors: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, prop: tools.Property) -> PropertyRow:
        return cls(
            prop.name, prop.type, prop.description, tools.enum_text(prop.enum), prop.required
        )

    def is_blank(self) -> bool:
        """A row with nothing typed in it is left out of the schema (new rows start so)."""
        return not (self.name or self.description or self.enum)

    def to_property(self) -> tools.Property | None:
        """The property, or None after noting in `errors` what is wrong."""
        if not self.name:
            self.errors.append("Name: give the property a name, or remove the row.")
        if self.type not in tools.TYPES:
            self.errors.append("Type: choose one of the types in the list.")
        try:
            enum = tools.parse_enum(self.enum, self.type) if self.type in tools.TYPES else []
        except ValueError as exc:
            self.errors.append(f"Allowed values: {exc}")
            enum = []
        if self.errors:
            return None
        return tools.Property(self.name, self.type, self.description, self.required, enum)


@dataclass(frozen=True)
class SchemaPlace:
    """Where a schema editor is drawn: its JSON box, its checks and its words differ."""

    key: str  # posted back as `schema_place`, so a redraw knows where it is
    json_name: str  # the raw JSON box's field name; its id is "id_" and the name
    legend: str
    help: str
    empty: str  # what no properties means
    check: Callable[[Any], dict[str, Any]]  # the schema, or tools.SchemaInvalid
    # What else describes the JSON box; the tool page lists the schema's problems under it.
    described_by: str = "parameters-problems"
    lists_problems: bool = True
    # With no property typed, the tool page writes an empty object schema; elsewhere it is unset.
    empty_is_unset: bool = False
    example: tuple[tools.Property, ...] = ()
    example_name: str = ""  # what "Insert an example" names the schema, if it has no name
    name_field: str = ""  # the field of that name
    placeholder: str = ""


TOOL_PARAMETERS = SchemaPlace(
    "tool",
    "parameters_json",
    "Parameters",
    "The arguments the model writes when it calls the tool. Build them with the simple form, or "
    "edit the JSON Schema; each view follows the other.",
    "No properties: the tool takes no arguments.",
    tools.check_parameters,
)


class ParametersEditor:
    """A schema's properties as rows and as raw JSON, kept in sync: a tool's parameters on its
    page, or the answer's JSON schema in the options panel (`place`).

    `mode` is the side the person edits; the other side is drawn from it, read-only. Posted data
    carries `shown_mode`, the side that was editable when the page was drawn, so switching starts
    from what was last typed, with or without JavaScript. Switching to the simple form is
    refused (JSON mode stays) when the schema uses more than the rows can show.
    """

    SIMPLE, JSON = "simple", "json"
    MAX_ROWS = 200
    types = tools.TYPES
    _ROW = re.compile(r"prop-(\d{1,4})-name")

    def __init__(
        self,
        schema: Any,
        rows: list[PropertyRow] | None,
        mode: str,
        place: SchemaPlace = TOOL_PARAMETERS,
    ) -> None:
        self.place = place
        self.schema = schema  # None when it cannot be saved as it is
        self.json_text = _pretty(schema) if schema is not None else ""
        self.problems: list[str] = []
        self.representable = rows is not None
        self.rows = rows or []
        self.mode = mode if self.representable else self.JSON
        # Why the side asked for is not the one shown, in a sentence (empty when it is).
        self.refusal = ""
        if mode == self.SIMPLE and not self.representable:
            self.refusal = "The simple form cannot show this schema, so it stays in JSON."
        self.focus: int | str | None = None  # a row's index, or "add" for the Add button
        self.saving = True
        self.example_inserted = False
        self._number_rows()

    @classmethod
    def for_schema(cls, schema: dict[str, Any]) -> ParametersEditor:
        """The editor for a stored schema: the simple form when it can show it."""
        props = tools.simple_properties(schema)
        rows = None if props is None else [PropertyRow.of(p) for p in props] or [PropertyRow()]
        return cls(schema, rows, cls.SIMPLE)

    @classmethod
    def for_text(cls, text: str, place: SchemaPlace) -> ParametersEditor:
        """The editor for a schema as its JSON box holds it: the simple form when it can show it."""
        if not text.strip() and place.empty_is_unset:
            return cls._from_rows([PropertyRow()], cls.SIMPLE, place)
        editor = cls._from_json(text, cls.SIMPLE, place)
        editor.refusal = ""  # nothing was asked yet; the simple side says why it is JSON
        return editor

    @classmethod
    def from_post(cls, data: Any) -> ParametersEditor:
        """The editor after a post: rows added or removed, then both sides drawn from the source."""
        place = _PLACES.get(data.get("schema_place"), TOOL_PARAMETERS)
        source = data.get("shown_mode") if data.get("shown_mode") in (cls.SIMPLE, cls.JSON) else ""
        source = source or cls.SIMPLE
        wanted = data.get("mode") if data.get("mode") in (cls.SIMPLE, cls.JSON) else source
        action = data.get("action")
        if source == cls.SIMPLE:
            rows = _posted_rows(data)[: cls.MAX_ROWS]
            focus: int | str | None = None
            if action == "add" and len(rows) < cls.MAX_ROWS:
                rows.append(PropertyRow())
                focus = len(rows) - 1
            elif str(data.get("remove_row", "")).isdigit() and int(data["remove_row"]) < len(rows):
                removed = int(data["remove_row"])
                del rows[removed]
                focus = min(removed, len(rows) - 1) if rows else "add"
            elif action == "example" and place.example:
                rows = _with_example(rows, place.example)
            editor = cls._from_rows(rows, wanted, place)
            editor.focus = focus
        else:
            editor = cls._from_json(data.get(place.json_name, ""), wanted, place)
        editor.example_inserted = source == cls.SIMPLE and action == "example"
        editor.saving = data.get("action", "save") == "save" and "remove_row" not in data
        return editor

    @property
    def blank(self) -> bool:
        """Nothing typed yet: no property named, or an empty JSON box."""
        if self.mode == self.SIMPLE:
            return all(row.is_blank() for row in self.rows)
        return not self.json_text.strip()

    @classmethod
    def _from_rows(
        cls, rows: list[PropertyRow], mode: str, place: SchemaPlace = TOOL_PARAMETERS
    ) -> ParametersEditor:
        props, seen = [], set()
        for row in rows:
            if row.is_blank():
                continue
            prop = row.to_property()
            if row.name and row.name in seen:
                row.errors.append("Name: another property already has this name.")
                prop = None
            seen.add(row.name)
            props.append(prop)
        schema = tools.build_schema(p for p in props if p is not None)
        if any(row.errors for row in rows):
            editor = cls(schema, rows, cls.SIMPLE, place)
            editor.schema = None  # the JSON shows what the good rows write, but nothing saves
            if mode == cls.JSON:
                editor.refusal = "Fix the properties marked below first; then switch to JSON."
        else:
            editor = cls(schema, rows, mode, place)
        if place.empty_is_unset and not props:
            editor.schema, editor.json_text = None, ""
        return editor

    @classmethod
    def _from_json(
        cls, text: str, mode: str, place: SchemaPlace = TOOL_PARAMETERS
    ) -> ParametersEditor:
        try:
            schema = place.check(tools.load_json(text, "The JSON Schema"))
        except tools.SchemaInvalid as exc:
            editor = cls(None, None, mode, place)
            editor.json_text, editor.problems = text, exc.problems
            if editor.refusal:
                editor.refusal = "Fix the JSON first; then switch to the simple form."
            return editor
        props = tools.simple_properties(schema)
        rows = None if props is None else [PropertyRow.of(p) for p in props] or [PropertyRow()]
        editor = cls(schema, rows, mode, place)
        editor.json_text = text  # as typed: the person's own layout stays
        return editor

    def is_valid(self) -> bool:
        return self.schema is not None

    def _number_rows(self) -> None:
        for index, row in enumerate(self.rows):
            row.index = index


def _posted_rows(data: Any) -> list[PropertyRow]:
    numbers = sorted(
        int(match[1]) for key in data if (match := ParametersEditor._ROW.fullmatch(key))
    )
    rows = []
    for number in numbers:
        prefix = f"prop-{number}-"
        rows.append(
            PropertyRow(
                name=data.get(prefix + "name", "").strip(),
                type=data.get(prefix + "type", "string"),
                description=" ".join(data.get(prefix + "description", "").split()),
                enum=data.get(prefix + "enum", "").strip(),
                required=bool(data.get(prefix + "required")),
            )
        )
    return rows


def _with_example(
    rows: list[PropertyRow], example: tuple[tools.Property, ...]
) -> list[PropertyRow]:
    """The rows typed so far, then the example's rows whose names are not taken."""
    kept = [row for row in rows if not row.is_blank()]
    taken = {row.name for row in kept}
    return kept + [PropertyRow.of(prop) for prop in example if prop.name not in taken]


def _pretty(schema: Any) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False)


# The answer's JSON schema in the options panel (response_format json_schema): any schema the
# standard accepts, its JSON box the option's own field, its problems said beside that field.
_ANSWER_FIELD = f"{OPTIONS_PREFIX}-json_schema"
ANSWER_SCHEMA = SchemaPlace(
    "answer",
    _ANSWER_FIELD,
    "Fields of the answer",
    "The answer is a JSON object with these fields. Build them with the simple form, or edit "
    "the JSON Schema; each view follows the other.",
    "No fields yet: add one, or insert the example.",
    tools.check_schema,
    described_by=f"id_{_ANSWER_FIELD}_helptext id_{_ANSWER_FIELD}_error",
    lists_problems=False,
    empty_is_unset=True,
    example=(
        tools.Property("name", "string", "The person's full name", required=True),
        tools.Property("age", "integer", "Age in years", required=True),
    ),
    example_name="person",
    name_field=f"{OPTIONS_PREFIX}-json_schema_name",
    placeholder='e.g. {"type": "object", "properties": {"name": {"type": "string"}, '
    '"age": {"type": "integer"}}, "required": ["name", "age"]}',
)
_PLACES = {place.key: place for place in (TOOL_PARAMETERS, ANSWER_SCHEMA)}
