"""What the conversation's websocket accepts from the page: a frame read, or refused in words.

The page's own frames are htmx's ws-send of a form: a JSON object of strings (a list of strings
for a field with several values); numbers are taken as a form would write them. Anything else
(too large, not JSON, another shape, an action the consumer does not know, too many frames at
once) is refused with a sentence the page shows; the socket stays open and nothing is stored.
"""

from __future__ import annotations

import json
import time
from typing import Any

from django.conf import settings

# "rejoin": the page shows an answer streaming and asks how it stands (see the consumer).
ACTIONS = {"send", "stop", "rejoin", "retry", "regenerate", "continue", "tool_results"}


class FrameRefused(Exception):
    """The frame is not one the page sends; the text says what to do."""


def read_frame(text: str | None) -> dict[str, Any]:
    if text is None:
        raise FrameRefused("The page sent something the server could not read: reload the page.")
    limit = settings.WEBSOCKET_MAX_BYTES
    if len(text) > limit or len(text.encode()) > limit:
        raise FrameRefused(
            f"That is too large to send (over {limit // 1024:,} KB): shorten the message."
        )
    try:
        content = json.loads(text)
    except ValueError:
        raise FrameRefused(
            "The page sent something the server could not read: reload the page."
        ) from None
    if not isinstance(content, dict):
        raise FrameRefused("The page sent something the server could not read: reload the page.")
    # htmx's ws-send adds its request headers (HX-Trigger, HX-Current-URL…); nothing reads them.
    content.pop("HEADERS", None)
    try:
        content = {str(key): _form_value(value) for key, value in content.items()}
    except ValueError:
        raise FrameRefused(
            "The page sent something the server could not read: reload the page."
        ) from None
    action = content.get("action") or "send"
    if action not in ACTIONS:
        raise FrameRefused("The page asked for something the server does not do: reload the page.")
    return content


def _form_value(value: Any) -> str | list[str]:
    """A field as a form holds it: text (numbers written out), or a list of texts."""
    if isinstance(value, list):
        return [_form_scalar(item) for item in value]
    return _form_scalar(value)


def _form_scalar(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise ValueError(value)


class RateLimit:
    """A token bucket per socket: `burst` frames at once, then `per_second` on average."""

    def __init__(self, per_second: float, burst: int) -> None:
        self.per_second, self.burst = per_second, burst
        self.tokens = float(burst)
        self.last = time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.per_second)
        self.last = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True
