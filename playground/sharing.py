"""Share links: a snapshot of a conversation that anyone with the link may read; copies of it."""

from __future__ import annotations

import json
from typing import Any

from django.db import transaction
from django.utils import timezone

from playground import curl, options
from playground.markdown import render_markdown
from playground.models import Conversation, Message, Share
from playground.stream import build_body
from playground.upstream.connections import get_connection

# What a shared page may show of a message. Not the error text (it can name internal hosts),
# the per-answer request body (the page shows one) or the connection (named once at the top).
SHARED_FIELDS = (
    "role", "content", "content_html", "reasoning", "status", "finish_reason", "model",
    "usage", "tool_calls", "tool_call_id", "name", "time_to_first_token_ms", "reasoning_ms",
    "duration_ms", "tokens_per_second",
)  # fmt: skip


def share(conversation: Conversation) -> Share:
    """Create the conversation's link, or refresh its snapshot: the link stays the same."""
    found, _ = Share.objects.update_or_create(
        conversation=conversation, defaults={"snapshot": snapshot(conversation)}
    )
    return found


def revoke(conversation: Conversation) -> None:
    """The link answers 404 from now on, and the snapshot is gone."""
    Share.objects.filter(conversation=conversation).delete()


def snapshot(conversation: Conversation) -> dict[str, Any]:
    """Everything the shared page shows, copied now; nothing in it refers back to live rows."""
    connection = get_connection(conversation.connection)
    body = build_body(conversation, connection) if connection is not None else None
    command = (
        # The key is a shell variable in the command, never its value; the base URL too.
        curl.curl_command(
            body, target=options.target_of(connection.dialect), with_key=bool(connection.api_key)
        )
        if connection is not None
        else ""
    )
    return {
        "version": 1,
        "title": conversation.display_title,
        "taken": timezone.now().isoformat(),
        "connection": {"slug": connection.slug, "name": connection.name} if connection else None,
        "model": conversation.model,
        "system_prompt": conversation.system_prompt,
        "options": conversation.options,
        "messages": [_shared_message(m) for m in conversation.path()],
        # The exact body HexPlay would post next; the API key is never part of a body.
        "request_body": body,
        "curl": command,
    }


def _shared_message(message: Message) -> dict[str, Any]:
    fields = {name: getattr(message, name) for name in SHARED_FIELDS}
    if fields["status"] == Message.Status.STREAMING:
        fields["status"] = Message.Status.STOPPED
    if message.role == Message.Role.ASSISTANT and (
        not message.content_html or message.status == Message.Status.STREAMING
    ):
        fields["content_html"] = render_markdown(message.content)
    return fields


def shared_messages(found: Share) -> list[Message]:
    """The snapshot's messages as unsaved Message objects, for the page's own message partial."""
    rows = found.snapshot.get("messages", [])
    messages = [Message(pk=index + 1, **_known(row)) for index, row in enumerate(rows)]
    if messages:
        messages[-1].is_last = True
    return messages


def request_json(found: Share) -> str:
    body = found.snapshot.get("request_body")
    return json.dumps(body, indent=2, ensure_ascii=False) if body else ""


@transaction.atomic
def open_copy(found: Share, owner: Any) -> Conversation:
    """A new conversation of the viewer's own, with the snapshot's messages as one branch."""
    data = found.snapshot
    slug = (data.get("connection") or {}).get("slug", "")
    connection = get_connection(slug)
    copy = Conversation.objects.create(
        owner=owner,
        title=data.get("title", "")[:200],
        connection=connection.slug if connection else "",
        model=data.get("model", ""),
        system_prompt=data.get("system_prompt", ""),
        options=data.get("options") or {},
    )
    copy.append_branch(_known(row) for row in data.get("messages", []))
    return copy


def _known(row: dict[str, Any]) -> dict[str, Any]:
    return {name: row[name] for name in SHARED_FIELDS if name in row}
