"""Forms: what a person may change, validated in plain words."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from django import forms

from playground import options, tools
from playground.connections import all_connections
from playground.models import (
    TOOL_CALL_ID,
    Conversation,
    Message,
    ToolClash,
    ToolDefinition,
    check_tool_calls,
    new_tool_call_id,
)


class ConversationSettingsForm(forms.ModelForm):
    connection = forms.ChoiceField(label="Connection")
    model = forms.CharField(label="Model", max_length=200)
    system_prompt = forms.CharField(
        label="System prompt",
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": "e.g. You are a concise assistant."}
        ),
        help_text="Instructions the model reads before the conversation. Leave empty for none.",
    )

    class Meta:
        model = Conversation
        fields = ["connection", "model", "system_prompt"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["connection"].choices = [(c.slug, c.name) for c in all_connections()]


class ComposerForm(forms.Form):
    message = forms.CharField(
        label="Message",
        max_length=100_000,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Type a message…"}),
        error_messages={"required": "Type a message first."},
    )


# Targets that serve Mistral models, whose tokenizers take only 9-character tool-call ids.
_MISTRAL_IDS = (options.VLLM, options.MISTRAL)
_ID_RULE = "Tool call ids must be 9 letters or digits for Mistral models (e.g. aB3dE5gH7)"


class HandMessageForm(forms.Form):
    """A message set by hand, in any role; fields the role does not use are ignored.

    A tool call without an id gets one HexPlay makes (9 letters or digits); ids typed by hand
    are checked for that shape when the conversation's server runs Mistral models (`target`).
    """

    role = forms.ChoiceField(label="Role", choices=Message.Role.choices)
    content = forms.CharField(
        label="Content", required=False, strip=False, max_length=100_000, widget=forms.Textarea
    )
    tool_call_id = forms.CharField(label="Tool call id", required=False, max_length=100)
    name = forms.CharField(label="Tool name", required=False, max_length=100)
    tool_calls = forms.CharField(label="Tool calls (JSON)", required=False, widget=forms.Textarea)

    def __init__(self, *args: Any, target: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.target = target

    def clean_tool_calls(self) -> list[dict[str, Any]] | None:
        text = self.cleaned_data["tool_calls"].strip()
        if not text:
            return None
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                f"Tool calls are not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
            ) from None
        if isinstance(value, list):
            value = [_with_an_id(call) for call in value]
        try:
            calls = check_tool_calls(value) or None
        except ValueError as exc:
            raise forms.ValidationError(
                f'Tool calls: {exc}. Write a list like [{{"type": "function", '
                f'"function": {{"name": "get_weather", "arguments": "{{}}"}}}}].'
            ) from None
        bad = [call["id"] for call in calls or [] if not self._id_fits(call["id"])]
        if bad and self.cleaned_data.get("role") == Message.Role.ASSISTANT:
            raise forms.ValidationError(f"{_ID_RULE}: {bad[0]} is not.")
        return calls

    def clean_tool_call_id(self) -> str:
        call_id = self.cleaned_data["tool_call_id"].strip()
        answers_a_call = self.cleaned_data.get("role") == Message.Role.TOOL
        if answers_a_call and call_id and not self._id_fits(call_id):
            raise forms.ValidationError(f"{_ID_RULE}: {call_id} is not.")
        return call_id

    def _id_fits(self, call_id: str) -> bool:
        return self.target not in _MISTRAL_IDS or TOOL_CALL_ID.fullmatch(call_id) is not None

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        role = data.get("role")
        if role is None:
            return data
        if data.get("tool_calls") and role != Message.Role.ASSISTANT:
            self.add_error("tool_calls", "Only assistant messages carry tool calls.")
        if role == Message.Role.TOOL and not data.get("tool_call_id", "").strip():
            self.add_error(
                "tool_call_id", "A tool message needs the id of the tool call it answers."
            )
        if not data.get("content", "").strip():
            if role != Message.Role.ASSISTANT:
                self.add_error("content", "Write the message's content.")
            elif not data.get("tool_calls"):
                self.add_error("content", "Write the answer's text, or give it tool calls.")
        return data

    def message_fields(self) -> dict[str, Any]:
        """The message's fields for its role (a tool id on a user message is dropped)."""
        data = self.cleaned_data
        role = data["role"]
        return {
            "content": data["content"],
            "tool_calls": data["tool_calls"] if role == Message.Role.ASSISTANT else None,
            "tool_call_id": data["tool_call_id"] if role == Message.Role.TOOL else "",
            "name": data["name"].strip() if role == Message.Role.TOOL else "",
        }

    def first_error(self) -> str:
        return next(iter(self.errors.values()))[0]


