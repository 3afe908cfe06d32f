"""A plain first sentence for an answer that failed: what to change, before the server's words."""

from __future__ import annotations

import re

from playground import options
from playground.upstream import UpstreamError

_CONTEXT = re.compile(r"context length|context window|maximum model length|too many tokens", re.I)
_UNKNOWN_MODEL = re.compile(r"model .* (does not exist|not found)|unknown model", re.I)


def explain(error: UpstreamError, target: str) -> str:
    """The error as shown under the answer: advice in plain words, then the server's own text."""
    advice = _advice(error, target)
    return f"{advice} {error}" if advice else str(error)


def _advice(error: UpstreamError, target: str) -> str:
    detail = error.detail or ""
    if error.status == 401:
        return "Check the connection's API key."
    if error.status is not None and error.status >= 500:
        return "The model's server failed; try again in a moment."
    if _CONTEXT.search(detail):
        return (
            "The conversation and the answer's length limit are more than the model can take: "
            "lower Max tokens in the request options, or start a shorter conversation."
        )
    if _UNKNOWN_MODEL.search(detail):
        return "Pick another model in Settings: the server does not serve this one."
    named = _option_named_in(detail, target)
    if named is not None:
        return f"Change “{named.label}” in the request options (or clear it) and try again."
    if error.status in (400, 422):
        return "The server refused one of the settings; its reason follows."
    return ""


def _option_named_in(detail: str, target: str) -> options.Option | None:
    """The option whose API name the server's message mentions first."""
    found: list[tuple[int, options.Option]] = []
    for option in options.OPTIONS:
        if target not in option.wire or not option.sent:
            continue
        name = option.api_name(target).split(".")[-1]
        match = re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", detail)
        if match:
            found.append((match.start(), option))
    return min(found, key=lambda item: item[0])[1] if found else None
