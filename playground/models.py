"""HexPlay's domain: connections, conversations and their messages."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.urls import reverse


class Dialect(models.TextChoices):
    VLLM = "vllm", "vLLM"
    MISTRAL = "mistral", "Mistral API"
    LLAMACPP = "llamacpp", "llama.cpp"


class UpstreamConnection(models.Model):
    """A connection added by staff in the admin; the built-in ones come from settings."""

    slug = models.SlugField(unique=True, help_text="Short identifier, e.g. 'staging'.")
    name = models.CharField(max_length=100)
    base_url = models.URLField(help_text="Up to and including /v1, e.g. http://10.0.0.5:8000/v1")
    # Never rendered to a page: the admin form shows it as a password field.
    api_key = models.CharField(max_length=500, blank=True)
    dialect = models.CharField(max_length=20, choices=Dialect.choices, default=Dialect.VLLM)
    default_model = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Conversation(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations"
    )
    title = models.CharField(max_length=200, blank=True)
    connection = models.CharField(max_length=50, blank=True)
    model = models.CharField(max_length=200, blank=True)
    system_prompt = models.TextField(blank=True)
    options = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated"]

    def __str__(self) -> str:
        return self.title or f"Conversation {self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("conversation", args=[self.pk])

    @property
    def display_title(self) -> str:
        return self.title or "New conversation"

    def add_user_message(self, text: str) -> Message:
        """Save what the person typed before anything else can fail."""
        message = self.messages.create(role=Message.Role.USER, content=text)
        update = ["updated"]
        if not self.title:
            self.title = _title_from(text)
            update.append("title")
        self.save(update_fields=update)
        return message

    def start_answer(self, *, connection: str, model: str, body: dict[str, Any]) -> Message:
        return self.messages.create(
            role=Message.Role.ASSISTANT,
            status=Message.Status.STREAMING,
            connection=connection,
            model=model,
            request_body=body,
        )

    def history(self) -> list[Message]:
        """Messages sent upstream: failed answers are kept for the person, not the model."""
        return [m for m in self.messages.all() if m.status != Message.Status.ERROR]

    def upstream_messages(self) -> list[dict[str, Any]]:
        """The OpenAI `messages` array for the next request."""
        wire: list[dict[str, Any]] = []
        if self.system_prompt.strip():
            wire.append({"role": "system", "content": self.system_prompt})
        wire.extend(m.as_wire() for m in self.history())
        return wire


def _title_from(text: str) -> str:
    """A title suggested from the first message: its first line, cut at a word."""
    line = " ".join(text.strip().split())
    if len(line) <= 60:
        return line
    return line[:60].rsplit(" ", 1)[0] + "…"


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
        Conversation, on_delete=models.CASCADE, related_name="messages"
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
    tool_call_id = models.CharField(max_length=100, blank=True)
    name = models.CharField(max_length=100, blank=True)
    time_to_first_token_ms = models.FloatField(null=True, blank=True)
    reasoning_ms = models.FloatField(null=True, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    tokens_per_second = models.FloatField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

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

    def as_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            wire["tool_calls"] = self.tool_calls
        if self.role == self.Role.TOOL:
            wire["tool_call_id"] = self.tool_call_id
            if self.name:
                wire["name"] = self.name
        return wire
