"""The websocket of one conversation: parse, check ownership, start or cancel the answer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from playground import fragments, inbound, turns, upstream
from playground.models import Conversation, Message
from playground.stream import Coalescer, Piece, generate
from playground.upstream.connections import Connection

# How long drawing the person's message may wait for the request to be written upstream.
_DRAW_AFTER_SENT_AT_MOST = 0.05


@dataclass
class _Turn:
    """One answer being streamed, and the moments the page is drawn around."""

    connection: Connection
    answer: Message
    body: dict[str, Any]
    started: asyncio.Event = field(default_factory=asyncio.Event)  # inside its try block
    sent: asyncio.Event = field(default_factory=asyncio.Event)  # the request is upstream
    drawn: asyncio.Event = field(default_factory=asyncio.Event)  # its elements are on the page


class ChatConsumer(AsyncJsonWebsocketConsumer):
    turn: asyncio.Task[None] | None = None
    client: upstream.Client | None = None
    closed = False
    rate: inbound.RateLimit

    async def connect(self) -> None:
        self.pk = self.scope["url_route"]["kwargs"]["pk"]
        if await self._conversation() is None:
            await self.close()  # before accept: the handshake is refused, nothing leaks
            return
        self.rate = inbound.RateLimit(settings.WEBSOCKET_PER_SECOND, settings.WEBSOCKET_BURST)
        self.client = upstream.new_client(
            connect_timeout=settings.UPSTREAM_CONNECT_TIMEOUT,
            read_timeout=settings.UPSTREAM_READ_TIMEOUT,
        )
        await self.accept()

    async def disconnect(self, code: int) -> None:
        self.closed = True
        if self.turn is not None:
            # A closed tab stops the answer like the Stop button, and what arrived is saved.
            self.turn.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.turn
        if self.client is not None:
            await self.client.aclose()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Every frame read (or refused in words, see `inbound`) before it is acted on."""
        if not self.rate.allow():
            await self._send(fragments.notice("Too many requests at once: wait a moment."))
            return
        try:
            content = inbound.read_frame(text_data)
        except inbound.FrameRefused as exc:
            await self._send(fragments.notice(str(exc)))
            return
        await self.receive_json(content)

    async def receive_json(self, content: dict[str, Any], **kwargs: Any) -> None:
        action = content.get("action") or "send"
        answering = self.turn is not None and not self.turn.done()
        if action == "send" and not content.get("edit") and not answering:
            await self._send_message(content)
            return
        conversation = await self._conversation()
        if conversation is None:  # deleted, or no longer theirs, since the socket opened
            await self.close()
            return
        if action == "stop":
            if self.turn is not None:
                self.turn.cancel()
            return
        if answering:
            await self._send(fragments.notice("An answer is still arriving. Press Stop first."))
            return
        if action == "send":
            try:
                await database_sync_to_async(turns.accept_user_message)(conversation, content)
            except turns.TurnRejected as exc:
                await self._send(fragments.notice(str(exc)))
                return
            shown = await database_sync_to_async(fragments.messages_list)(conversation)
            await self._send(shown + fragments.notice() + fragments.retitle(conversation))
        elif action == "tool_results":
            try:
                await database_sync_to_async(turns.accept_tool_results)(conversation, content)
            except turns.TurnRejected as exc:
                await self._send(fragments.notice(str(exc)))
                return
            listing = await database_sync_to_async(fragments.messages_list)(conversation)
            await self._send(listing + fragments.notice())
        elif action not in ("retry", "regenerate", "continue"):
            return
        try:
            prepared = await database_sync_to_async(turns.prepare_answer)(
                conversation, continuing=action == "continue"
            )
        except turns.TurnRejected as exc:
            prepared = exc
        await self._answer(prepared)

    async def _send_message(self, content: dict[str, Any]) -> None:
        """The common case, in one trip to the database thread (which every connection shares):
        the ownership check, the person's message saved, the request prepared."""

        def own_send_and_prepare() -> tuple[Conversation, Message | None, Any] | None:
            conversation = turns.own_conversation(self.scope["user"], self.pk)
            if conversation is None:
                return None
            return conversation, *turns.send_and_prepare(conversation, content)

        try:
            sent = await database_sync_to_async(own_send_and_prepare)()
        except turns.TurnRejected as exc:
            await self._send(fragments.notice(str(exc)))
            return
        if sent is None:  # deleted, or no longer theirs, since the socket opened
            await self.close()
            return
        conversation, message, prepared = sent

        def shown() -> str:
            asked = fragments.append_message(message) if message else ""
            return asked + fragments.retitle(conversation)

        await self._answer(prepared, shown)

    async def _answer(
        self,
        prepared: turns.Prepared | turns.TurnRejected,
        shown: Callable[[], str] | None = None,
    ) -> None:
        """Start the answer, then draw `shown()` (the person's message) and the empty answer."""
        if isinstance(prepared, turns.TurnRejected):
            # The person's message is saved: once the cause is fixed they can ask again.
            await self._send(
                (shown() if shown else "") + fragments.notice(str(prepared), retry=True)
            )
            return
        connection, answer, body = prepared
        turn = _Turn(connection, answer, body)
        self.turn = asyncio.create_task(self._stream(turn))
        try:
            # Messages are handled one at a time, so a Stop cannot arrive before the task is
            # inside its try block and can save the answer as stopped.
            await turn.started.wait()
            # Drawing takes milliseconds the model can use: the request goes out first, unless
            # connecting is slow (then the person's message is not held back for it).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(turn.sent.wait(), _DRAW_AFTER_SENT_AT_MOST)
            await self._send(
                (shown() if shown else "")
                + fragments.notice()
                + fragments.append_message(answer)
                + fragments.composer_buttons(busy=True)
            )
        finally:
            turn.drawn.set()

    async def _stream(self, turn: _Turn) -> None:
        answer = turn.answer

        async def send_pieces(batch: list[Piece]) -> None:
            await turn.drawn.wait()  # the answer's elements are on the page
            for frame in fragments.pieces(answer, batch):
                await self._send(frame)

        outbox = Coalescer(send_pieces, settings.STREAM_COALESCE_SECONDS)
        try:
            turn.started.set()
            await generate(
                answer,
                turn.body,
                client=self.client,
                connection=turn.connection,
                on_piece=outbox.add,
                on_end=outbox.close,
                on_sent=turn.sent.set,
            )
        finally:
            turn.sent.set()  # it failed before sending, say: nothing to wait for
            await turn.drawn.wait()
            await outbox.close()
            final = await database_sync_to_async(fragments.replace_message)(answer)
            await self._send(final + fragments.composer_buttons(busy=False, ended=answer.status))

    async def _conversation(self) -> Conversation | None:
        return await database_sync_to_async(turns.own_conversation)(self.scope["user"], self.pk)

    async def _send(self, frame: str) -> None:
        """HTML for htmx to swap, or a JSON frame of text (see `fragments.pieces`)."""
        if not self.closed:
            await self.send(text_data=frame)
