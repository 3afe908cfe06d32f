"""Conversations: trees of messages, the branch on screen, versions and hand edits."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils.functional import cached_property

from playground import outputs
from playground.models.fields import OrderedJSONField
from playground.models.messages import Message
from playground.models.tools import ToolDefinition
from playground.variables import names_in, texts_of


def _changes_branch(method: Callable) -> Callable:
    """For methods that change messages or the branch on screen: `path()` reads them again."""

    @functools.wraps(method)
    def changing(self: Conversation, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        finally:
            self.forget_path()

    return changing


class Conversation(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations"
    )
    title = models.CharField(max_length=200, blank=True)
    connection = models.CharField(max_length=50, blank=True)
    model = models.CharField(max_length=200, blank=True)
    system_prompt = models.TextField(blank=True)
    # The values of its {{variables}} by name, as typed (playground.variables).
    variables = models.JSONField(default=dict, blank=True)
    options = OrderedJSONField(default=dict, blank=True)
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
        """The branch on screen, oldest first, each message knowing its versions (one query).

        Kept until this object changes the conversation: a Send reads it several times, and
        on a long conversation each read costs milliseconds.
        """
        memo = self.__dict__.get("_path")
        if memo is None or memo[0] != self.current_id:
            # Each answer's request body repeats the history before it: loading them all would
            # cost O(n²) on every page and every Send, and only tool-call cards ever read one.
            messages = list(self.messages.defer("request_body"))
            followed = any(m.parent_id == self.current_id for m in messages)
            memo = (self.current_id, branch(messages, self.current_id), followed)
            self.__dict__["_path"] = memo
        return list(memo[1])

    def forget_path(self) -> None:
        self.__dict__.pop("_path", None)

    def refresh_from_db(self, *args: Any, **kwargs: Any) -> None:
        self.forget_path()
        super().refresh_from_db(*args, **kwargs)

    def _append(self, parent_id: int | None, **fields: Any) -> Message:
        message = self.messages.create(parent_id=parent_id, **fields)
        memo = self.__dict__.get("_path")
        self.current = message
        self.save(update_fields=["current", "updated"])
        if memo is not None and memo[0] == parent_id and not memo[2]:
            # The first message after the end of the known branch has no other versions: the
            # branch grows by it without a query (a Send appends two: the question, the answer).
            message.is_last = True
            if memo[1]:
                memo[1][-1].is_last = False
            self.__dict__["_path"] = (message.pk, [*memo[1], message], False)
        else:
            self.forget_path()
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
        if path[:-1]:
            path[-2].is_last = True
        self.__dict__["_path"] = (self.current_id, path[:-1], True)  # the answer follows it
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

    @_changes_branch
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

    def variable_names(self, typing: str = "") -> list[str]:
        """The {{variables}} written in the system prompt, the branch on screen and `typing`."""
        texts = texts_of(self.upstream_messages())
        return names_in([*texts, typing])

    # ---- Tools offered to the model ----

    def tool_specs(self) -> list[dict[str, Any]]:
        """The attached tools as the request's `tools` entries, by name (one query, kept until
        `attach_tools` changes them: a Send builds the body and then checks it)."""
        if "_tool_specs" not in self.__dict__:
            self.__dict__["_tool_specs"] = [tool.as_openai() for tool in self.tools.all()]
        return list(self.__dict__["_tool_specs"])

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
        self.__dict__.pop("_tool_specs", None)
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
    @_changes_branch
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
            variables=self.variables,
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

    @_changes_branch
    def add_by_hand(self, **fields: Any) -> Message:
        """A message of any role written by the person, after the last one on screen."""
        self._check_editable()
        message = Message(**fields)
        message.render()
        if message.role == Message.Role.USER and not self.title:
            self.title = _title_from(message.content)
            self.save(update_fields=["title"])
        return self._append(self.current_id, **message.copied_fields())

    @_changes_branch
    def edit_by_hand(self, message: Message, **fields: Any) -> None:
        """Change a message in place (its role stays); no new version, no answer."""
        self._check_editable(message)
        for name, value in fields.items():
            setattr(message, name, value)
        message.render()
        message.save()
        self.save(update_fields=["updated"])

    @transaction.atomic
    @_changes_branch
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
    @_changes_branch
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
        status=Message.Status.STOPPED,
        error="the server stopped before it ended; what arrived by then is kept above.",
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


def _title_from(text: str) -> str:
    """A title suggested from the first message: its first line, cut at a word."""
    line = " ".join(text.strip().split())
    if len(line) <= 60:
        return line
    return line[:60].rsplit(" ", 1)[0] + "…"
