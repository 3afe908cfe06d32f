"""What every page is told: mistakes in the server's configuration, in plain words."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def configuration_problems(request: HttpRequest) -> dict[str, list[str]]:
    # No secret in them: they name settings and URLs, never a key.
    return {"configuration_problems": settings.CONFIGURATION_PROBLEMS}
