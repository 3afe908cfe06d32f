"""A plain first sentence for an answer that failed: what to change, before the server's words."""

from __future__ import annotations

import re

from playground import options
from playground.upstream import UpstreamError

_CONTEXT = re.compile(
    r"context length|context window|context size|maximum model length|too many tokens", re.I
)
_UNKNOWN_MODEL = re.compile(r"model .* (does not exist|not found)|unknown model", re.I)
# The numbers in the servers' own sentences, to say it as the token count does:
# vLLM "You passed 31200 input tokens and requested 2000 output tokens. However, the model's
# context length is only 32768 tokens" (and the older "…is 32768 tokens. However, you requested
# 33200 tokens (31200 in the messages, 2000 in the completion)"), vLLM's newer "This model's
# maximum context length is 32768 tokens. However, your prompt contains 40000 input tokens",
# llama.cpp "request (5031 tokens) exceeds the available context size (4096 tokens)".
_OVERFLOWS = [
    re.compile(
        r"passed (?P<prompt>\d+) input tokens and requested (?P<answer>\d+) output tokens.*?"
        r"context length is only (?P<context>\d+)",
        re.S,
    ),
    re.compile(
        r"maximum context length is (?P<context>\d+) tokens.*?\((?P<prompt>\d+) in the "
        r"messages, (?P<answer>\d+) in the completion\)",
        re.S,
    ),
    re.compile(
        r"maximum context length is (?P<context>\d+) tokens.*?contains (?P<prompt>\d+) input",
        re.S,
    ),
    re.compile(
        r"request \((?P<prompt>\d+) tokens\) exceeds the available context size \((?P<context>\d+)"
    ),
]


def too_long(prompt_tokens: int, answer_tokens: int | None, context_length: int) -> str:
    """What the token count and a refused request both say when the request cannot fit."""
    if answer_tokens:
        return (
            f"{prompt_tokens:,} tokens of conversation plus {answer_tokens:,} for the answer do "
            f"not fit the model's {context_length:,}: shorten it or lower Max tokens."
        )
    return (
        f"{prompt_tokens:,} tokens of conversation do not fit the model's {context_length:,}: "
        "shorten it."
    )


def _overflow(detail: str) -> str | None:
    for pattern in _OVERFLOWS:
        found = pattern.search(detail)
        if found:
            numbers = found.groupdict()
            answer = numbers.get("answer")
            return too_long(
                int(numbers["prompt"]), int(answer) if answer else None, int(numbers["context"])
            )
    return None


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
        return _overflow(detail) or (
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
        if not name:  # Extra JSON: merged into the body, it has no name of its own to find
            continue
        match = re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", detail)
        if match:
            found.append((match.start(), option))
    return min(found, key=lambda item: item[0])[1] if found else None
