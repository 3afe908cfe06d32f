"""HexPlay's domain: connections, conversations and their messages."""

from __future__ import annotations

import json
import re
import secrets
import string
from collections.abc import Iterable
from typing import Any

import jsonschema
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils.functional import cached_property

from playground import outputs, tools
from playground.markdown import render_markdown


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
    # The owner's tools offered to the model with every request (the body's `tools`).
    tools = models.ManyToManyField("ToolDefinition", blank=True, related_name="conversations")
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
        # Each answer's request body repeats the history before it: loading them all would cost
        # O(n²) on every page and every Send, and only tool-call cards ever read one.
        return branch(list(self.messages.defer("request_body")), self.current_id)

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

    def rewind_for_new_answer(self) -> Message | None:
        """Before answering again, step back from the last answer so the new one is its sibling.

        Returns the answer stepped back from: the new one takes its place on screen.
        """
        path = self.path()
        if not path or path[-1].role != Message.Role.ASSISTANT:
            return None
        self.current_id = path[-1].parent_id
        self.save(update_fields=["current"])
        return path[-1]

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

    # ---- Tools offered to the model ----

    def tool_specs(self) -> list[dict[str, Any]]:
        """The attached tools as the request's `tools` entries, by name (one query)."""
        return [tool.as_openai() for tool in self.tools.all()]

    @cached_property
    def canned_results(self) -> dict[str, str]:
        """Each attached tool's canned result by name, to prefill result boxes (one query)."""
        return dict(self.tools.values_list("name", "canned_result"))

    def attach_tools(self, tool_ids: Iterable[Any]) -> bool:
        """Offer exactly these of the owner's tools from now on; True when that changed.

        Raises ToolDefinition.DoesNotExist for an id that is not one of the owner's tools.
        """
        wanted = {str(value) for value in tool_ids}
        mine = ToolDefinition.objects.filter(owner_id=self.owner_id)
        found = {pk for pk in mine.values_list("pk", flat=True) if str(pk) in wanted}
        if len(found) != len(wanted):
            raise ToolDefinition.DoesNotExist("No such tool of yours.")
        if set(self.tools.values_list("pk", flat=True)) == found:
            return False
        self.tools.set(found)
        self.__dict__.pop("canned_results", None)
        return True

    # ---- History: rename, copies, and messages set by hand (no model is called) ----

    def rename(self, title: str) -> None:
        """An empty title goes back to the one suggested by the first message."""
        title = " ".join(title.split())
        if not title:
            first = self.messages.filter(role=Message.Role.USER).order_by("created", "id").first()
            title = _title_from(first.content) if first else ""
        self.title = title
        self.save(update_fields=["title", "updated"])

    @transaction.atomic
    def append_branch(self, rows: Iterable[dict[str, Any]]) -> None:
        """Add messages after the current one, each following the last (imports and copies)."""
        parent_id = self.current_id
        for row in rows:
            parent_id = self.messages.create(parent_id=parent_id, **row).pk
        self.current_id = parent_id
        self.save(update_fields=["current", "updated"])

    @transaction.atomic
    def duplicate(self) -> Conversation:
        """A copy for the same owner with every message and every version."""
        copy = Conversation.objects.create(
            owner_id=self.owner_id,
            title=f"{self.display_title} (copy)"[:200],
            connection=self.connection,
            model=self.model,
            system_prompt=self.system_prompt,
            options=self.options,
        )
        new_ids: dict[int | None, int | None] = {None: None}
        pending = list(self.messages.all())
        # Parents first, in the original order so versions keep theirs; after a hand reorder a
        # parent can be younger than its reply, hence the passes.
        while pending:
            later = [m for m in pending if m.parent_id not in new_ids]
            for message in pending:
                if message.parent_id in new_ids:
                    new_ids[message.pk] = copy.messages.create(
                        parent_id=new_ids[message.parent_id], **message.copied_fields()
                    ).pk
            if len(later) == len(pending):
                break  # cannot happen in a tree; never loop forever on bad data
            pending = later
        copy.current_id = new_ids.get(self.current_id)
        copy.save(update_fields=["current"])
        copy.tools.set(self.tools.all())
        return copy

    def _check_editable(self, *messages: Message) -> None:
        # The streaming task saves its message whole when it ends, which would undo an edit.
        path = self.path()
        if any(m.status == Message.Status.STREAMING for m in (*messages, *path[-1:])):
            raise EditRefused("An answer is still arriving. Press Stop first, then change it.")

    def add_by_hand(self, **fields: Any) -> Message:
        """A message of any role written by the person, after the last one on screen."""
        self._check_editable()
        message = Message(**fields)
        message.render()
        if message.role == Message.Role.USER and not self.title:
            self.title = _title_from(message.content)
            self.save(update_fields=["title"])
        return self._append(self.current_id, **message.copied_fields())

    def edit_by_hand(self, message: Message, **fields: Any) -> None:
        """Change a message in place (its role stays); no new version, no answer."""
        self._check_editable(message)
        for name, value in fields.items():
            setattr(message, name, value)
        message.render()
        message.save()
        self.save(update_fields=["updated"])

    @transaction.atomic
    def move(self, message: Message, *, up: bool) -> None:
        """Swap a message with its neighbour on the branch on screen, relinking their parents.

        Other versions stay attached to the message they followed.
        """
        self._check_editable(message)
        path = self.path()
        ids = [m.pk for m in path]
        if message.pk not in ids:
            raise EditRefused("That message is not on the branch on screen.")
        index = ids.index(message.pk)
        other = index - 1 if up else index + 1
        if not 0 <= other < len(path):
            raise EditRefused(f"That message is already at the {'top' if up else 'bottom'}.")
        first, second = path[min(index, other)], path[max(index, other)]
        after = path[max(index, other) + 1] if max(index, other) + 1 < len(path) else None
        second.parent_id, first.parent_id = first.parent_id, second.pk
        second.save(update_fields=["parent"])
        first.save(update_fields=["parent"])
        if after is not None:
            after.parent_id = first.pk
            after.save(update_fields=["parent"])
        if self.current_id == second.pk:
            self.current_id = first.pk
        self.save(update_fields=["current", "updated"])

    @transaction.atomic
    def delete_by_hand(self, message: Message) -> None:
        """Delete one message; what followed it now follows the message before it."""
        self._check_editable(message)
        # Re-parent first: the parent link cascades, so deleting would take the replies along.
        message.replies.update(parent_id=message.parent_id)
        if self.current_id == message.pk:
            self.current_id = message.parent_id
        message.delete()
        self.save(update_fields=["current", "updated"])


