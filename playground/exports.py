"""Export a conversation as a request body (JSON) or a readable document (Markdown).

The JSON is the body HexPlay would post next (`model`, `messages` = the branch on screen as
sent upstream, the options), so it can be sent as is, plus a `hexplay` key with what a request
has no place for: the title, the connection, the options as stored, and the whole tree (format
2): every message with its parent, its versions, candidates, token odds, reasoning, status and
stats, and which one is on screen. `playground.imports` reads it back.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.utils import timezone

from playground.models import (
    Conversation,
    Message,
)
from playground.stream import build_body, format_seconds
from playground.upstream.connections import get_connection

FORMAT = 2
# Fields of a message in hexplay.tree (format 2) besides its links: texts, numbers, JSON.
TREE_TEXTS = (
    "content", "reasoning", "status", "error", "finish_reason", "connection", "model",
    "tool_call_id", "name",
)  # fmt: skip
TREE_NUMBERS = ("time_to_first_token_ms", "reasoning_ms", "duration_ms", "tokens_per_second")
TREE_JSON = ("tool_calls", "usage", "logprobs", "request_body")
# Top-level fields of a request body that are not options of the conversation.
NOT_OPTIONS = {"model", "messages", "stream", "stream_options", "hexplay"}


def export_json(conversation: Conversation) -> dict[str, Any]:
    """The request body for the conversation's next answer, plus everything HexPlay keeps."""
    connection = get_connection(conversation.connection)
    # As sent upstream: the branch on screen, failed answers left out.
    body = (
        build_body(conversation, connection)
        if connection
        else {"model": conversation.model, "messages": conversation.upstream_messages()}
    )
    tree, current = _tree_of(conversation)
    body["hexplay"] = {
        "format": FORMAT,
        "title": conversation.title,
        "connection": connection.slug if connection else "",
        "system_prompt": conversation.system_prompt,
        "options": conversation.options,
        "variables": conversation.variables,
        "exported": timezone.now().isoformat(timespec="seconds"),
        "tree": tree,
        "current": current,
    }
    return body


def _tree_of(conversation: Conversation) -> tuple[list[dict[str, Any]], int | None]:
    """Every message linked to its parent by position, and the position of the one on screen.

    Parents come before their replies, and a message's versions in their order: the order
    the import creates them in.
    """
    messages = list(conversation.messages.defer("request_body"))
    replies: dict[int | None, list[Message]] = {}
    for message in sorted(messages, key=lambda m: (m.created, m.pk)):
        replies.setdefault(message.parent_id, []).append(message)
    # Depth first without recursion: a long chat is a deep tree.
    ordered: list[Message] = []
    stack = list(reversed(replies.get(None, [])))
    while stack:
        message = stack.pop()
        ordered.append(message)
        stack.extend(reversed(replies.get(message.pk, [])))
    position = {m.pk: index for index, m in enumerate(ordered)}
    bodies = _request_bodies(conversation)
    tree = [_node(m, position, bodies.get(m.pk)) for m in ordered]
    return tree, position.get(conversation.current_id)


def _request_bodies(conversation: Conversation) -> dict[int, dict[str, Any]]:
    """Each answer's request body without its messages (the tree has them): what it was
    asked with, its n and its tools. Read a few at a time, as each repeats the history."""
    bodies = {}
    rows = conversation.messages.exclude(request_body={}).values_list("pk", "request_body")
    for pk, body in rows.iterator(chunk_size=50):
        if isinstance(body, dict):
            bodies[pk] = {k: v for k, v in body.items() if k != "messages"}
    return bodies


def _node(message: Message, position: dict[int, int], body: Any) -> dict[str, Any]:
    node: dict[str, Any] = {
        "parent": position.get(message.parent_id),
        "role": message.role,
        "content": message.content,
    }
    for name in (*TREE_TEXTS, *TREE_NUMBERS, *TREE_JSON):
        value = body if name == "request_body" else getattr(message, name)
        if value not in (None, "", {}, []):
            node[name] = value
    if node.get("status") == Message.Status.STREAMING:
        node["status"] = Message.Status.STOPPED  # no task will ever finish the copy
    elif node.get("status") == Message.Status.COMPLETE:
        del node["status"]
    if position.get(message.candidate_of_id) is not None:
        node["candidate_of"] = position[message.candidate_of_id]
        node["candidate_index"] = message.candidate_index
    return node


