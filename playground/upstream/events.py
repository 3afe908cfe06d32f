"""What an answer arrives as: typed events, and the one error an upstream can raise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class RoleDelta:
    choice: int
    role: str


@dataclass(frozen=True, slots=True)
class ContentDelta:
    choice: int
    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    choice: int
    text: str


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """One fragment of a tool call: id and name come first, arguments in pieces after."""

    choice: int
    index: int
    id: str | None
    name: str | None
    arguments: str


@dataclass(frozen=True, slots=True)
class Finish:
    choice: int
    reason: str


@dataclass(frozen=True, slots=True)
class LogprobsDelta:
    """The `logprobs.content` entries of one chunk: each token with its alternatives."""

    choice: int
    entries: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Usage:
    usage: dict[str, Any]


Event = RoleDelta | ContentDelta | ReasoningDelta | ToolCallDelta | LogprobsDelta | Finish | Usage


class UpstreamError(Exception):
    """Anything that went wrong talking to the model's server, in words a person can act on."""

    def __init__(self, message: str, *, status: int | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.detail = detail

    def __str__(self) -> str:
        parts = [self.message]
        if self.status:
            parts.append(f"(HTTP {self.status})")
        text = " ".join(parts)
        return f"{text}: {self.detail}" if self.detail else text


def message_from_json(data: Any) -> str | None:
    """The human message inside vLLM's, Mistral's or FastAPI's error JSON."""
    if isinstance(data, str):
        return data
    if not isinstance(data, dict):
        return None
    for key in ("error", "message", "detail"):
        value = data.get(key)
        if isinstance(value, str):
            return value
        if isinstance(value, dict):
            found = message_from_json(value)
            if found:
                return found
        if isinstance(value, list) and value:
            return "; ".join(_describe_detail(item) for item in value)
    return None


def _describe_detail(item: Any) -> str:
    if isinstance(item, dict):
        location = ".".join(str(part) for part in item.get("loc", []) if part != "body")
        message = str(item.get("msg", item))
        return f"{location}: {message}" if location else message
    return str(item)
