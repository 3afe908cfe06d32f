"""The import form: a file or pasted JSON."""

from __future__ import annotations

from typing import Any

from django import forms


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
