"""Server-sent events to typed events: decoding byte by byte, chunks, think tags in content."""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from typing import Any

from playground.upstream.events import (
    ContentDelta,
    Event,
    Finish,
    LogprobsDelta,
    ReasoningDelta,
    RoleDelta,
    ToolCallDelta,
    UpstreamError,
    Usage,
    message_from_json,
)


class SSEDecoder:
    """Incremental server-sent-events decoder yielding each event's data.

    Follows the HTML spec's parsing rules: lines end in CRLF, LF or CR (which may be split
    across network reads), several `data:` lines join with newlines, `:` lines are comments
    (keep-alives), and an event is dispatched at a blank line.
    """

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._data: list[str] = []
        self._pending_cr = False

    def feed(self, chunk: bytes) -> Iterator[str]:
        text = self._utf8.decode(chunk)
        if self._pending_cr and text.startswith("\n"):
            text = text[1:]  # the LF of a CRLF whose CR ended the previous read
        self._pending_cr = False
        self._buffer += text
        yield from self._lines()

    def close(self) -> Iterator[str]:
        """Events left when the stream ends without a final blank line."""
        self._buffer += self._utf8.decode(b"", final=True)
        if self._buffer:
            self._buffer += "\n"
            yield from self._lines()
        if self._data:
            yield "\n".join(self._data)
            self._data = []

    def _lines(self) -> Iterator[str]:
        buffer = self._buffer
        start = 0
        length = len(buffer)
        while start < length:
            cr = buffer.find("\r", start)
            lf = buffer.find("\n", start)
            if cr == -1 and lf == -1:
                break
            end = lf if cr == -1 or (lf != -1 and lf < cr) else cr
            line = buffer[start:end]
            if buffer[end] == "\r":
                if end + 1 < length:
                    start = end + 2 if buffer[end + 1] == "\n" else end + 1
                else:
                    self._pending_cr = True
                    start = end + 1
            else:
                start = end + 1
            event = self._line(line)
            if event is not None:
                yield event
        self._buffer = buffer[start:]

    def _line(self, line: str) -> str | None:
        if not line:
            if not self._data:
                return None
            data = "\n".join(self._data)
            self._data = []
            return data
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        if field == "data":
            self._data.append(value[1:] if value.startswith(" ") else value)
        return None


def parse_json(data: str) -> Any:
    try:
        return json.loads(data)
    except ValueError as exc:
        raise UpstreamError(
            "The model's server sent something that is not JSON", detail=data[:200]
        ) from exc


def chunk_events(chunk: Any, splitters: dict[int, ThinkTagSplitter]) -> Iterator[Event]:
    if not isinstance(chunk, dict):
        raise UpstreamError(
            "The model's server sent an unexpected message", detail=str(chunk)[:200]
        )
    if "error" in chunk:
        # vLLM reports failures after the stream started as an event, still with HTTP 200.
        error = chunk["error"]
        status = error.get("code") if isinstance(error, dict) else None
        raise UpstreamError(
            "The model's server reported an error while answering",
            status=status if isinstance(status, int) else None,
            detail=message_from_json(chunk) or "",
        )
    for choice in chunk.get("choices") or []:
        index = choice.get("index", 0)
        delta = choice.get("delta") or {}
        if delta.get("role"):
            yield RoleDelta(index, delta["role"])
        reasoning = delta.get("reasoning") or delta.get("reasoning_content")
        if reasoning:
            yield ReasoningDelta(index, reasoning)
        content = delta.get("content")
        if isinstance(content, list):  # Mistral's API streams thinking as content chunks
            yield from _content_parts(index, content)
        elif content:
            splitter = splitters.setdefault(index, ThinkTagSplitter())
            for is_reasoning, text in splitter.feed(content):
                yield ReasoningDelta(index, text) if is_reasoning else ContentDelta(index, text)
        for call in delta.get("tool_calls") or []:
            function = call.get("function") or {}
            yield ToolCallDelta(
                choice=index,
                index=call.get("index", 0),
                id=call.get("id"),
                name=function.get("name"),
                arguments=function.get("arguments") or "",
            )
        logprobs = choice.get("logprobs")
        if isinstance(logprobs, dict) and logprobs.get("content"):
            yield LogprobsDelta(index, logprobs["content"])
        if choice.get("finish_reason"):
            splitter = splitters.get(index)
            if splitter:
                for is_reasoning, text in splitter.flush():
                    yield ReasoningDelta(index, text) if is_reasoning else ContentDelta(index, text)
            yield Finish(index, choice["finish_reason"])
    if chunk.get("usage") and not chunk.get("choices"):
        yield Usage(chunk["usage"])
    elif chunk.get("usage") and any(c.get("finish_reason") for c in chunk.get("choices") or []):
        # Mistral's API puts the usage on the final content chunk instead of a chunk of its own.
        yield Usage(chunk["usage"])


def _content_parts(index: int, parts: list[Any]) -> Iterator[Event]:
    for part in parts:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "text" and part.get("text"):
            yield ContentDelta(index, part["text"])
        elif part.get("type") == "thinking":
            thinking = part.get("thinking")
            if isinstance(thinking, str):
                yield ReasoningDelta(index, thinking)
            elif isinstance(thinking, list):
                for inner in thinking:
                    if isinstance(inner, dict) and inner.get("text"):
                        yield ReasoningDelta(index, inner["text"])


class ThinkTagSplitter:
    """Moves `[THINK]…[/THINK]` or `<think>…</think>` at the start of the content into reasoning.

    Mistral reasoning models served without vLLM's reasoning parser write their reasoning into
    the content between these markers, and markers may be split across chunks, so text that
    could still be the start of a marker is held back until the next chunk decides.
    """

    MARKERS = (("[THINK]", "[/THINK]"), ("<think>", "</think>"))

    def __init__(self) -> None:
        self._state = "start"  # start -> thinking -> answer
        self._held = ""
        self._close = ""

    def feed(self, text: str) -> list[tuple[bool, str]]:
        if self._state == "answer":
            return [(False, text)]
        self._held += text
        out: list[tuple[bool, str]] = []
        if self._state == "start":
            stripped = self._held.lstrip()
            for opening, closing in self.MARKERS:
                if stripped.startswith(opening):
                    self._state, self._close = "thinking", closing
                    self._held = stripped[len(opening) :]
                    break
            else:
                if stripped and any(o.startswith(stripped) for o, _ in self.MARKERS):
                    return out  # could still become a marker
                if not stripped:
                    return out
                self._state = "answer"
                held, self._held = self._held, ""
                return [(False, held)]
        # thinking: emit all but a possible partial closing marker
        position = self._held.find(self._close)
        if position != -1:
            reasoning = self._held[:position]
            rest = self._held[position + len(self._close) :].lstrip("\n")
            self._held = ""
            self._state = "answer"
            if reasoning:
                out.append((True, reasoning))
            if rest:
                out.append((False, rest))
            return out
        keep = _partial_suffix(self._held, self._close)
        emit = self._held[: len(self._held) - keep]
        self._held = self._held[len(self._held) - keep :]
        if emit:
            out.append((True, emit))
        return out

    def flush(self) -> list[tuple[bool, str]]:
        held, self._held = self._held, ""
        if not held:
            return []
        return [(self._state == "thinking", held)]


def _partial_suffix(text: str, marker: str) -> int:
    """Length of the longest end of `text` that is the beginning of `marker`."""
    for size in range(min(len(marker) - 1, len(text)), 0, -1):
        if marker.startswith(text[-size:]):
            return size
    return 0
