"""The forms of test cases: a check, a run, pasted rows and an imported file."""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms

from evals.models import Check, TestCase
from evals.runner import MAX_CONCURRENCY, MAX_REPEAT
from evals.tables import MAX_BYTES
from playground.tools import meta_schema_problems
from playground.upstream.connections import all_connections

_NEEDS_VALUE = {
    Check.Kind.CONTAINS: "Write the text the answer must contain.",
    Check.Kind.NOT_CONTAINS: "Write the text the answer must not contain.",
    Check.Kind.EQUALS: "Write the answer expected.",
    Check.Kind.REGEX: "Write the pattern the answer must match.",
    Check.Kind.TOOL_CALL: "Write the name of the tool the model must call.",
    Check.Kind.MAX_TOKENS: "Write the number of tokens the answer must stay under.",
}


class CheckForm(forms.ModelForm):
    schema_text = forms.CharField(
        label="JSON Schema",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text="For “Matches a JSON Schema”: leave empty to use the response_format schema "
        "the request sends. For “Calls a tool”: optional, the schema its arguments must match.",
    )

    class Meta:
        model = Check
        fields = ["kind", "value", "ignore_case", "case"]
        labels = {
            "kind": "The answer…",
            "value": "Text, pattern, tool name or number",
            "ignore_case": "Ignore upper and lower case",
            "case": "For",
        }
        help_texts = {
            "value": "What the check needs: the text for contains, does not contain and equals; "
            "a regular expression such as ^\\d+$ for matches; a tool name for calls a tool; "
            "a number for under N tokens.",
        }
        widgets = {"value": forms.TextInput(attrs={"spellcheck": "false"})}

    def __init__(self, *args: Any, cases: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [("", "Choose what to check…"), *Check.Kind.choices]
        self.fields["case"].queryset = cases if cases is not None else TestCase.objects.none()
        self.fields["case"].empty_label = "Every row"
        self.fields["case"].label_from_instance = lambda case: f"Row {case.position + 1} only"

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind, value = data.get("kind"), (data.get("value") or "")
        if kind in _NEEDS_VALUE and not value.strip():
            self.add_error("value", _NEEDS_VALUE[kind])
        if kind == Check.Kind.REGEX and value:
            try:
                re.compile(value)
            except re.error as exc:
                self.add_error("value", f"This pattern is not valid: {exc}.")
        number = value.strip()
        if kind == Check.Kind.MAX_TOKENS and number and (not number.isdigit() or int(number) < 1):
            self.add_error("value", "Write a whole number of tokens, 1 or more.")
        text = data.get("schema_text", "").strip()
        data["schema"] = None
        if text and kind in (Check.Kind.JSON_SCHEMA, Check.Kind.TOOL_CALL):
            try:
                schema = json.loads(text)
            except json.JSONDecodeError as exc:
                self.add_error(
                    "schema_text",
                    f"This is not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.",
                )
            else:
                problems = meta_schema_problems(schema, root="the schema")
                if problems:
                    self.add_error(
                        "schema_text", f"This is not a valid JSON Schema: {problems[0]}."
                    )
                else:
                    data["schema"] = schema
        return data

    def save(self, commit: bool = True) -> Check:
        check = super().save(commit=False)
        check.value = check.value.strip() if check.kind != Check.Kind.EQUALS else check.value
        check.schema = self.cleaned_data["schema"]
        if commit:
            check.save()
        return check


class RunForm(forms.Form):
    version = forms.TypedChoiceField(label="Version", coerce=int)
    connection = forms.ChoiceField(label="Server")
    model = forms.CharField(
        label="Model",
        required=False,
        max_length=200,
        help_text="Leave empty for the version's own model. Another model here compares models "
        "on the same rows.",
    )
    temperature = forms.FloatField(
        label="Temperature for this run",
        required=False,
        help_text="Leave empty for the version's own. Another value here compares option sets "
        "on the same rows: lower is steadier, higher more varied.",
    )
    max_tokens = forms.IntegerField(
        label="Max tokens for this run",
        required=False,
        min_value=1,
        help_text="Leave empty for the version's own: the longest an answer may be.",
    )
    repeat = forms.IntegerField(
        label="Repeat each row",
        min_value=1,
        max_value=MAX_REPEAT,
        initial=1,
        help_text="Asks several times per row, each with its own seed, to see how consistent "
        "the answers are. A run asks one answer per request (the n option is not sent).",
    )
    concurrency = forms.IntegerField(
        label="Rows at a time",
        min_value=1,
        max_value=MAX_CONCURRENCY,
        help_text="How many rows are sent to the server at once.",
    )

    def __init__(self, *args: Any, versions: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["version"].choices = [(v.number, f"v{v.number}") for v in versions][::-1]
        self.fields["connection"].choices = [(c.slug, c.name) for c in all_connections()]

    def overrides(self) -> dict[str, Any]:
        """The options the run sets over the version's, keyed as the options registry keys them."""
        return {
            key: self.cleaned_data[key]
            for key in ("temperature", "max_tokens")
            if self.cleaned_data.get(key) is not None
        }


class PasteForm(forms.Form):
    rows = forms.CharField(
        label="Paste rows",
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text="Cells copied from a spreadsheet (a row per line, tab between cells), with or "
        "without a first line naming the columns after the variables.",
    )


class ImportForm(forms.Form):
    file = forms.FileField(
        label="CSV or JSONL file",
        help_text="CSV: a first line naming a column per variable. JSONL: one object per line, "
        "a key per variable.",
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_BYTES:
            raise forms.ValidationError(
                f"The file is over {MAX_BYTES // (1024 * 1024)} MB: split it."
            )
        return upload
