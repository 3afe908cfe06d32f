"""Share links: a snapshot of a conversation behind an unguessable token."""

from __future__ import annotations

import secrets

from django.db import models
from django.urls import reverse

from playground.models.fields import OrderedJSONField


def new_share_token() -> str:
    # 32 random bytes (256 bits) from the OS: unguessable, and URL-safe so it sits in a path.
    return secrets.token_urlsafe(32)


class Share(models.Model):
    """A read-only snapshot of a conversation behind an unguessable link; deleting it revokes it."""

    conversation = models.OneToOneField(
        "Conversation", on_delete=models.CASCADE, related_name="share"
    )
    token = models.CharField(max_length=64, unique=True, default=new_share_token, editable=False)
    # A copy, not references: later messages and edits stay private until the owner updates it.
    snapshot = OrderedJSONField(default=dict)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("shared", args=[self.token])

    @property
    def title(self) -> str:
        return self.snapshot.get("title") or "Shared conversation"
