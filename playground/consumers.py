"""The websocket of one conversation: parse, check ownership, start, watch or stop its answer.

The answer itself lives in `live`: it outlives this socket, and every socket of the
conversation (another tab, a reload, another worker) watches it through the channel layer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from playground import fragments, inbound, live, turns
from playground.models import Conversation, Message


class ChatConsumer(AsyncJsonWebsocketConsumer):
    accepted = False
    closed = False
    rate: inbound.RateLimit
    # Answer pk -> the last numbered frame of it this socket passed on (see `live`); answers
    # whose last frame it passed on; frames that wait while a snapshot is drawn.
    following: dict[int, int]
    ended: set[int]
    held: list[str] | None = None

    async def connect(self) -> None:
        self.pk = self.scope["url_route"]["kwargs"]["pk"]
        if await self._conversation() is None:
            await self.close()  # before accept: the handshake is refused, nothing leaks
            return
        self.rate = inbound.RateLimit(settings.WEBSOCKET_PER_SECOND, settings.WEBSOCKET_BURST)
        self.following, self.ended = {}, set()
        await self.accept()
        self.accepted = True
        # An answer already streaming (a reload, another tab) shows what arrived so far.
        if snapshot := await live.watch(self.pk, self):
            await self.answer_snapshot(snapshot)

    async def disconnect(self, code: int) -> None:
        self.closed = True
        if self.accepted:
            # The answer goes on: a reload or another tab picks it up (see `live`).
            await live.unwatch(self.pk, self)

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
        answering = bool(self.following)
        if action == "send" and not content.get("edit") and not answering:
            await self._send_message(content)
            return
        conversation = await self._conversation()
        if conversation is None:  # deleted, or no longer theirs, since the socket opened
            await self.close()
            return
        if action == "stop":
            await live.stop(self.pk)  # whichever process streams it
            return
        if action == "rejoin":
            await self._rejoin(conversation, turns.as_int(content.get("answer")))
            return
        if answering:
            await self._send(fragments.notice(turns.ANSWERING))
            return
        shown = None
        if action == "send":
            try:
                await database_sync_to_async(turns.accept_user_message)(conversation, content)
            except turns.TurnRejected as exc:
                await self._send(fragments.notice(str(exc)))
                return
            listing = await database_sync_to_async(fragments.messages_list)(conversation)
            listing += fragments.retitle(conversation)
            shown = lambda: listing  # noqa: E731
        elif action == "tool_results":
            try:
                await database_sync_to_async(turns.accept_tool_results)(conversation, content)
            except turns.TurnRejected as exc:
                await self._send(fragments.notice(str(exc)))
                return
            listing = await database_sync_to_async(fragments.messages_list)(conversation)
            shown = lambda: listing  # noqa: E731
        elif action not in ("retry", "regenerate", "continue"):
            return
        try:
            prepared = await database_sync_to_async(turns.prepare_answer)(
                conversation, continuing=action == "continue"
            )
        except turns.TurnRejected as exc:
            prepared = exc
        await self._answer(prepared, shown)

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
        """Start the answer; it draws `shown()` (the person's message) and itself in every tab."""
        if isinstance(prepared, turns.TurnRejected):
            # The person's message is saved: once the cause is fixed they can ask again.
            await self._send(
                (shown() if shown else "") + fragments.notice(str(prepared), retry=True)
            )
            return
        self.following[prepared[1].pk] = 0
        await live.LiveAnswer(self.pk, prepared, shown=shown).start()

    async def answer_frames(self, event: dict[str, Any]) -> None:
        """Numbered frames of an answer: handed over by `live` when it streams in this
        process ("here"), else from the channel layer."""
        answer, seq = event["answer"], event["seq"]
        passed = self.following.get(answer)
        if answer in self.ended or (passed is not None and seq <= passed):
            return  # had it already (the channel layer's copy of a frame handed over here)
        if event["last"]:
            # Passed on even unasked: it replaces the answer whole, however much is on screen.
            self.following.pop(answer, None)
            self.ended.add(answer)
        elif passed is None:
            if seq != 1:
                return  # begun before this socket: its snapshot covers this frame
            self.following[answer] = seq
            if not event.get("here"):
                await live.join_from_afar(self.pk, self)  # the rest, from the other process
        else:
            self.following[answer] = seq
        if self.held is not None:
            self.held.extend(event["frames"])
            return
        for frame in event["frames"]:
            await self._send(frame)

    async def answer_snapshot(self, event: dict[str, Any]) -> None:
        """What an answer begun before this socket opened has shown so far."""
        answer = event["answer"]
        if answer in self.ended or self.following.get(answer, 0) >= event["seq"]:
            return
        self.following[answer] = event["seq"]
        self.held = []  # frames that arrive while it is drawn follow it
        try:
            conversation = await self._conversation()
            if conversation is not None:
                for frame in await database_sync_to_async(fragments.rejoined)(
                    conversation, answer, event
                ):
                    await self._send(frame)
        finally:
            held, self.held = self.held, None
            for frame in held:
                await self._send(frame)

    async def _rejoin(self, conversation: Conversation, answer: int | None) -> None:
        """The page (reloaded, or reconnected) shows `answer` streaming: if it ended while no
        socket was open, it gets the finished answer (if it still streams, `connect` asked for
        it)."""
        if answer is None or answer in self.following:
            return
        ended = (
            await conversation.messages.filter(pk=answer)
            .exclude(status=Message.Status.STREAMING)
            .afirst()
        )
        if ended is not None:
            final = await database_sync_to_async(fragments.replace_message)(ended)
            await self._send(final + fragments.composer_buttons(busy=False, ended=ended.status))

    async def _conversation(self) -> Conversation | None:
        return await database_sync_to_async(turns.own_conversation)(self.scope["user"], self.pk)

    async def _send(self, frame: str) -> None:
        """HTML for htmx to swap, or a JSON frame of text (see `fragments.pieces`)."""
        if not self.closed:
            await self.send(text_data=frame)
