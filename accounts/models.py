"""Invitations: a one-time sign-up link staff hand to a person, instead of their password."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from playground.models.sharing import new_share_token


def _expiry() -> timezone.datetime:
    return timezone.now() + timedelta(days=settings.INVITE_DAYS)


class Invite(models.Model):
    # Unguessable, URL-safe: the link is the only thing that lets someone sign up.
    token = models.CharField(max_length=64, unique=True, default=new_share_token, editable=False)
    note = models.CharField(
        max_length=200, blank=True, help_text="For whom, to recognise it in this list."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)
    expires = models.DateTimeField(default=_expiry)
    used_by = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    used = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return self.note or f"Invitation of {self.created:%Y-%m-%d}"

    def get_absolute_url(self) -> str:
        return reverse("invite", args=[self.token])

    @property
    def usable(self) -> bool:
        return self.used is None and self.expires > timezone.now()
