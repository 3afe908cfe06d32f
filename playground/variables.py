"""Prompt variables: `{{name}}` in the system prompt or a message, filled in when sent.

A name is a letter, then letters, digits or `_`; spaces inside the braces are allowed
(`{{ city }}`). A backslash keeps double braces as they are: `\\{{city}}` is sent as `{{city}}`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

VARIABLE = re.compile(r"(\\?)\{\{\s*([A-Za-z][A-Za-z0-9_]*)\s*\}\}")
# The longest value one variable may hold, like a message.
MAX_VALUE = 100_000


def names_in(texts: Iterable[str]) -> list[str]:
    """The variables written in `texts`, each once, in the order they first appear."""
    found: dict[str, None] = {}
    for text in texts:
        for escaped, name in VARIABLE.findall(text or ""):
            if not escaped:
                found.setdefault(name)
    return list(found)


def fill(text: str, values: Mapping[str, str]) -> str:
    """`text` with every variable that has a value filled in (the others stay as written)."""

    def one(match: re.Match) -> str:
        escaped, name = match.group(1), match.group(2)
        if escaped:
            return match.group(0)[1:]  # the braces, as written, without the backslash
        value = values.get(name)
        return match.group(0) if value is None or value == "" else value

    return VARIABLE.sub(one, text)


def fill_messages(messages: list[dict[str, Any]], values: Mapping[str, str]) -> list[dict]:
    """The request's messages with their text filled in (text parts of a list content too)."""
    filled = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            message = {**message, "content": fill(content, values)}
        elif isinstance(content, list):
            parts = [
                {**part, "text": fill(part["text"], values)}
                if isinstance(part, dict) and isinstance(part.get("text"), str)
                else part
                for part in content
            ]
            message = {**message, "content": parts}
        filled.append(message)
    return filled


def texts_of(messages: Iterable[dict[str, Any]]) -> list[str]:
    """The text of each message, where variables can be written."""
    texts = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts += [p["text"] for p in content if isinstance(p, dict) and "text" in p]
    return texts


def missing(names: Iterable[str], values: Mapping[str, str]) -> list[str]:
    return [name for name in names if not str(values.get(name) or "")]


def refusal(unfilled: list[str]) -> str:
    """Why Send refuses, naming what to fill in."""
    listed = (
        unfilled[0] if len(unfilled) == 1 else ", ".join(unfilled[:-1]) + f" and {unfilled[-1]}"
    )
    return f"Fill in {listed} before sending (under Variables, in the settings)."


def posted(data: Mapping[str, Any]) -> dict[str, str]:
    """The values typed in the Variables group: fields named `var-<name>`."""
    return {
        key[4:]: str(value)[:MAX_VALUE]
        for key, value in data.items()
        if key.startswith("var-") and VARIABLE.fullmatch("{{" + key[4:] + "}}")
    }
