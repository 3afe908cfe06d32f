"""Upstream servers staff add in the admin, and the API dialect each speaks."""

from __future__ import annotations

from django.db import models


class Dialect(models.TextChoices):
    VLLM = "vllm", "vLLM"
    MISTRAL = "mistral", "Mistral API"
    LLAMACPP = "llamacpp", "llama.cpp"


class UpstreamConnection(models.Model):
    """A connection added by staff in the admin; the built-in ones come from settings."""

    slug = models.SlugField(unique=True, help_text="Short identifier, e.g. 'staging'.")
    name = models.CharField(max_length=100)
    base_url = models.URLField(help_text="Up to and including /v1, e.g. http://10.0.0.5:8000/v1")
    # Never rendered to a page: the admin form shows it as a password field.
    api_key = models.CharField(max_length=500, blank=True)
    dialect = models.CharField(max_length=20, choices=Dialect.choices, default=Dialect.VLLM)
    default_model = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
