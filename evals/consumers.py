"""The websocket of a run's page: the owner's page joins the run's group and is sent its frames."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from evals.models import Run
from evals.runner import group_of


class RunConsumer(AsyncWebsocketConsumer):
    group = ""

    async def connect(self) -> None:
        pk = self.scope["url_route"]["kwargs"]["pk"]
        if not await self._owns(pk):
            await self.close()  # before accept: the handshake is refused, nothing leaks
            return
        self.group = group_of(pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """The page sends nothing: Stop and Retry are forms, which work without the socket."""

    async def run_frame(self, event: dict[str, str]) -> None:
        await self.send(text_data=event["text"])

    @database_sync_to_async
    def _owns(self, pk: int) -> bool:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            return False
        return Run.objects.filter(pk=pk, owner=user).exists()
