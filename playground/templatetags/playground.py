"""Small display filters for messages."""

import json
from typing import Any

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from playground.stream import format_seconds
from playground.variables import VARIABLE

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


@register.filter
def mark_variables(text: str) -> SafeString:
    """The text escaped, each {{variable}} in a <mark> so the template shows what Send fills."""
    parts, last = [], 0
    for match in VARIABLE.finditer(text or ""):
        parts.append(escape(text[last : match.start()]))
        written = escape(match.group(0))
        parts.append(written if match.group(1) else f'<mark class="variable">{written}</mark>')
        last = match.end()
    parts.append(escape((text or "")[last:]))
    return mark_safe("".join(parts))


@register.filter
def duration(value: Any) -> str:
    """A timedelta in words: 15 minutes, 1 hour 30 minutes, 45 seconds."""
    seconds = int(value.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [
        f"{n} {unit}{'s' if n != 1 else ''}"
        for n, unit in ((hours, "hour"), (minutes, "minute"), (seconds, "second"))
        if n
    ]
    return " ".join(parts) or "a moment"
