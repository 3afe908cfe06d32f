"""Saved prompts: a conversation's setup kept as numbered versions, none ever overwritten."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import Max, Q, QuerySet
from django.urls import reverse

from playground.models import Conversation
from playground.models.fields import OrderedJSONField


class Prompt(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="prompts"
    )
    name = models.CharField(max_length=200)
    # Conversations that save into this prompt: saving one again adds a version here.
    conversations = models.ManyToManyField(Conversation, blank=True, related_name="prompts")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated", "-pk"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("prompt", args=[self.pk])

    @transaction.atomic
    def add_version(self, setup: dict[str, Any], note: str = "") -> PromptVersion:
        """The next version (v1, v2, …) of this prompt; earlier ones stay as they are."""
        # Locks the prompt's row, so two saves at once cannot take the same number.
        Prompt.objects.select_for_update().filter(pk=self.pk).first()
        last = self.versions.aggregate(last=Max("number"))["last"] or 0
        version = self.versions.create(number=last + 1, note=note[:200], setup=setup)
        self.save(update_fields=["updated"])
        return version

    @transaction.atomic
    def duplicate(self) -> Prompt:
        copy = Prompt.objects.create(owner_id=self.owner_id, name=f"{self.name} (copy)"[:200])
        for version in self.versions.all():
            copy.versions.create(number=version.number, note=version.note, setup=version.setup)
        return copy


class PromptVersion(models.Model):
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    note = models.CharField(max_length=200, blank=True)
    # The conversation's setup as a HexPlay export (format 1): system prompt, messages as
    # written (variables unfilled), options, tools, connection, model, variables' values.
    setup = OrderedJSONField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["prompt", "number"], name="one_number_per_version")
        ]

    def __str__(self) -> str:
        return f"{self.prompt.name} v{self.number}"


def search_prompts(owner: Any, query: str = "") -> QuerySet[Prompt]:
    found = Prompt.objects.filter(owner=owner)
    if query.strip():
        found = found.filter(Q(name__icontains=query.strip()))
    return found.annotate(version_count=models.Count("versions"))
