"""Test cases of a saved prompt, the checks their answers must pass, and stored runs."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.urls import reverse

from playground.models.fields import OrderedJSONField
from playground.models.sharing import new_share_token
from workbench.models import Prompt, PromptVersion


class TestCase(models.Model):
    """One row of a prompt's table: a value for each of its variables."""

    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="test_cases")
    position = models.PositiveIntegerField(default=0)
    values = models.JSONField(default=dict)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return f"{self.prompt} row {self.position + 1}"


class Check(models.Model):
    """What an answer must be, for every row of a prompt or for one row only."""

    class Kind(models.TextChoices):
        CONTAINS = "contains", "Contains"
        NOT_CONTAINS = "not_contains", "Does not contain"
        EQUALS = "equals", "Equals"
        REGEX = "regex", "Matches a regular expression"
        VALID_JSON = "valid_json", "Is valid JSON"
        JSON_SCHEMA = "json_schema", "Matches a JSON Schema"
        TOOL_CALL = "tool_call", "Calls a tool"
        FINISH_STOP = "finish_stop", "Finishes on its own (finish reason stop)"
        MAX_TOKENS = "max_tokens", "Is under N tokens"

    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="checks")
    # None: the check applies to every row.
    case = models.ForeignKey(
        TestCase, null=True, blank=True, on_delete=models.CASCADE, related_name="checks"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # The text, pattern, tool name or number the kind needs.
    value = models.TextField(blank=True)
    ignore_case = models.BooleanField(default=False)
    # The JSON Schema of json_schema (None: the request's response_format schema), or of the
    # tool call's arguments.
    schema = OrderedJSONField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.describe()

    def describe(self) -> str:
        """The check in a few words, as the grid's columns and results name it."""
        quoted = f"“{self.value}”"
        words = {
            self.Kind.CONTAINS: f"contains {quoted}",
            self.Kind.NOT_CONTAINS: f"does not contain {quoted}",
            self.Kind.EQUALS: f"equals {quoted}",
            self.Kind.REGEX: f"matches /{self.value}/",
            self.Kind.VALID_JSON: "is valid JSON",
            self.Kind.JSON_SCHEMA: "matches the schema"
            if self.schema
            else "matches the response_format schema",
            self.Kind.TOOL_CALL: f"calls {self.value}"
            + (" with matching arguments" if self.schema else ""),
            self.Kind.FINISH_STOP: "finishes with stop",
            self.Kind.MAX_TOKENS: f"under {self.value} tokens",
        }[self.Kind(self.kind)]
        if self.ignore_case and self.kind in _TEXT_KINDS:
            words += " (any case)"
        return words

    def as_data(self) -> dict[str, Any]:
        """What a run keeps of the check: later edits do not change a stored run's results."""
        return {
            "id": self.pk,
            "case": self.case_id,
            "kind": self.kind,
            "value": self.value,
            "ignore_case": self.ignore_case,
            "schema": self.schema,
            "label": self.describe(),
        }


_TEXT_KINDS = {Check.Kind.CONTAINS, Check.Kind.NOT_CONTAINS, Check.Kind.EQUALS}


class Run(models.Model):
    """One prompt version run against every test case, stored as it went."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        STOPPED = "stopped", "Stopped"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="runs"
    )
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="runs")
    version = models.ForeignKey(PromptVersion, on_delete=models.CASCADE, related_name="runs")
    connection = models.CharField(max_length=100)
    model = models.CharField(max_length=200)
    concurrency = models.PositiveSmallIntegerField(default=4)
    repeat = models.PositiveSmallIntegerField(default=1)
    # Options this run sets over the version's (stored as the options panel stores them).
    overrides = models.JSONField(default=dict, blank=True)
    # The checks as they were when the run started.
    checks = models.JSONField(default=list)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    share_token = models.CharField(max_length=64, unique=True, null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-pk"]

    def __str__(self) -> str:
        return f"{self.prompt.name} v{self.version.number} · {self.model}"

    def get_absolute_url(self) -> str:
        return reverse("run", args=[self.pk])

    @property
    def label(self) -> str:
        parts = [f"v{self.version.number}", self.model]
        parts += [f"{key.replace('_', ' ')} {value}" for key, value in self.overrides.items()]
        if self.repeat > 1:
            parts.append(f"×{self.repeat}")
        return " · ".join(parts)

    def share(self) -> str:
        if not self.share_token:
            self.share_token = new_share_token()
            self.save(update_fields=["share_token"])
        return self.share_token


class RunRow(models.Model):
    """One request of a run (a test case, or one of its repeats) and its answer."""

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        STOPPED = "stopped", "Stopped"

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="rows")
    case = models.ForeignKey(TestCase, null=True, on_delete=models.SET_NULL, related_name="+")
    position = models.PositiveIntegerField()
    attempt = models.PositiveSmallIntegerField(default=1)
    values = models.JSONField(default=dict)
    request = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.WAITING)
    answer = models.TextField(blank=True)
    reasoning = models.TextField(blank=True)
    tool_calls = models.JSONField(default=list)
    finish_reason = models.CharField(max_length=40, blank=True)
    error = models.TextField(blank=True)
    first_token_ms = models.FloatField(null=True)
    total_ms = models.FloatField(null=True)
    prompt_tokens = models.PositiveIntegerField(null=True)
    completion_tokens = models.PositiveIntegerField(null=True)
    # Per check: {"label", "passed", "why"}.
    results = models.JSONField(default=list)

    class Meta:
        ordering = ["position", "attempt"]

    def __str__(self) -> str:
        return f"{self.run} row {self.position + 1}"

    @property
    def passed(self) -> bool | None:
        """All checks passed (None: not answered yet, or no checks)."""
        if self.status != self.Status.DONE or not self.results:
            return None
        return all(result["passed"] for result in self.results)

    @property
    def tokens_per_second(self) -> float | None:
        if not self.completion_tokens or not self.total_ms or self.first_token_ms is None:
            return None
        seconds = (self.total_ms - self.first_token_ms) / 1000
        return self.completion_tokens / seconds if seconds > 0 else None
