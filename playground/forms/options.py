"""The request options panel: one field per option the target accepts."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from django import forms

from playground import options
from playground.forms.schemas import ANSWER_SCHEMA, OPTIONS_PREFIX, ParametersEditor

# Kinds typed over several lines.
_MULTILINE = {"longtext", "lines", "token_biases", "json_object", "json_array", "json_text"}
_MULTILINE |= {"schema", "extra"}


class RequestOptionsForm(forms.Form):
    """The request options panel: a field per option the target accepts.

    Every field is the text as typed; `playground.options` reads and checks it, so the panel,
    its autosave and sending share one set of rules and one set of messages.
    """

    prefix = OPTIONS_PREFIX
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
        return posted_texts(self.data, self.target, self.schema_editor)

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
                    _slider(option, self.target),
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


def posted_texts(data: Any, target: str, editor: ParametersEditor | None = None) -> dict[str, str]:
    """`RequestOptionsForm.texts()` without building the panel's fields, as a Send needs it."""
    typed = [option.key for option in options.options_for(target) if option.typed]
    texts = {
        key: data[f"{OPTIONS_PREFIX}-{key}"] for key in typed if f"{OPTIONS_PREFIX}-{key}" in data
    }
    if data.get("schema_place") == ANSWER_SCHEMA.key and RequestOptionsForm.SCHEMA in typed:
        editor = editor or ParametersEditor.from_post(data)
        texts[RequestOptionsForm.SCHEMA] = editor.json_text
        if editor.example_inserted and not texts.get("json_schema_name", "").strip():
            texts["json_schema_name"] = ANSWER_SCHEMA.example_name
    return texts


@dataclass(frozen=True)
class PanelItem:
    option: options.Option
    api_name: str
    field: forms.BoundField | None
    editor: ParametersEditor | None = None  # drawn instead of the field's own box
    slider: tuple[str, str, str] | None = None  # min, max, step of a slider beside the box


# A slider only where a small range makes one useful (not for max tokens or a seed).
_SLIDER_SPAN = 10


def _slider(option: options.Option, target: str) -> tuple[str, str, str] | None:
    """Continuous options (temperature, top_p, penalties…) get a slider within the target's
    limits, kept in step with the number box by playground.js."""
    if option.kind != "number":
        return None
    low, high = option.range_for(target)
    low = option.above if low is None else low
    if low is None or high is None or high - low > _SLIDER_SPAN:
        return None
    step = "0.01" if high - low <= 4 else "0.1"
    return (f"{low:g}", f"{high:g}", step)


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
