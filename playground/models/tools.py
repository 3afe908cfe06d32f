"""The tool library: function definitions a person keeps and attaches to conversations."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.urls import reverse

from playground import tools
from playground.models.fields import OrderedJSONField


def _validate_tool_name(value: str) -> None:
    if problem := tools.name_problem(value):
        raise ValidationError(problem, code="tool_name")


def _validate_parameters(value: Any) -> None:
    if problems := tools.schema_problems(value):
        raise ValidationError([f"Parameters: {problem}." for problem in problems])


class ToolDefinition(models.Model):
    """A function the person can offer the model; sent as one entry of the request's `tools`."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tool_definitions"
    )
    name = models.CharField(max_length=64, validators=[_validate_tool_name])
    description = models.TextField(blank=True)
    # A JSON Schema with "type": "object": the arguments the model writes when it calls the tool.
    parameters = OrderedJSONField(default=tools.empty_parameters, validators=[_validate_parameters])
    strict = models.BooleanField(default=False)
    # Prefills the result box when the model calls the tool, so a prototype answers in one click.
    canned_result = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "name"],
                name="tool_name_unique_per_owner",
                violation_error_message="You already have a tool with this name.",
            ),
            models.CheckConstraint(
                condition=Q(name__regex=tools.NAME_PATTERN), name="tool_name_format"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("tool_edit", args=[self.pk])

    def as_openai(self) -> dict[str, Any]:
        """`{"type": "function", "function": {...}}`, one entry of the request's `tools`."""
        return tools.openai_tool(self.name, self.description, self.parameters, self.strict)

    def signature(self) -> str:
        """A one-line summary such as `get_current_weather(location, unit?)`."""
        return tools.signature(self.name, self.parameters)

    @transaction.atomic
    def duplicate(self) -> ToolDefinition:
        """A copy for the same owner named name_copy (name_copy2… when taken)."""
        return ToolDefinition.objects.create(
            owner_id=self.owner_id,
            name=free_tool_name(self.owner_id, self.name),
            description=self.description,
            parameters=self.parameters,
            strict=self.strict,
            canned_result=self.canned_result,
        )


def free_tool_name(owner_id: int, name: str) -> str:
    """`name`, or name_copy, name_copy2… : the first the owner does not use yet."""
    taken = set(ToolDefinition.objects.filter(owner_id=owner_id).values_list("name", flat=True))
    if name not in taken:
        return name
    number = 1
    while True:
        suffix = "_copy" if number == 1 else f"_copy{number}"
        candidate = name[: 64 - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
        number += 1


class ToolClash(models.TextChoices):
    """What an import does with a tool whose name the person already uses."""

    COPY = "copy", "Import it as a copy (name_copy)"
    REPLACE = "replace", "Replace mine with it (my canned result stays)"
    STOP = "stop", "Import nothing"


@transaction.atomic
def import_tools(owner: Any, specs: Iterable[Any], *, on_clash: str = ToolClash.COPY) -> list[str]:
    """Store checked tools (`playground.tools.ToolSpec`) for `owner`, all or none.

    Returns one plain sentence per tool saying what happened to it. With `ToolClash.STOP`, a
    name already in use raises `tools.ToolsRejected` and nothing is stored.
    """
    specs = list(specs)
    mine = {t.name: t for t in ToolDefinition.objects.select_for_update().filter(owner=owner)}
    clashes = [spec.name for spec in specs if spec.name in mine]
    if clashes and on_clash == ToolClash.STOP:
        names = ", ".join(clashes)
        raise tools.ToolsRejected(
            f"You already have {'a tool' if len(clashes) == 1 else 'tools'} named {names}. "
            "Nothing was imported: choose to import as a copy or to replace yours."
        )
    report = []
    for spec in specs:
        fields = {
            "description": spec.description,
            "parameters": spec.parameters,
            "strict": spec.strict,
        }
        existing = mine.get(spec.name)
        if existing is not None and on_clash == ToolClash.REPLACE:
            for key, value in fields.items():
                setattr(existing, key, value)
            existing.save()
            report.append(f"{spec.name} replaced yours (its canned result was kept).")
        elif existing is not None:
            copy = ToolDefinition.objects.create(
                owner=owner, name=free_tool_name(owner.pk, spec.name), **fields
            )
            report.append(f"{spec.name} was already taken, so it was imported as {copy.name}.")
        else:
            ToolDefinition.objects.create(owner=owner, name=spec.name, **fields)
            report.append(f"{spec.name} was imported.")
    return report
