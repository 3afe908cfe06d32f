"""Turning upstream events into a saved assistant message, and pacing what the page gets."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from django.conf import settings

from playground import options, outputs, refusals, upstream, variables
from playground.markdown import render_markdown
from playground.models import Conversation, Message
from playground.upstream.connections import Connection


@dataclass(frozen=True, slots=True)
class Piece:
    """Something the page should show now: text to append, the end of the reasoning, a tool
    call starting (`text` is its name) or growing (`text` is a fragment of its arguments), or
    text of one of several candidates (the n option; `index` says which)."""

    kind: Literal[
        "content", "reasoning", "reasoning_done", "tool_call", "tool_arguments", "candidate"
    ]
    text: str
    index: int = 0  # which tool call


OnPiece = Callable[[Piece], Awaitable[None]]


def build_body(
    conversation: Conversation, connection: Connection, *, typing: str = ""
) -> dict[str, Any]:
    """The request body for the conversation's next answer: its messages and its options.

    `typing` is a message not sent yet (the code view shows the request with it last).
    Options that fail their checks are left out; `turns.prepare_answer` refuses to send then.
    """
    messages = conversation.upstream_messages()
    if typing.strip():
        messages.append({"role": "user", "content": typing.strip()})
    body, _ = request_body(
        messages,
        conversation.options,
        conversation.tool_specs(),
        conversation.variables,
        model=conversation.model,
        connection=connection,
    )
    return body


def request_body(
    messages: list[dict[str, Any]],
    stored_options: dict[str, Any],
    tools: list[dict[str, Any]],
    values: dict[str, str],
    *,
    model: str,
    connection: Connection,
) -> tuple[dict[str, Any], options.Evaluation]:
    """A chat request from its parts (a conversation's, or a saved prompt's for a test run),
    and the options' evaluation, whose errors say why it should not be sent."""
    target = options.target_of(connection.dialect)
    chosen = options.evaluate(stored_options, target, messages=messages, tools=tools)
    body = {
        "model": model or connection.default_model,
        # The server gets the text with the {{variables}} filled in; the messages keep them.
        "messages": variables.fill_messages(messages, values),
        **chosen.body_fields(),
    }
    return body, chosen


async def generate(
    message: Message,
    body: dict[str, Any],
    *,
    client: upstream.Client,
    connection: Connection,
    on_piece: OnPiece,
    on_end: Callable[[], Awaitable[None]] | None = None,
    on_sent: Callable[[], None] | None = None,
    why_stopped: Callable[[], str] = str,
) -> Message:
    """Stream one answer into `message`, saving it when it ends (and every few seconds before).

    A cancelled task (Stop, or a closed tab) saves what arrived, marked stopped with
    `why_stopped()` in the same write, then re-raises; an upstream failure saves what arrived,
    marked failed, with the reason.
    `on_end` runs as soon as the stream ends, before the Markdown render and the save, so the
    page can be given the last words first; `on_sent` once the request is on its way.
    """
    turn = _Turn(message, on_piece, on_end, candidates=int(body.get("n") or 1))
    try:
        async for event in upstream.stream_chat(
            body,
            client=client,
            base_url=connection.base_url,
            api_key=connection.api_key,
            on_sent=on_sent,
        ):
            await turn.apply(event)
    except asyncio.CancelledError:
        await turn.finish(Message.Status.STOPPED, error=why_stopped())
        raise
    except upstream.UpstreamError as exc:
        target = options.target_of(connection.dialect)
        await turn.finish(Message.Status.ERROR, error=refusals.explain(exc, target))
    else:
        await turn.finish(Message.Status.COMPLETE)
    return message


