"""Prompts as data: a conversation's setup, a conversation started from one, versions compared,
and the JSON a prompt is exported as.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from playground import imports, options
from playground.models import Conversation
from playground.upstream.connections import get_connection
from workbench.models import Prompt

EXPORT_KIND = "hexplay-prompt"
MAX_VERSIONS = 1_000
MAX_IMPORT_BYTES = 20 * 1024 * 1024


class PromptRejected(Exception):
    """A prompt cannot be saved or imported; the text says why in plain words."""


def setup_of(conversation: Conversation) -> dict[str, Any]:
    """The conversation's setup as an export HexPlay imports (format 1): the messages on screen
    as written, the system prompt, options, tools, connection, model and variables' values."""
    messages = conversation.upstream_messages()
    if not messages:
        raise PromptRejected("Nothing to save yet: write a system prompt or a message first.")
    system = bool(conversation.system_prompt.strip())
    return {
        "model": conversation.model,
        "messages": messages,
        **({"tools": conversation.tool_specs()} if conversation.tools.exists() else {}),
        "hexplay": {
            "format": 1,
            "title": conversation.title,
            "connection": conversation.connection,
            "system_prompt": conversation.system_prompt,
            "options": conversation.options,
            "variables": conversation.variables,
            "messages": [
                {"system_prompt": True} if system and i == 0 else {} for i in range(len(messages))
            ],
        },
    }


@transaction.atomic
def start_conversation(prompt: Prompt, number: int) -> Conversation:
    """A new conversation of the prompt's owner set up as version `number`; it saves into the
    prompt from then on."""
    version = prompt.versions.get(number=number)
    try:
        conversation = imports.import_conversation(prompt.owner, version.setup)
    except imports.ImportRejected as exc:  # a connection removed since, say
        raise PromptRejected(f"v{number} cannot be opened: {exc}") from None
    conversation.rename(f"{prompt.name} v{number}"[:200])
    prompt.conversations.add(conversation)
    return conversation


# ---- Comparing two versions --------------------------------------------------------------


@dataclass(frozen=True)
class Word:
    text: str
    change: str = ""  # "", "added" or "removed"


@dataclass(frozen=True)
class MessagePair:
    role: str
    old: list[Word]
    new: list[Word]
    changed: bool


@dataclass(frozen=True)
class Row:
    """One line of a table of differences: what it is, in one version and in the other."""

    name: str
    old: str
    new: str


_WORDS = re.compile(r"\s+|[^\s]+")


def compare_texts(old: str, new: str) -> tuple[list[Word], list[Word]]:
    """Both texts cut into words and spaces, with the words that changed marked on each side."""
    a, b = _WORDS.findall(old), _WORDS.findall(new)
    left: list[Word] = []
    right: list[Word] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        same = tag == "equal"
        left += [Word(w, "" if same or w.isspace() else "removed") for w in a[i1:i2]]
        right += [Word(w, "" if same or w.isspace() else "added") for w in b[j1:j2]]
    return left, right


def compare_messages(old: dict[str, Any], new: dict[str, Any]) -> list[MessagePair]:
    """The messages of two setups side by side, position by position, system prompt first."""
    a, b = _messages(old), _messages(new)
    pairs = []
    for index in range(max(len(a), len(b))):
        role_a, text_a = a[index] if index < len(a) else ("", "")
        role_b, text_b = b[index] if index < len(b) else ("", "")
        left, right = compare_texts(text_a, text_b)
        changed = (role_a, text_a) != (role_b, text_b)
        pairs.append(MessagePair(role_b or role_a, left, right, changed))
    return pairs


def _messages(setup: dict[str, Any]) -> list[tuple[str, str]]:
    shown = []
    for message in setup.get("messages", []):
        content = message.get("content")
        if not isinstance(content, str):
            content = json.dumps(content, ensure_ascii=False)
        if message.get("tool_calls"):
            content += "\n" + json.dumps(message["tool_calls"], ensure_ascii=False)
        shown.append((str(message.get("role", "")), content or ""))
    return shown