def _with_an_id(call: Any) -> Any:
    """A tool call written without an id (or an empty one) gets one HexPlay makes."""
    if isinstance(call, dict) and not str(call.get("id") or "").strip():
        return {**call, "id": new_tool_call_id()}
    return call


class ImportForm(forms.Form):
    MAX_BYTES = 20 * 1024 * 1024

    file = forms.FileField(
        label="JSON file",
        required=False,
        help_text="A HexPlay export, or any OpenAI chat request body.",
    )
    text = forms.CharField(label="Or paste the JSON", required=False, widget=forms.Textarea)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        upload, text = data.get("file"), data.get("text", "").strip()
        if upload and text:
            raise forms.ValidationError("Choose a file or paste the JSON, not both.")
        if not upload and not text:
            raise forms.ValidationError("Choose a file or paste the JSON first.")
        if upload:
            if upload.size > self.MAX_BYTES:
                raise forms.ValidationError("The file is larger than 20 MB.")
            try:
                text = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                raise forms.ValidationError("The file is not UTF-8 text.") from None
        data["json"] = text
        return data


# Kinds typed over several lines.
_MULTILINE = {"longtext", "lines", "token_biases", "json_object", "json_array", "json_text"}
_MULTILINE |= {"schema", "extra"}


class RequestOptionsForm(forms.Form):
    """The request options panel: a field per option the target accepts.

    Every field is the text as typed; `playground.options` reads and checks it, so the panel,
    its autosave and sending share one set of rules and one set of messages.
    """

    prefix = "opt"
    SCHEMA = "json_schema"  # the option whose field is the schema editor's JSON box

    def __init__(
        self,
        data: Any,
        *,
        target: str,
        messages: list[dict[str, Any]] | None = None,
        tools: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(data)
        self.target = target
        self.messages = messages
        self.tools = tools  # the attached tools, as sent
        for option in options.options_for(target):
            if option.typed:
                self.fields[option.key] = _option_field(option, target)
        if "tool_choice" in self.fields:
            self._offer_attached_tools()
        for name in self.fields:
            auto_id = self[name].auto_id
            # The error paragraph is always there (empty when fine) so the autosave can swap it.
            self.fields[name].widget.attrs["aria-describedby"] = (
                f"{auto_id}_helptext {auto_id}_error"
            )

    def _offer_attached_tools(self) -> None:
        """Tool choice offers each attached tool by name, and keeps a choice no longer offered."""
        widget = self.fields["tool_choice"].widget
        names = [tool["function"]["name"] for tool in self.tools or []]
        widget.choices += [(f"{options.NAMED_TOOL}{n}", f"{n} (always call it)") for n in names]
        chosen = self.data.get(self.add_prefix("tool_choice"), "")
        if chosen and chosen not in dict(widget.choices):
            shown = chosen.removeprefix(options.NAMED_TOOL)
            widget.choices += [(chosen, f"{shown} (not attached)")]

    @classmethod
    def for_stored(
        cls,
        stored: dict[str, Any],
        *,
        target: str,
        messages: list[dict[str, Any]] | None,
        tools: list[dict[str, Any]] | None = None,
    ) -> RequestOptionsForm:
        """The panel as the conversation's stored options fill it, checked."""
        texts = options.stored_texts(stored, target)
        data = {f"{cls.prefix}-{k}": v for k, v in texts.items()}
        form = cls(data, target=target, messages=messages, tools=tools)
        form.is_valid()
        return form

    def texts(self) -> dict[str, str]:
        """What was typed, by option key; fields missing from the data are left as they were.

        The schema comes from its editor's rows while they are the side being edited, so an
        autosave never waits for, or races, the redraw of the JSON box.
        """
        posted = {name: self.add_prefix(name) for name in self.fields}
        texts = {name: self.data[field] for name, field in posted.items() if field in self.data}
        if self.data.get("schema_place") == ANSWER_SCHEMA.key and self.SCHEMA in self.fields:
            editor = self.schema_editor
            texts[self.SCHEMA] = editor.json_text
            if editor.example_inserted and not texts.get("json_schema_name", "").strip():
                texts["json_schema_name"] = ANSWER_SCHEMA.example_name
        return texts

    @cached_property
    def schema_editor(self) -> ParametersEditor:
        """The rows and raw JSON of the answer's schema (response_format json_schema)."""
        if self.data.get("schema_place") == ANSWER_SCHEMA.key:
            return ParametersEditor.from_post(self.data)
        text = self.data.get(self.add_prefix(self.SCHEMA), "")
        return ParametersEditor.for_text(text, ANSWER_SCHEMA)

    def clean(self) -> dict[str, Any]:
        self.checked = options.check(
            self.texts(), self.target, messages=self.messages, tools=self.tools
        )
        for key, message in self.checked.errors.items():
            self.add_error(key, message)
        return self.cleaned_data

    def groups(self) -> list[tuple[options.Group, list[PanelItem]]]:
        """The shown options of each group, for the template.

        A group the target has no options of is left out, unless it says why (tools on
        llama.cpp): then it comes with that note and no items.
        """
        found = []
        for group in options.GROUPS:
            items = [
                PanelItem(
                    option,
                    option.api_name(self.target),
                    self._bound(option.key),
                    self.schema_editor if option.key == self.SCHEMA else None,
                )
                for option in options.options_for(self.target)
                if option.group == group.key and option.shown
            ]
            if items:
                found.append((group, items))
            elif self.target in group.elsewhere:
                found.append((replace(group, note=group.elsewhere[self.target]), []))
        return found

    def _bound(self, key: str) -> forms.BoundField | None:
        return self[key] if key in self.fields else None  # fixed options and tools have none

    def visibility_css(self) -> str:
        """CSS that shows an option only while the one it depends on has a matching value."""
        rules = []
        for option in options.options_for(self.target):
            if option.when is None or not option.shown:
                continue
            key, values = option.when
            controller = f"#{self[key].auto_id}"
            if values is None:
                chosen = [f'{controller} option:not([value=""]):checked']
            else:
                texts = [options.to_text(options.BY_KEY[key], v) for v in values]
                chosen = [f'{controller} option[value="{text}"]:checked' for text in texts]
            item = f'#request-options [data-option="{option.key}"]'
            shown = ", ".join(
                f'#request-options:has({c}) [data-option="{option.key}"]' for c in chosen
            )
            rules.append(f"{item} {{ display: none; }}\n{shown} {{ display: block; }}")
        return "\n".join(rules)


@dataclass(frozen=True)
class PanelItem:
    option: options.Option
    api_name: str
    field: forms.BoundField | None
    editor: ParametersEditor | None = None  # drawn instead of the field's own box


def _option_field(option: options.Option, target: str) -> forms.Field:
    default = option.default
    attrs: dict[str, str] = {}
    if option.kind == "boolean":
        choices = [("", f"Unset ({default})"), ("true", "On"), ("false", "Off")]
        widget: forms.Widget = forms.Select(choices=choices)
    elif option.kind in ("choice", "tool_choice"):
        choices = [("", f"Unset ({default})")] + [(c, c) for c in option.choices_for(target)]
        widget = forms.Select(choices=choices)
    elif option.kind in _MULTILINE:
        rows = 6 if option.kind in ("schema", "json_object", "extra") else 3
        attrs = {"rows": str(rows), "spellcheck": "false", "placeholder": f"Unset: {default}"}
        widget = forms.Textarea(attrs=attrs)
    else:
        attrs = {"placeholder": f"Unset: {default}", "autocomplete": "off", "spellcheck": "false"}
        if option.kind in ("number", "integer"):
            attrs["inputmode"] = "decimal" if option.kind == "number" else "numeric"
        widget = forms.TextInput(attrs=attrs)
    return forms.CharField(
        label=option.label, help_text=option.help, required=False, strip=False, widget=widget
    )


# ---- Tool definitions ------------------------------------------------------------------------


class ToolDefinitionForm(forms.ModelForm):
    """A tool's name, description, strict flag and canned result (the parameters: below)."""

    name = forms.CharField(
        label="Tool name",
        help_text=tools.NAME_HELP + " The model calls the tool by this name.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    class Meta:
        model = ToolDefinition
        fields = ["name", "description", "strict", "canned_result"]
        labels = {
            "description": "Description",
            "strict": "Strict",
            "canned_result": "Canned result",
        }
        help_texts = {
            "description": "What the tool does and when to use it, in words the model reads.",
            "strict": 'Sent as "strict": true, asking for arguments that fit the schema exactly. '
            "Off sends nothing.",
            "canned_result": "Optional. Prefills the answer box when the model calls this tool, "
            'e.g. {"temperature": 18, "unit": "celsius"}.',
        }
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "canned_result": forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in self.fields:
            auto_id = self[name].auto_id
            self.fields[name].widget.attrs["aria-describedby"] = f"{auto_id}_help {auto_id}_error"

    @classmethod
    def redrawn(cls, data: Any, instance: ToolDefinition) -> ToolDefinitionForm:
        """The form showing what was typed, unchecked: the page is redrawn, not saved."""
        initial = {name: data.get(name, "") for name in ("name", "description", "canned_result")}
        initial["strict"] = bool(data.get("strict"))
        return cls(initial=initial, instance=instance)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if problem := tools.name_problem(name):
            raise forms.ValidationError(problem)
        mine = ToolDefinition.objects.filter(owner_id=self.instance.owner_id, name=name)
        if mine.exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(
                f"You already have a tool named “{name}”. Choose another name, "
                "or edit that one instead."
            )
        return name


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
_ANSWER_FIELD = f"{RequestOptionsForm.prefix}-json_schema"
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
    name_field=f"{RequestOptionsForm.prefix}-json_schema_name",
    placeholder='e.g. {"type": "object", "properties": {"name": {"type": "string"}, '
    '"age": {"type": "integer"}}, "required": ["name", "age"]}',
)
_PLACES = {place.key: place for place in (TOOL_PARAMETERS, ANSWER_SCHEMA)}


class ToolImportForm(forms.Form):
    """OpenAI-style `tools` JSON, pasted or as a file, and what to do with names in use."""

    MAX_BYTES = 5 * 1024 * 1024

    file = forms.FileField(label="JSON file", required=False)
    text = forms.CharField(
        label="Or paste the JSON",
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        help_text='One tool or a list: {"type": "function", "function": {"name": …, '
        '"description": …, "parameters": {…}}}, or the function object alone.',
    )
    on_clash = forms.ChoiceField(
        label="When you already have a tool with the same name",
        choices=ToolClash.choices,
        initial=ToolClash.COPY,
        widget=forms.RadioSelect,
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        upload, text = data.get("file"), data.get("text", "").strip()
        if upload and text:
            raise forms.ValidationError("Choose a file or paste the JSON, not both.")
        if upload:
            if upload.size > self.MAX_BYTES:
                raise forms.ValidationError("The file is larger than 5 MB.")
            try:
                text = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                raise forms.ValidationError("The file is not UTF-8 text.") from None
        if not text:
            raise forms.ValidationError("Choose a file or paste the JSON first.")
        data["json"] = text
        return data