class _Turn:
    """The state of one answer while it streams."""

    def __init__(
        self,
        message: Message,
        on_piece: OnPiece,
        on_end: Callable[[], Awaitable[None]] | None = None,
        *,
        candidates: int = 1,
    ) -> None:
        self.message = message
        self.on_piece = on_piece
        self.on_end = on_end
        # Every choice, kept apart by index; with n > 1 all of them stream side by side.
        self.choices = outputs.Candidates()
        self.side_by_side = candidates > 1
        # A continued answer starts with the text it continues.
        self.content: list[str] = [message.content] if message.content else []
        self.reasoning: list[str] = [message.reasoning] if message.reasoning else []
        self.started = time.monotonic()
        # Tool calls arrive in fragments keyed by index: id and name first, arguments after.
        self.calls: dict[int, dict[str, Any]] = {}
        self.first_token: float | None = None
        # Deltas of the answer shown: about one token each, the count a stopped answer can give.
        self.deltas = 0
        self.reasoning_started: float | None = None
        self.reasoning_ended: float | None = None
        self.last_checkpoint = self.started

    async def apply(self, event: upstream.Event) -> None:
        self.choices.apply(event)
        if isinstance(
            event, upstream.ContentDelta | upstream.ReasoningDelta | upstream.ToolCallDelta
        ):
            self.deltas += event.choice == 0
        if isinstance(event, upstream.LogprobsDelta):
            self.choices.add_logprobs(event.choice, event.entries)
        elif isinstance(event, upstream.ContentDelta) and self.side_by_side:
            self._token()
            await self.on_piece(Piece("candidate", event.text, event.choice))
            if event.choice == 0:
                self.content.append(event.text)
        elif isinstance(event, upstream.ReasoningDelta) and event.choice == 0:
            now = self._token()
            if self.reasoning_started is None:
                self.reasoning_started = now
            self.reasoning.append(event.text)
            await self.on_piece(Piece("reasoning", event.text))
        elif isinstance(event, upstream.ContentDelta) and event.choice == 0:
            now = self._token()
            await self._end_reasoning(now)
            self.content.append(event.text)
            await self.on_piece(Piece("content", event.text))
        elif isinstance(event, upstream.ToolCallDelta) and event.choice == 0:
            await self._end_reasoning(self._token())
            await self._tool_call(event)
        elif isinstance(event, upstream.Finish) and event.choice == 0:
            self.message.finish_reason = event.reason
        elif isinstance(event, upstream.Usage):
            self.message.usage = event.usage
        if time.monotonic() - self.last_checkpoint >= settings.STREAM_CHECKPOINT_SECONDS:
            await self._checkpoint()

    async def _tool_call(self, delta: upstream.ToolCallDelta) -> None:
        call = self.calls.get(delta.index)
        if call is None:
            call = {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
            self.calls[delta.index] = call
        if delta.id:
            call["id"] = delta.id
        if delta.name:
            announced = bool(call["function"]["name"])
            call["function"]["name"] += delta.name
            if not announced:
                await self.on_piece(Piece("tool_call", call["function"]["name"], delta.index))
        if delta.arguments:
            call["function"]["arguments"] += delta.arguments
            await self.on_piece(Piece("tool_arguments", delta.arguments, delta.index))

    def _token(self) -> float:
        now = time.monotonic()
        if self.first_token is None:
            self.first_token = now
        return now

    async def _end_reasoning(self, now: float) -> None:
        if self.reasoning_started is not None and self.reasoning_ended is None:
            self.reasoning_ended = now
            seconds = (now - self.reasoning_started) * 1000
            await self.on_piece(Piece("reasoning_done", format_seconds(seconds)))

    async def _checkpoint(self) -> None:
        self.last_checkpoint = time.monotonic()
        self.message.content = "".join(self.content)
        self.message.reasoning = "".join(self.reasoning)
        await self.message.asave(update_fields=["content", "reasoning"])

    async def finish(self, status: str, *, error: str = "") -> None:
        now = time.monotonic()
        if self.on_end is not None:
            await self.on_end()
        if self.reasoning_started is not None and self.reasoning_ended is None:
            self.reasoning_ended = now
        message = self.message
        message.content = "".join(self.content)
        message.reasoning = "".join(self.reasoning)
        message.content_html = render_markdown(message.content)
        if self.calls:
            message.tool_calls = [self.calls[index] for index in sorted(self.calls)]
        first = self.choices.get(0)
        message.logprobs = first.logprobs or None
        message.status = status
        message.error = error
        message.duration_ms = (now - self.started) * 1000
        if self.first_token is not None:
            message.time_to_first_token_ms = (self.first_token - self.started) * 1000
        if self.reasoning_started is not None and self.reasoning_ended is not None:
            message.reasoning_ms = (self.reasoning_ended - self.reasoning_started) * 1000
        if message.usage is None and self.deltas:
            # Stopped or failed before the server's count: say what is known, marked as such.
            message.usage = {"completion_tokens": self.deltas, "estimated": True}
        message.tokens_per_second = _tokens_per_second(message.usage, self.first_token, now)
        # Saving must survive the cancellation that brought us here (Stop, closed tab).
        await asyncio.shield(message.asave())
        others = [c for c in self.choices.in_order() if c.index > 0]
        if others:
            await asyncio.shield(self._save_candidates(others))

    async def _save_candidates(self, others: list[outputs.Candidate]) -> None:
        """Candidates 2…n become versions of the answer, so picking one is switching version.

        Each version keeps its own times and speed, the first answer included (it was saved
        with those of the whole request).
        """
        message = self.message
        # Where a candidate was cut off (Stop) it ended with the request.
        ended = self.started + (message.duration_ms or 0) / 1000
        own = self._candidate_stats(self.choices.get(0), ended)
        message.time_to_first_token_ms = own["time_to_first_token_ms"]
        message.duration_ms = own["duration_ms"]
        message.tokens_per_second = own["tokens_per_second"]
        fields = ["time_to_first_token_ms", "duration_ms", "tokens_per_second"]
        await message.asave(update_fields=fields)
        for candidate in others:
            await Message.objects.acreate(
                conversation_id=message.conversation_id,
                parent_id=message.parent_id,
                role=Message.Role.ASSISTANT,
                status=message.status,
                content=candidate.text,
                content_html=render_markdown(candidate.text),
                reasoning="".join(candidate.reasoning),
                finish_reason=candidate.finish_reason,
                connection=message.connection,
                model=message.model,
                request_body=message.request_body,
                logprobs=candidate.logprobs or None,
                candidate_of=message,
                candidate_index=candidate.index,
                **self._candidate_stats(candidate, ended),
            )

    def _candidate_stats(self, candidate: outputs.Candidate, ended: float) -> dict[str, Any]:
        """One candidate's times, tokens and speed, as the fields of its version.

        vLLM's usage counts the tokens of all n candidates together, so that is the usage each
        keeps (the page says so); a count of its own comes from its logprobs, one per token, or,
        stopped before the usage came, from the deltas that arrived (marked as estimated).
        """
        end = candidate.finished_at or ended
        first = candidate.first_token_at
        usage = self.message.usage
        if usage is None or usage.get("estimated"):
            deltas = len(candidate.content) + len(candidate.reasoning)
            usage = {"completion_tokens": deltas, "estimated": True} if deltas else None
        # A speed needs a count of its own: not the one shared by all candidates.
        counted = usage if usage and usage.get("estimated") else None
        if candidate.tokens:
            counted = {"completion_tokens": candidate.tokens}
        return {
            "time_to_first_token_ms": None if first is None else (first - self.started) * 1000,
            "duration_ms": (end - self.started) * 1000,
            "usage": usage,
            "tokens_per_second": _tokens_per_second(counted, first, end),
        }


def _tokens_per_second(
    usage: dict[str, Any] | None, first: float | None, end: float
) -> float | None:
    """Generation speed from the server's token count and our clock (vLLM sends no timings)."""
    tokens = (usage or {}).get("completion_tokens")
    if not tokens or first is None:
        return None
    # The first token's own time is in time-to-first-token, so count the tokens after it.
    elapsed = end - first
    if elapsed <= 0 or tokens < 2:
        return None
    return (tokens - 1) / elapsed


def format_seconds(milliseconds: float | None) -> str:
    if milliseconds is None:
        return ""
    if milliseconds < 1000:
        return f"{milliseconds:.0f} ms"
    return f"{milliseconds / 1000:.1f} s"


class Coalescer:
    """Sends items at once when the line is quiet, batched per `window` seconds under pressure.

    An item that arrives more than `window` after the last send goes out immediately; one that
    arrives sooner waits for the end of that window and goes out with everything else that came
    in meanwhile. So 100 chunks/s cost no delay and 5,000 chunks/s cost ~1/window sends a second.
    """

    def __init__(self, send: Callable[[list[Piece]], Awaitable[None]], window: float) -> None:
        self._send = send
        self._window = window
        self._pending: list[Piece] = []
        self._last = -math.inf
        self._timer: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def add(self, piece: Piece) -> None:
        self._pending.append(piece)
        if self._timer is not None:
            return
        wait = self._last + self._window - time.monotonic()
        if wait <= 0:
            await self._flush()
        else:
            self._timer = asyncio.create_task(self._later(wait))

    async def _later(self, wait: float) -> None:
        await asyncio.sleep(wait)
        self._timer = None  # from here on a flush is under way and must not be cancelled
        await self._flush()

    async def _flush(self) -> None:
        async with self._lock:
            if not self._pending:
                return
            pieces, self._pending = self._pending, []
            self._last = time.monotonic()
            await self._send(pieces)

    async def close(self) -> None:
        """Send whatever is still waiting; call when the answer ends."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await self._flush()
