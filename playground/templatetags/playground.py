"""Small display filters for messages."""

import json
from typing import Any

from django import template

from playground.stream import format_seconds

register = template.Library()


@register.filter
def seconds(milliseconds: float | None) -> str:
    """1234.5 -> '1.2 s', 87 -> '87 ms'."""
    return format_seconds(milliseconds)


@register.filter
def rate(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


@register.filter
def pretty_json(value: Any) -> str:
    """Indented JSON for a textarea; empty for nothing. Escaped like any other text."""
    return "" if value in (None, "", [], {}) else json.dumps(value, indent=2, ensure_ascii=False)
