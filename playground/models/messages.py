"""Messages and their tool calls (ids in the shape Mistral's tokenizers take)."""

from __future__ import annotations

import json
import re
import secrets
import string
from typing import Any

import jsonschema
from django.db import models
from django.db.models import Q
from django.utils.functional import cached_property

from playground import outputs
from playground.markdown import render_markdown

# Mistral's tokenizers (mistral-common) take only these tool-call ids; vLLM's Mistral parser
# makes them the same way, so HexPlay does too.
TOOL_CALL_ID = re.compile(r"[A-Za-z0-9]{9}")
_ID_CHARACTERS = string.ascii_letters + string.digits


def new_tool_call_id() -> str:
    """A tool-call id every server takes: 9 random letters or digits, like aB3dE5gH7."""
    return "".join(secrets.choice(_ID_CHARACTERS) for _ in range(9))


def tool_turns_problem(messages: list[dict[str, Any]]) -> str | None:
    """What breaks the order vLLM, mistral-common and OpenAI require of tool turns, or None.

    An answer with tool calls is followed by one tool message per call (its id), before any
    other message; a tool message answers a call of the answer just before it.
    """
    waiting: dict[str, str] = {}  # call id -> function name, of the last answer with calls
    answered: set[str] = set()
    for message in messages:
        role = message.get("role")
        if role == "tool":
            call_id = message.get("tool_call_id", "")
            if call_id in answered:
                return f"Call {call_id} has two tool results: delete one by hand."
            if call_id not in waiting:
                return (
                    f"The tool result for call {call_id} does not answer a call of the answer "
                    "just before it: change its tool call id or move it by hand."
                )
            answered.add(call_id)
            continue
        missing = [name for call_id, name in waiting.items() if call_id not in answered]
        if missing:
            return (
                f"The model is waiting for the result of {', '.join(missing)}: give it and press "
                "Submit results, or delete that answer by hand."
            )
        calls = (message.get("tool_calls") or []) if role == "assistant" else []
        waiting = {call["id"]: call["function"]["name"] for call in calls}
        answered = set()
    return None


def check_tool_calls(value: Any, where: str = "tool_calls") -> list[dict[str, Any]]:
    """The OpenAI `tool_calls` list, or ValueError naming the first thing wrong with it."""
    if not isinstance(value, list):
        raise ValueError(f"{where} must be a list")
    calls = []
    for index, call in enumerate(value):
        at = f"{where}[{index}]"
        if not isinstance(call, dict):
            raise ValueError(f"{at} must be an object with id, type and function")
        if not isinstance(call.get("id"), str) or not call["id"].strip():
            raise ValueError(f"{at}.id must be a non-empty string")
        if call.get("type") != "function":
            raise ValueError(f'{at}.type must be "function"')
        function = call.get("function")
        if not isinstance(function, dict):
            raise ValueError(f"{at}.function must be an object with name and arguments")
        if not isinstance(function.get("name"), str) or not function["name"].strip():
            raise ValueError(f"{at}.function.name must be a non-empty string")
        if not isinstance(function.get("arguments"), str):
            raise ValueError(f"{at}.function.arguments must be a string (JSON text)")
        # Only the fields of the format are kept, so nothing else rides along to the model.
        calls.append(
            {
                "id": call["id"],
                "type": "function",
                "function": {"name": function["name"], "arguments": function["arguments"]},
            }
        )
    return calls