SHOWN_AT_ONCE = 100


def latest(path: list[Message], *, before: int | None = None) -> dict[str, Any]:
    """The last messages of a branch (before message `before`, if given) and how many precede.

    A page shows the latest hundred: rendering a thousand messages costs most of a second,
    and earlier ones are a click away.
    """
    end = next((i for i, m in enumerate(path) if m.pk == before), len(path))
    start = max(0, end - SHOWN_AT_ONCE)
    return {"messages": path[start:end], "earlier": start}


def recover_interrupted_answers() -> int:
    """Answers left streaming by a server that stopped mid-answer become stopped, with what
    their last checkpoint saved; otherwise they would show a cursor and refuse edits forever.

    Only safe when no server is streaming, i.e. before one starts.
    """
    return Message.objects.filter(status=Message.Status.STREAMING).update(
        status=Message.Status.STOPPED
    )


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
    _attach_candidates(path, messages)
    return path


def _attach_candidates(path: list[Message], messages: list[Message]) -> None:
    """Answers written with n > 1 show all their candidates, whichever one is on screen."""
    others: dict[int, list[Message]] = {}
    for message in messages:
        if message.candidate_of_id is not None:
            others.setdefault(message.candidate_of_id, []).append(message)
    if not others:
        return
    by_id = {m.pk: m for m in messages}
    for node in path:
        first = by_id.get(node.candidate_of_id or node.pk)
        if first is not None and first.pk in others:
            group = [first, *sorted(others[first.pk], key=lambda m: m.candidate_index)]
            node.candidates = outputs.from_versions(group)


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


class EditRefused(Exception):
    """A change by hand that cannot be made; the text says why in plain words."""


def search_conversations(owner: Any, query: str = "") -> QuerySet[Conversation]:
    """The owner's conversations, newest first, whose title or any message contains `query`."""
    found = Conversation.objects.filter(owner=owner)
    query = query.strip()
    if query:
        in_messages = Message.objects.filter(conversation=OuterRef("pk"), content__icontains=query)
        found = found.filter(Q(title__icontains=query) | Exists(in_messages))
    return found


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


def new_share_token() -> str:
    # 32 random bytes (256 bits) from the OS: unguessable, and URL-safe so it sits in a path.
    return secrets.token_urlsafe(32)


