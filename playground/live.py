"""Answers being streamed: owned by the process that started them, watched by every socket of
their conversation, in any tab and on any worker.

A socket in the owner's process (the usual case: the one that asked, another tab on the same
worker) is handed the answer's numbered frames directly. Sockets of other processes are reached
through the channel layer (Redis): every socket is in the group `viewers(pk)`, where an answer's
first and last frames go; the process streaming conversation `pk`'s answer listens on
`owner(pk)` for `answer.join` (a socket elsewhere that wants the rest, with what arrived so
far), `answer.leave` and `answer.stop`, and sends the frames to each joined socket. A socket
that joins mid-answer drops the frames its snapshot already covers, so it sees every piece
once. When the last socket has been gone `ANSWER_GRACE_SECONDS`, the answer is stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings

from hexplay import shutdown
from playground import fragments, upstream
from playground.models import Message
from playground.stream import Coalescer, Piece, generate
from playground.upstream.connections import Connection

logger = logging.getLogger(__name__)

# How long drawing the person's message may wait for the request to be written upstream.
_DRAW_AFTER_SENT_AT_MOST = 0.05

RESTARTED = "the server restarted before it ended; what arrived is kept above."


def viewers(pk: int) -> str:
    return f"conversation.{pk}"


def owner(pk: int) -> str:
    return f"answer.{pk}"


# Conversation pk -> its answer streaming in this process (it keeps the task referenced).
_LIVE: dict[int, LiveAnswer] = {}


@dataclass
class Shown:
    """What the viewers were sent of the answer so far: a late viewer gets this, then the rest."""

    content: str
    reasoning: str
    reasoning_time: str = ""  # "1.2 s" once the reasoning ended
    calls: dict[int, dict[str, Any]] = field(default_factory=dict)

    def add(self, piece: Piece) -> None:
        if piece.kind == "content":
            self.content += piece.text
        elif piece.kind == "reasoning":
            self.reasoning += piece.text
        elif piece.kind == "reasoning_done":
            self.reasoning_time = piece.text
        elif piece.kind == "tool_call":
            self.calls[piece.index] = {"id": "", "function": {"name": piece.text, "arguments": ""}}
        elif piece.kind == "tool_arguments" and piece.index in self.calls:
            self.calls[piece.index]["function"]["arguments"] += piece.text
        # Candidates (n > 1) show side by side only to the tabs that saw them start; every
        # tab gets them all as versions when the answer ends.

    def as_event(self) -> dict[str, Any]:
        return {
            "content": self.content,
            "reasoning": self.reasoning,
            "reasoning_time": self.reasoning_time,
            "tool_calls": [
                [i, call["function"]["name"], call["function"]["arguments"]]
                for i, call in sorted(self.calls.items())
            ],
        }


class Viewer(Protocol):
    """A socket of a conversation (the consumer)."""

    channel_name: str

    async def answer_frames(self, event: dict[str, Any]) -> None: ...


# Conversation pk -> the sockets of this process that have it open.
_SOCKETS: dict[int, set[Viewer]] = {}


def _crosses_processes() -> bool:
    """Other processes may hold sockets and answers: the layer is not the in-memory one."""
    return not isinstance(get_channel_layer(), InMemoryChannelLayer)


async def watch(pk: int, viewer: Viewer) -> dict[str, Any] | None:
    """Count `viewer` as watching conversation `pk`. Returns what an answer streaming here has
    shown so far (an `answer.snapshot` event); one streaming elsewhere sends its own."""
    _SOCKETS.setdefault(pk, set()).add(viewer)
    if _crosses_processes():
        await get_channel_layer().group_add(viewers(pk), viewer.channel_name)
        await join_from_afar(pk, viewer)
    answer = _LIVE.get(pk)
    if answer is None:
        return None
    answer.joined()
    return answer.snapshot()


async def unwatch(pk: int, viewer: Viewer) -> None:
    sockets = _SOCKETS.get(pk, set())
    sockets.discard(viewer)
    if not sockets:
        _SOCKETS.pop(pk, None)
    if _crosses_processes():
        await get_channel_layer().group_discard(viewers(pk), viewer.channel_name)
        await _tell_owner(pk, "answer.leave", channel=viewer.channel_name)
    if (answer := _LIVE.get(pk)) is not None:
        answer.left()


async def join_from_afar(pk: int, viewer: Viewer) -> None:
    """Ask the process streaming `pk`'s answer, if another one is, for its frames and what it
    has shown so far (at connect, or once `viewer` saw that answer's first frame)."""
    await _tell_owner(pk, "answer.join", channel=viewer.channel_name, snapshot=True)


async def stop(pk: int) -> None:
    """Stop conversation `pk`'s answer, in whichever process streams it."""
    if (answer := _LIVE.get(pk)) is not None:
        answer.stop()
    elif _crosses_processes():
        await _tell_owner(pk, "answer.stop")


async def _tell_owner(pk: int, kind: str, **fields: Any) -> None:
    await get_channel_layer().group_send(owner(pk), {"type": kind, **fields})


class LiveAnswer:
    """One answer streaming in this process, and the sockets of other processes watching it."""

    def __init__(
        self,
        conversation_pk: int,
        prepared: tuple[Connection, Message, dict[str, Any]],
        *,
        shown: Callable[[], str] | None,
    ) -> None:
        self.pk = conversation_pk
        self.connection, self.answer, self.body = prepared
        self.shown = shown
        self.remote: set[str] = set()  # channels of sockets in other processes
        self.seq = 0
        self.sent_so_far = Shown(self.answer.content, self.answer.reasoning)
        self.layer = get_channel_layer() if _crosses_processes() else None
        self.stop_reason = ""
        self.stopping = False
        self.alone: asyncio.TimerHandle | None = None
        self.started = asyncio.Event()  # the stream's task is inside its try block
        self.sent = asyncio.Event()  # the request is upstream
        self.drawn = asyncio.Event()  # the answer's elements were sent to the viewers

    async def start(self) -> None:
        """Start streaming; on return a Stop reaches the answer, and it is saved as stopped."""
        if self.layer is not None:
            self.channel = await self.layer.new_channel()
            await self.layer.group_add(owner(self.pk), self.channel)
            self.listener = asyncio.create_task(self._listen())
        _LIVE[self.pk] = self
        shutdown.before_stop(stop_all)  # SIGTERM: saved as stopped by the restart
        self.task = asyncio.create_task(self._stream())
        await self.started.wait()
        try:
            # Drawing takes milliseconds the model can use: the request goes out first, unless
            # connecting is slow (then the person's message is not held back for it).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.sent.wait(), _DRAW_AFTER_SENT_AT_MOST)
            await self._publish(
                [
                    (self.shown() if self.shown else "")
                    + fragments.notice()
                    + fragments.append_message(self.answer)
                    + fragments.composer_buttons(busy=True)
                ]
            )
        finally:
            self.drawn.set()

    def stop(self, reason: str = "") -> None:
        self.stop_reason = self.stop_reason or reason
        self.stopping = True
        self.task.cancel()

    def snapshot(self) -> dict[str, Any] | None:
        if not self.seq:
            return None  # nothing drawn yet: the first frame will be
        event = {"type": "answer.snapshot", "answer": self.answer.pk, "seq": self.seq}
        return event | self.sent_so_far.as_event()

    def joined(self) -> None:
        if self.alone is not None:
            self.alone.cancel()
            self.alone = None

    def left(self) -> None:
        if _SOCKETS.get(self.pk) or self.remote or self.alone is not None:
            return
        grace = settings.ANSWER_GRACE_SECONDS
        reason = f"nobody had the conversation open for {grace:g} s; what arrived is kept above."
        self.alone = asyncio.get_running_loop().call_later(grace, self.stop, reason)

    async def _stream(self) -> None:
        answer = self.answer

        async def send_pieces(batch: list[Piece]) -> None:
            if self.stopping:
                # The cancel of a Stop can be swallowed by the library it lands in (seen in
                # the Redis client, now and then): the next piece ends the answer instead.
                raise asyncio.CancelledError
            await self.drawn.wait()  # the answer's elements are on the pages
            for piece in batch:
                self.sent_so_far.add(piece)
            await self._publish(fragments.pieces(answer, batch))

        outbox = Coalescer(send_pieces, settings.STREAM_COALESCE_SECONDS)
        try:
            self.started.set()
            await generate(
                answer,
                self.body,
                client=upstream.shared_client(
                    connect_timeout=settings.UPSTREAM_CONNECT_TIMEOUT,
                    read_timeout=settings.UPSTREAM_READ_TIMEOUT,
                ),
                connection=self.connection,
                on_piece=outbox.add,
                on_end=outbox.close,
                on_sent=self.sent.set,
                # Saved with the status: no tab ever reads "stopped" without its reason.
                why_stopped=lambda: self.stop_reason,
            )
        except asyncio.CancelledError:
            pass  # stopped: saved as such by `generate`; the viewers are told below
        finally:
            self.sent.set()  # it failed before sending, say: nothing to wait for
            await self.drawn.wait()
            await outbox.close()
            await self._end()

    async def _end(self) -> None:
        """Stop listening, then give every tab the finished answer."""
        answer = self.answer
        if _LIVE.get(self.pk) is self:
            del _LIVE[self.pk]
        if self.alone is not None:
            self.alone.cancel()
        if self.layer is not None:
            self.listener.cancel()
            await self.layer.group_discard(owner(self.pk), self.channel)
        final = await database_sync_to_async(fragments.replace_message)(answer)
        await self._publish(
            [final + fragments.composer_buttons(busy=False, ended=answer.status)], last=True
        )

    async def _publish(self, frames: list[str], *, last: bool = False) -> None:
        if not frames:
            return
        self.seq += 1
        event = {
            "type": "answer.frames",
            "answer": self.answer.pk,
            "seq": self.seq,
            "frames": frames,
            "last": last,
        }
        handed_over = event | {"here": True}
        for socket in list(_SOCKETS.get(self.pk, ())):
            try:
                await socket.answer_frames(handed_over)
            except Exception:  # one broken socket must not stop the answer for the others
                logger.exception("A socket of conversation %s could not take a frame", self.pk)
        if self.layer is None:
            return
        for channel in list(self.remote):
            await self.layer.send(channel, event)
        if self.seq == 1 or last:
            # Sockets of other processes that have not joined yet: the start, and the end.
            await self.layer.group_send(viewers(self.pk), event)

    async def _listen(self) -> None:
        """Joins, leaves and Stops from sockets of other processes."""
        assert self.layer is not None
        while True:
            event = await self.layer.receive(self.channel)
            kind = event.get("type")
            if kind == "answer.stop":
                self.stop()
            elif kind == "answer.join":
                self.remote.add(event["channel"])
                self.joined()
                if event.get("snapshot") and (snapshot := self.snapshot()):
                    await self.layer.send(event["channel"], snapshot)
            elif kind == "answer.leave":
                self.remote.discard(event["channel"])
                self.left()


async def stop_all(reason: str = RESTARTED) -> None:
    """Stop every answer of this process and wait until each is saved (server shutdown)."""
    answers = list(_LIVE.values())
    for answer in answers:
        answer.stop(reason)
    await asyncio.gather(*(answer.task for answer in answers), return_exceptions=True)
    await upstream.close_shared_client()  # its idle connections, closed rather than dropped
