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
    # Messages form a tree (each points to the one it follows); `current` is the last message of
    # the branch on screen. Regenerating or editing adds a sibling, so no version is overwritten.
    current = models.ForeignKey(
        "Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
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

    def path(self) -> list[Message]:
        """The branch on screen, oldest first, each message knowing its versions (one query)."""
        return branch(list(self.messages.all()), self.current_id)

    def _append(self, parent_id: int | None, **fields: Any) -> Message:
        message = self.messages.create(parent_id=parent_id, **fields)
        self.current = message
        self.save(update_fields=["current", "updated"])
        return message

    def add_user_message(self, text: str, *, replacing: Message | None = None) -> Message:
        """Save what the person typed first of all; an edit becomes a new version beside the old."""
        parent_id = replacing.parent_id if replacing else self.current_id
        if not self.title:
            self.title = _title_from(text)
            self.save(update_fields=["title"])
        return self._append(parent_id, role=Message.Role.USER, content=text)

    def rewind_for_new_answer(self) -> None:
        """Before answering again, step back from the last answer so the new one is its sibling."""
        path = self.path()
        if path and path[-1].role == Message.Role.ASSISTANT:
            self.current_id = path[-1].parent_id
            self.save(update_fields=["current"])

    def start_answer(self, *, connection: str, model: str, body: dict[str, Any]) -> Message:
        return self._append(
            self.current_id,
            role=Message.Role.ASSISTANT,
            status=Message.Status.STREAMING,
            connection=connection,
            model=model,
            request_body=body,
        )

    def show_version(self, message: Message) -> None:
        """Put `message` on screen, followed by the newest messages that came after it."""
        messages = list(self.messages.all())
        self.current_id = latest_leaf(messages, message.pk)
        self.save(update_fields=["current"])

    def history(self) -> list[Message]:
        """Messages sent upstream: failed answers are kept for the person, not the model."""
        return [m for m in self.path() if m.status != Message.Status.ERROR]

    def upstream_messages(self) -> list[dict[str, Any]]:
        """The OpenAI `messages` array for the next request."""
        wire: list[dict[str, Any]] = []
        if self.system_prompt.strip():
            wire.append({"role": "system", "content": self.system_prompt})
        wire.extend(m.as_wire() for m in self.history())
        return wire


def branch(messages: list[Message], leaf_id: int | None) -> list[Message]:
    """The messages from the root to `leaf_id`, each with its place among its versions."""
    by_id = {m.pk: m for m in messages}
    siblings: dict[int | None, list[Message]] = {}
    for message in sorted(messages, key=lambda m: (m.created, m.pk)):
        siblings.setdefault(message.parent_id, []).append(message)
    path: list[Message] = []
    seen: set[int] = set()
    node = by_id.get(leaf_id) if leaf_id is not None else None
    while node is not None and node.pk not in seen:
        seen.add(node.pk)
        versions = siblings[node.parent_id]
        position = versions.index(node)
        node.version_number = position + 1
        node.version_count = len(versions)
        node.previous_version = versions[position - 1] if position > 0 else None
        node.next_version = versions[position + 1] if position + 1 < len(versions) else None
        path.append(node)
        node = by_id.get(node.parent_id) if node.parent_id is not None else None
    path.reverse()
    if path:
        path[-1].is_last = True
    return path


def latest_leaf(messages: list[Message], start_id: int) -> int:
    """Follow the newest reply from `start_id` down to the end of that branch."""
    newest_child: dict[int, Message] = {}
    for message in messages:
        if message.parent_id is None:
            continue
        known = newest_child.get(message.parent_id)
        if known is None or (message.created, message.pk) > (known.created, known.pk):
            newest_child[message.parent_id] = message
    node_id = start_id
    while node_id in newest_child:
        node_id = newest_child[node_id].pk
    return node_id


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

    def as_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            wire["tool_calls"] = self.tool_calls
        if self.role == self.Role.TOOL:
            wire["tool_call_id"] = self.tool_call_id
            if self.name:
                wire["name"] = self.name
        return wire