class Share(models.Model):
    """A read-only snapshot of a conversation behind an unguessable link; deleting it revokes it."""

    conversation = models.OneToOneField(
        Conversation, on_delete=models.CASCADE, related_name="share"
    )
    token = models.CharField(max_length=64, unique=True, default=new_share_token, editable=False)
    # A copy, not references: later messages and edits stay private until the owner updates it.
    snapshot = models.JSONField(default=dict)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("shared", args=[self.token])

    @property
    def title(self) -> str:
        return self.snapshot.get("title") or "Shared conversation"


def _validate_tool_name(value: str) -> None:
    if problem := tools.name_problem(value):
        raise ValidationError(problem, code="tool_name")


def _validate_parameters(value: Any) -> None:
    if problems := tools.schema_problems(value):
        raise ValidationError([f"Parameters: {problem}." for problem in problems])


class ToolDefinition(models.Model):
    """A function the person can offer the model; sent as one entry of the request's `tools`."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tool_definitions"
    )
    name = models.CharField(max_length=64, validators=[_validate_tool_name])
    description = models.TextField(blank=True)
    # A JSON Schema with "type": "object": the arguments the model writes when it calls the tool.
    parameters = models.JSONField(default=tools.empty_parameters, validators=[_validate_parameters])
    strict = models.BooleanField(default=False)
    # Prefills the result box when the model calls the tool, so a prototype answers in one click.
    canned_result = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "name"],
                name="tool_name_unique_per_owner",
                violation_error_message="You already have a tool with this name.",
            ),
            models.CheckConstraint(
                condition=Q(name__regex=tools.NAME_PATTERN), name="tool_name_format"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("tool_edit", args=[self.pk])

    def as_openai(self) -> dict[str, Any]:
        """`{"type": "function", "function": {...}}`, one entry of the request's `tools`."""
        return tools.openai_tool(self.name, self.description, self.parameters, self.strict)

    def signature(self) -> str:
        """A one-line summary such as `get_current_weather(location, unit?)`."""
        return tools.signature(self.name, self.parameters)

    @transaction.atomic
    def duplicate(self) -> ToolDefinition:
        """A copy for the same owner named name_copy (name_copy2… when taken)."""
        return ToolDefinition.objects.create(
            owner_id=self.owner_id,
            name=free_tool_name(self.owner_id, self.name),
            description=self.description,
            parameters=self.parameters,
            strict=self.strict,
            canned_result=self.canned_result,
        )


def free_tool_name(owner_id: int, name: str) -> str:
    """`name`, or name_copy, name_copy2… : the first the owner does not use yet."""
    taken = set(ToolDefinition.objects.filter(owner_id=owner_id).values_list("name", flat=True))
    if name not in taken:
        return name
    number = 1
    while True:
        suffix = "_copy" if number == 1 else f"_copy{number}"
        candidate = name[: 64 - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
        number += 1


class ToolClash(models.TextChoices):
    """What an import does with a tool whose name the person already uses."""

    COPY = "copy", "Import it as a copy (name_copy)"
    REPLACE = "replace", "Replace mine with it (my canned result stays)"
    STOP = "stop", "Import nothing"


@transaction.atomic
def import_tools(owner: Any, specs: Iterable[Any], *, on_clash: str = ToolClash.COPY) -> list[str]:
    """Store checked tools (`playground.tools.ToolSpec`) for `owner`, all or none.

    Returns one plain sentence per tool saying what happened to it. With `ToolClash.STOP`, a
    name already in use raises `tools.ToolsRejected` and nothing is stored.
    """
    specs = list(specs)
    mine = {t.name: t for t in ToolDefinition.objects.select_for_update().filter(owner=owner)}
    clashes = [spec.name for spec in specs if spec.name in mine]
    if clashes and on_clash == ToolClash.STOP:
        names = ", ".join(clashes)
        raise tools.ToolsRejected(
            f"You already have {'a tool' if len(clashes) == 1 else 'tools'} named {names}. "
            "Nothing was imported: choose to import as a copy or to replace yours."
        )
    report = []
    for spec in specs:
        fields = {
            "description": spec.description,
            "parameters": spec.parameters,
            "strict": spec.strict,
        }
        existing = mine.get(spec.name)
        if existing is not None and on_clash == ToolClash.REPLACE:
            for key, value in fields.items():
                setattr(existing, key, value)
            existing.save()
            report.append(f"{spec.name} replaced yours (its canned result was kept).")
        elif existing is not None:
            copy = ToolDefinition.objects.create(
                owner=owner, name=free_tool_name(owner.pk, spec.name), **fields
            )
            report.append(f"{spec.name} was already taken, so it was imported as {copy.name}.")
        else:
            ToolDefinition.objects.create(owner=owner, name=spec.name, **fields)
            report.append(f"{spec.name} was imported.")
    return report
