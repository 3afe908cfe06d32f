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
    # Answer pk -> the last numbered frame of it this socket passed on (see `live`).
    following: dict[int, int]

    async def connect(self) -> None:
        self.pk = self.scope["url_route"]["kwargs"]["pk"]
        if await self._conversation() is None:
            await self.close()  # before accept: the handshake is refused, nothing leaks
            return
        self.rate = inbound.RateLimit(settings.WEBSOCKET_PER_SECOND, settings.WEBSOCKET_BURST)
        self.following = {}
        await self.channel_layer.group_add(live.viewers(self.pk), self.channel_name)
        await self.accept()
        self.accepted = True
        # An answer already streaming (a reload, another tab) sends what arrived so far.
        await self._tell_owner("answer.join", snapshot=True)

    async def disconnect(self, code: int) -> None:
        self.closed = True
        if self.accepted:
            # The answer goes on: a reload or another tab picks it up (see `live`).
            await self.channel_layer.group_discard(live.viewers(self.pk), self.channel_name)
            await self._tell_owner("answer.leave")

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
            await self._tell_owner("answer.stop")  # whichever process streams it
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
        await live.LiveAnswer(self.pk, prepared, viewer=self.channel_name, shown=shown).start()

    async def answer_frames(self, event: dict[str, Any]) -> None:
        """Numbered frames of an answer, from the process streaming it (see `live`)."""
        answer, seq = event["answer"], event["seq"]
        passed = self.following.get(answer)
        if event["last"]:
            # Always passed on: it replaces the answer whole, however much of it this page has.
            self.following.pop(answer, None)
        elif passed is None:
            if seq != 1:
                return  # begun before this socket: the snapshot asked for in `connect` has it
            self.following[answer] = seq
            await self._tell_owner("answer.join")  # begun by another tab: watching it too
        elif seq <= passed:
            return
        else:
            self.following[answer] = seq
        for frame in event["frames"]:
            await self._send(frame)

    async def answer_snapshot(self, event: dict[str, Any]) -> None:
        """What an answer begun before this socket opened has shown so far."""
        answer = event["answer"]
        if answer in self.following:
            return
        self.following[answer] = event["seq"]
        conversation = await self._conversation()
        if conversation is None:
            return
        frames = await database_sync_to_async(fragments.rejoined)(conversation, answer, event)
        for frame in frames:
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

    async def _tell_owner(self, kind: str, **fields: Any) -> None:
        event = {"type": kind, "channel": self.channel_name, **fields}
        await self.channel_layer.group_send(live.owner(self.pk), event)

    async def _conversation(self) -> Conversation | None:
        return await database_sync_to_async(turns.own_conversation)(self.scope["user"], self.pk)

    async def _send(self, frame: str) -> None:
        """HTML for htmx to swap, or a JSON frame of text (see `fragments.pieces`)."""
        if not self.closed:
            await self.send(text_data=frame)