def compare_settings(old: dict[str, Any], new: dict[str, Any]) -> list[Row]:
    """Connection, model, options and variables that differ, by their names in the panel."""
    rows: list[Row] = []
    a, b = old.get("hexplay", {}), new.get("hexplay", {})
    for label, left, right in [
        (
            "Connection",
            _connection_name(a.get("connection")),
            _connection_name(b.get("connection")),
        ),
        ("Model", old.get("model", ""), new.get("model", "")),
    ]:
        if left != right:
            rows.append(Row(label, left, right))
    stored_a, stored_b = a.get("options") or {}, b.get("options") or {}
    for key in sorted(set(stored_a) | set(stored_b) - {options.INVALID}):
        if key == options.INVALID or stored_a.get(key) == stored_b.get(key):
            continue
        option = options.BY_KEY.get(key)
        label = option.label if option else key
        rows.append(Row(label, _shown(stored_a.get(key)), _shown(stored_b.get(key))))
    values_a, values_b = a.get("variables") or {}, b.get("variables") or {}
    for name in sorted(set(values_a) | set(values_b)):
        if values_a.get(name) != values_b.get(name):
            rows.append(Row(f"{{{{{name}}}}}", values_a.get(name, ""), values_b.get(name, "")))
    return rows


def compare_tools(old: dict[str, Any], new: dict[str, Any]) -> list[Row]:
    """Tools attached in one version and not the other, or defined differently."""
    a, b = _tools(old), _tools(new)
    rows = []
    for name in sorted(set(a) | set(b)):
        if a.get(name) != b.get(name):
            left = "attached" if name in a else "not attached"
            right = "attached" if name in b else "not attached"
            if name in a and name in b:
                left, right = "as before", "defined differently"
            rows.append(Row(name, left, right))
    return rows


def _tools(setup: dict[str, Any]) -> dict[str, Any]:
    return {
        str(tool.get("function", {}).get("name", "")): tool
        for tool in setup.get("tools") or []
        if isinstance(tool, dict)
    }


def _connection_name(slug: Any) -> str:
    connection = get_connection(str(slug or ""))
    return connection.name if connection and connection.slug == slug else str(slug or "")


def _shown(value: Any) -> str:
    if value is None:
        return "unset"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


# ---- Export and import -------------------------------------------------------------------


def export_prompt(prompt: Prompt) -> dict[str, Any]:
    return {
        "kind": EXPORT_KIND,
        "format": 1,
        "name": prompt.name,
        "exported": timezone.now().isoformat(timespec="seconds"),
        "versions": [
            {"number": v.number, "note": v.note, "created": v.created.isoformat(), "setup": v.setup}
            for v in prompt.versions.all()
        ],
    }


@transaction.atomic
def import_prompt(owner: Any, text: str) -> Prompt:
    """A prompt and all its versions from an export, each version checked first; all or none."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PromptRejected(
            f"This is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        ) from None
    if not isinstance(data, dict) or data.get("kind") != EXPORT_KIND:
        raise PromptRejected(
            'This is not a HexPlay prompt export (its "kind" is not "hexplay-prompt").'
        )
    name, versions = data.get("name"), data.get("versions")
    if not isinstance(name, str) or not name.strip():
        raise PromptRejected("name must be a non-empty text.")
    if not isinstance(versions, list) or not versions:
        raise PromptRejected("versions must be a list with at least one version.")
    if len(versions) > MAX_VERSIONS:
        raise PromptRejected(f"versions has {len(versions):,} entries: at most {MAX_VERSIONS:,}.")
    numbers = set()
    for index, version in enumerate(versions):
        at = f"versions[{index}]"
        if not isinstance(version, dict) or not isinstance(version.get("setup"), dict):
            raise PromptRejected(f"{at} must be an object with a setup.")
        number = version.get("number")
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            raise PromptRejected(f"{at}.number must be a whole number from 1.")
        if number in numbers:
            raise PromptRejected(f"{at}.number {number} appears twice.")
        numbers.add(number)
        if not isinstance(version.get("note", ""), str):
            raise PromptRejected(f"{at}.note must be a text.")
        try:
            imports.check(version["setup"])
        except imports.ImportRejected as exc:
            raise PromptRejected(f"{at}.setup: {exc}") from None
    prompt = Prompt.objects.create(owner=owner, name=name.strip()[:200])
    for version in sorted(versions, key=lambda v: v["number"]):
        prompt.versions.create(
            number=version["number"], note=version.get("note", "")[:200], setup=version["setup"]
        )
    return prompt
