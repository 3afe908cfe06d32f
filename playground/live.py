"""Answers being streamed: owned by the process that started them, watched by every socket of
their conversation (any tab, any worker) through two channel-layer groups.

`viewers(pk)` holds every socket of conversation `pk`; the answer's frames go there, numbered.
`owner(pk)` holds the process streaming its answer, if one is: sockets send it `answer.join`
(with their channel, to get what arrived so far), `answer.leave` and `answer.stop`. A viewer
that joins mid-answer drops the numbered frames the snapshot already covers, so it sees every
piece once. When the last viewer has been gone `ANSWER_GRACE_SECONDS` the answer is stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

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


class LiveAnswer:
    """One answer streaming in this process, and the sockets watching it."""

    def __init__(
        self,
        conversation_pk: int,
        prepared: tuple[Connection, Message, dict[str, Any]],
        *,
        viewer: str,
        shown: Callable[[], str] | None,
    ) -> None:
        self.pk = conversation_pk
        self.connection, self.answer, self.body = prepared
        self.shown = shown
        self.viewers = {viewer}
        self.seq = 0
        self.sent_so_far = Shown(self.answer.content, self.answer.reasoning)
        self.layer = get_channel_layer()
        self.stop_reason = ""
        self.alone: asyncio.TimerHandle | None = None
        self.started = asyncio.Event()  # the stream's task is inside its try block
        self.sent = asyncio.Event()  # the request is upstream
        self.drawn = asyncio.Event()  # the answer's elements were sent to the viewers

    async def start(self) -> None:
        """Start streaming; on return a Stop reaches the answer, and it is saved as stopped."""
        self.channel = await self.layer.new_channel()
        await self.layer.group_add(owner(self.pk), self.channel)
        _LIVE[self.pk] = self
        _stop_on_shutdown()
        self.task = asyncio.create_task(self._stream())
        self.listener = asyncio.create_task(self._listen())
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
        self.task.cancel()

    async def _stream(self) -> None:
        answer = self.answer

        async def send_pieces(batch: list[Piece]) -> None:
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
            )
        except asyncio.CancelledError:
            pass  # stopped: saved as such by `generate`; the viewers are told below
        finally:
            self.sent.set()  # it failed before sending, say: nothing to wait for
            await self.drawn.wait()
            await outbox.close()
            await self._end()

    async def _end(self) -> None:
        """Say why it stopped, leave the owner group, then give every tab the finished answer."""
        answer = self.answer
        if self.stop_reason and answer.status == Message.Status.STOPPED:
            answer.error = self.stop_reason
            await Message.objects.filter(pk=answer.pk).aupdate(error=self.stop_reason)
        if _LIVE.get(self.pk) is self:
            del _LIVE[self.pk]
        if self.alone is not None:
            self.alone.cancel()
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
        await self.layer.group_send(viewers(self.pk), event)

    async def _listen(self) -> None:
        """Joins, leaves and Stops from the conversation's sockets, wherever they are."""
        while True:
            event = await self.layer.receive(self.channel)
            kind = event.get("type")
            if kind == "answer.stop":
                self.stop()
            elif kind == "answer.join":
                self._joined(event["channel"])
                if event.get("snapshot") and self.seq:
                    snapshot = {"type": "answer.snapshot", "answer": self.answer.pk}
                    snapshot |= {"seq": self.seq, **self.sent_so_far.as_event()}
                    await self.layer.send(event["channel"], snapshot)
            elif kind == "answer.leave":
                self.viewers.discard(event["channel"])
                if not self.viewers and self.alone is None:
                    grace = settings.ANSWER_GRACE_SECONDS
                    reason = f"nobody had the conversation open for {grace:g} s; "
                    reason += "what arrived is kept above."
                    self.alone = asyncio.get_running_loop().call_later(grace, self.stop, reason)

    def _joined(self, channel: str) -> None:
        self.viewers.add(channel)
        if self.alone is not None:
            self.alone.cancel()
            self.alone = None


async def stop_all(reason: str = RESTARTED) -> None:
    """Stop every answer of this process and wait until each is saved (server shutdown)."""
    answers = list(_LIVE.values())
    for answer in answers:
        answer.stop(reason)
    await asyncio.gather(*(answer.task for answer in answers), return_exceptions=True)


_shutdown_hooked = False


def _stop_on_shutdown() -> None:
    """Under daphne, SIGTERM stops the reactor: first save the answers as stopped (restarted)."""
    global _shutdown_hooked
    reactor_module = sys.modules.get("twisted.internet.reactor")
    if _shutdown_hooked or reactor_module is None:
        return
    from twisted.internet import defer, reactor

    if not reactor.running:
        return
    _shutdown_hooked = True

    def before_shutdown() -> defer.Deferred[None]:
        logger.info("Stopping %d answer(s) before the server stops", len(_LIVE))
        return defer.Deferred.fromFuture(asyncio.ensure_future(stop_all()))

    reactor.addSystemEventTrigger("before", "shutdown", before_shutdown)