class Message(models.Model):
    class Role(models.TextChoices):
        SYSTEM = "system", "System"
        USER = "user", "User"
        ASSISTANT = "assistant", "Assistant"
        TOOL = "tool", "Tool"

    class Status(models.TextChoices):
        COMPLETE = "complete", "Complete"
        STREAMING = "streaming", "Streaming"
        STOPPED = "stopped", "Stopped"
        ERROR = "error", "Failed"

    conversation = models.ForeignKey(
        "Conversation", on_delete=models.CASCADE, related_name="messages"
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies"
    )
    role = models.CharField(max_length=20, choices=Role.choices)
    content = models.TextField(blank=True)
    # Markdown rendered and sanitised once when the message is complete, so pages never re-render.
    content_html = models.TextField(blank=True)
    reasoning = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.COMPLETE)
    error = models.TextField(blank=True)
    finish_reason = models.CharField(max_length=40, blank=True)
    connection = models.CharField(max_length=50, blank=True)
    model = models.CharField(max_length=200, blank=True)
    # The exact body posted upstream for this answer (the key is never part of it).
    request_body = models.JSONField(default=dict, blank=True)
    usage = models.JSONField(null=True, blank=True)
    tool_calls = models.JSONField(null=True, blank=True)
    # vLLM's `logprobs.content` entries of this answer, when the logprobs option was on.
    logprobs = models.JSONField(null=True, blank=True)
    # With the n option the other candidates are saved as versions of the first one.
    candidate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="other_candidates"
    )
    candidate_index = models.PositiveSmallIntegerField(default=0)
    tool_call_id = models.CharField(max_length=100, blank=True)
    name = models.CharField(max_length=100, blank=True)
    time_to_first_token_ms = models.FloatField(null=True, blank=True)
    reasoning_ms = models.FloatField(null=True, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    tokens_per_second = models.FloatField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    # Set by `branch()` for the messages on screen.
    version_number = 1
    version_count = 1
    previous_version: Message | None = None
    next_version: Message | None = None
    is_last = False
    # Set for a new answer by `turns.prepare_answer`: the version it takes the place of on screen.
    replaces: Message | None = None
    candidates: list[Any] = []  # outputs.Candidate, when the answer was written with n > 1

    class Meta:
        ordering = ["created", "id"]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:40]}"

    @property
    def dom_id(self) -> str:
        return f"message-{self.pk}"

    @property
    def completion_tokens(self) -> int | None:
        return (self.usage or {}).get("completion_tokens")

    @property
    def prompt_tokens(self) -> int | None:
        return (self.usage or {}).get("prompt_tokens")

    def load_versions(self) -> None:
        """Place this message among its versions, as `branch()` does for a whole page."""
        versions = list(
            Message.objects.filter(conversation_id=self.conversation_id, parent_id=self.parent_id)
            .order_by("created", "id")
            .only("pk", "created")
        )
        position = next(i for i, m in enumerate(versions) if m.pk == self.pk)
        self.version_number, self.version_count = position + 1, len(versions)
        self.previous_version = versions[position - 1] if position > 0 else None
        self.next_version = versions[position + 1] if position + 1 < len(versions) else None

    # What a copy of a message keeps (duplicates, shares, imports): the tree links are redone.
    COPIED_FIELDS = (
        "role", "content", "content_html", "reasoning", "status", "error", "finish_reason",
        "connection", "model", "request_body", "usage", "tool_calls", "tool_call_id", "name",
        "time_to_first_token_ms", "reasoning_ms", "duration_ms", "tokens_per_second",
    )  # fmt: skip

    def copied_fields(self) -> dict[str, Any]:
        fields = {name: getattr(self, name) for name in self.COPIED_FIELDS}
        if fields["status"] == self.Status.STREAMING:
            fields["status"] = self.Status.STOPPED  # no task will ever finish the copy
        return fields

    def render(self) -> None:
        """Store the HTML of an answer set by hand, as a streamed one is stored when it ends."""
        self.content_html = (
            render_markdown(self.content) if self.role == self.Role.ASSISTANT else ""
        )

    @cached_property
    def token_views(self) -> list[Any]:
        return outputs.token_views(self.logprobs or [])

    def load_candidates(self) -> None:
        """The candidates written together with this answer (the n option), for its final render."""
        first_id = self.candidate_of_id or self.pk
        group = list(
            Message.objects.filter(Q(pk=first_id) | Q(candidate_of_id=first_id)).order_by(
                "candidate_index"
            )
        )
        if len(group) > 1:
            self.candidates = outputs.from_versions(group)

    @cached_property
    def tool_call_cards(self) -> list[dict[str, str]]:
        """Each tool call as shown: arguments pretty-printed, or what is wrong with them.

        Arguments are checked against the schema the model was given in this very request.
        """
        if not self.tool_calls:
            return []
        schemas = {
            tool.get("function", {}).get("name"): tool.get("function", {}).get("parameters")
            for tool in (self.request_body or {}).get("tools") or []
            if isinstance(tool, dict)
        }
        return [_tool_call_card(call, schemas) for call in self.tool_calls or []]

    @cached_property
    def result_boxes(self) -> list[dict[str, str]]:
        """The cards of calls waiting for results, each with its tool's canned result.

        Only the last answer has them; the canned results are read in one query for the
        conversation (its messages share its instance), not one per card.
        """
        canned = self.conversation.canned_results
        return [
            {**card, "canned_result": canned.get(card["name"], "")} for card in self.tool_call_cards
        ]

    def as_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            wire["tool_calls"] = self.tool_calls
        if self.role == self.Role.TOOL:
            wire["tool_call_id"] = self.tool_call_id
            if self.name:
                wire["name"] = self.name
        return wire


def _tool_call_card(call: dict[str, Any], schemas: dict[str, Any]) -> dict[str, str]:
    function = call.get("function") or {}
    name, raw = str(function.get("name", "")), function.get("arguments") or ""
    card = {"id": str(call.get("id", "")), "name": name, "arguments": raw, "error": ""}
    try:
        arguments = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        card["error"] = "The arguments are not valid JSON."
        return card
    card["arguments"] = json.dumps(arguments, indent=2, ensure_ascii=False)
    if schemas and name not in schemas:
        card["error"] = f"No tool called {name} was offered to the model."
    elif schemas.get(name):
        error = jsonschema.exceptions.best_match(
            jsonschema.validators.validator_for(schemas[name])(schemas[name]).iter_errors(arguments)
        )
        if error is not None:
            where = " → ".join(str(part) for part in error.absolute_path) or "arguments"
            card["error"] = f"The arguments do not fit the tool's schema: {where}: {error.message}"
    return card
