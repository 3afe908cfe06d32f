"""The websocket of a run's page: the owner's page joins the run's group and is sent its frames."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from evals import runner


class RunConsumer(AsyncWebsocketConsumer):
    group = ""

    async def connect(self) -> None:
        pk = self.scope["url_route"]["kwargs"]["pk"]
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()  # before accept: the handshake is refused, nothing leaks
            return
        # In the group before the snapshot is read: nothing can fall between the two.
        self.group = runner.group_of(pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        snapshot = await database_sync_to_async(runner.snapshot)(pk, user)
        if snapshot is None:  # not this person's run
            await self.channel_layer.group_discard(self.group, self.channel_name)
            self.group = ""
            await self.close()
            return
        await self.accept()
        await self.send(text_data=snapshot)

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """The page sends nothing: Stop and Retry are forms, which work without the socket."""

    async def run_frame(self, event: dict[str, str]) -> None:
        await self.send(text_data=event["text"])
