"""A tool definition and the tool import form."""

from __future__ import annotations

from typing import Any

from django import forms

from playground import tools
from playground.models import (
    ToolClash,
    ToolDefinition,
)


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
