"""A message set by hand, in any role."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from playground import options
from playground.models import (
    TOOL_CALL_ID,
    Message,
    check_tool_calls,
    new_tool_call_id,
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
