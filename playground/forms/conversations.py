"""The conversation's settings and the composer."""

from __future__ import annotations

from django import forms

from playground.models import (
    Conversation,
)
from playground.upstream.connections import all_connections


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