def export_markdown(conversation: Conversation) -> str:
    """A readable document: one section per message, reasoning folded in <details>."""
    connection = get_connection(conversation.connection)
    lines = [f"# {conversation.display_title}", ""]
    facts = [f"Model `{conversation.model}`"] if conversation.model else []
    if connection:
        facts.append(f"connection {connection.name}")
    facts.append(f"exported from HexPlay {timezone.now():%Y-%m-%d %H:%M} UTC")
    lines += [" · ".join(facts), ""]
    if connection:
        chosen = build_body(conversation, connection)
        used = {k: v for k, v in chosen.items() if k not in NOT_OPTIONS}
        if used:
            lines += ["Options:", ""]
            lines += [f"- `{k}`: `{json.dumps(v, ensure_ascii=False)}`" for k, v in used.items()]
            lines.append("")
    if conversation.system_prompt.strip():
        lines += ["## System prompt", "", _hard_breaks(conversation.system_prompt), ""]
    for message in conversation.path():
        lines += _markdown_message(message)
    return "\n".join(lines).rstrip() + "\n"


def _markdown_message(message: Message) -> list[str]:
    heading = message.get_role_display()
    if message.role == Message.Role.TOOL:
        name = f"`{message.name}`, " if message.name else ""
        heading = f"Tool result ({name}call `{message.tool_call_id}`)"
    elif message.model:
        heading += f" · {message.model}"
    lines = [f"## {heading}", ""]
    if message.reasoning:
        took = f" · {format_seconds(message.reasoning_ms)}" if message.reasoning_ms else ""
        lines += ["<details>", f"<summary>Reasoning{took}</summary>", ""]
        lines += [_hard_breaks(message.reasoning), "", "</details>", ""]
    if message.content:
        lines += [_hard_breaks(message.content), ""]
    for call in message.tool_calls or []:
        function = call["function"]
        lines += [f"Calls `{function['name']}` (`{call['id']}`) with:", ""]
        lines += [*_fenced(function["arguments"], "json"), ""]
    if message.status == Message.Status.STOPPED:
        lines += ["*Stopped before the end.*", ""]
    elif message.status == Message.Status.ERROR:
        lines += [f"*The answer failed: {message.error}*", ""]
    elif message.finish_reason == "length":
        lines += ["*Stopped at the token limit.*", ""]
    return lines


# An opening or closing code fence: up to three spaces, then three or more ` or ~.
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def _hard_breaks(text: str) -> str:
    """The text with its single line breaks kept by any CommonMark renderer.

    A line followed by another ends in two spaces (a hard break; the chat shows one, so a poem
    stays lines). Not inside fenced code, which keeps its lines anyway; and a fence left open,
    as in an answer stopped mid-code, is closed so the rest of the document stays prose.
    """
    lines = text.replace("\r\n", "\n").split("\n")
    fence = ""  # the opening fence while inside code
    for number, line in enumerate(lines):
        found = _FENCE.match(line)
        marker = found.group(1) if found else ""
        rest = line[found.end() :] if found else ""
        if fence:
            if marker[:1] == fence[0] and len(marker) >= len(fence) and not rest.strip():
                fence = ""
        elif marker and not (marker[0] == "`" and "`" in rest):
            fence = marker
        elif (
            line.strip()
            and number + 1 < len(lines)
            and lines[number + 1].strip()
            and not line.endswith(("  ", "\\"))
        ):
            lines[number] = line + "  "
    if fence:
        lines.append(fence)
    return "\n".join(lines)


def _fenced(text: str, language: str) -> list[str]:
    # A fence longer than any run of backticks inside, so the text cannot close it.
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{language}", text, fence]


def filename(conversation: Conversation, extension: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9]+", "-", conversation.display_title).strip("-").lower()[:60]
    return f"{stem or 'conversation'}-{conversation.pk}.{extension}"
