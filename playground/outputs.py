"""What some options produce, made ready to show: several candidates, and the odds of each token."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from playground import upstream

FINISH_WORDS = {
    "stop": "finished",
    "length": "stopped at the token limit",
    "tool_calls": "asked for a tool",
    "repetition": "stopped because it repeated itself",
    "abort": "cut off",
}


@dataclass
class Candidate:
    """One of the n answers written at once."""

    index: int
    content: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    finish_reason: str = ""
    logprobs: list[dict[str, Any]] = field(default_factory=list)
    version: Any = None  # the saved Message that continues with this candidate, once saved
    # While streaming: when its first token and its finish arrived (time.monotonic()).
    first_token_at: float | None = None
    finished_at: float | None = None

    @property
    def text(self) -> str:
        return "".join(self.content)

    @property
    def finish_words(self) -> str:
        return FINISH_WORDS.get(self.finish_reason, self.finish_reason)

    @property
    def html(self) -> str:
        """Its Markdown, rendered and sanitised once it was saved; empty while it streams."""
        return self.version.content_html if self.version is not None else ""

    @property
    def tokens(self) -> int | None:
        """Its own token count, known only with logprobs (one entry per token).

        vLLM's usage counts the tokens of all n candidates together.
        """
        return len(self.logprobs) if self.logprobs else None

    def as_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "content": self.text,
            "reasoning": "".join(self.reasoning),
            "finish_reason": self.finish_reason,
        }


class Candidates:
    """Every choice of a streamed answer, kept apart by index (the page shows them side by side)."""

    def __init__(self) -> None:
        self._by_index: dict[int, Candidate] = {}

    def get(self, index: int) -> Candidate:
        if index not in self._by_index:
            self._by_index[index] = Candidate(index)
        return self._by_index[index]

    def apply(self, event: upstream.Event) -> None:
        if isinstance(event, upstream.ContentDelta | upstream.ReasoningDelta):
            candidate = self.get(event.choice)
            if candidate.first_token_at is None:
                candidate.first_token_at = time.monotonic()
            if isinstance(event, upstream.ContentDelta):
                candidate.content.append(event.text)
            else:
                candidate.reasoning.append(event.text)
        elif isinstance(event, upstream.Finish):
            candidate = self.get(event.choice)
            candidate.finish_reason = event.reason
            candidate.finished_at = time.monotonic()

    def add_logprobs(self, index: int, entries: list[dict[str, Any]]) -> None:
        """The `choices[i].logprobs.content` entries of one chunk."""
        self.get(index).logprobs.extend(entries)

    def __len__(self) -> int:
        return len(self._by_index)

    def in_order(self) -> list[Candidate]:
        return [self._by_index[i] for i in sorted(self._by_index)]


def from_versions(messages: list[Any]) -> list[Candidate]:
    """Saved candidates (a Message each, choice 0 first) as the candidates partial shows them."""
    return [
        Candidate(
            index=i,
            content=[m.content],
            reasoning=[m.reasoning],
            finish_reason=m.finish_reason,
            logprobs=m.logprobs or [],
            version=m,
        )
        for i, m in enumerate(messages)
    ]


# --- Token odds (logprobs) ---------------------------------------------------------------------


@dataclass(frozen=True)
class Alternative:
    label: str  # the token with its spaces and line breaks made visible
    percent: str
    chosen: bool


@dataclass(frozen=True)
class TokenView:
    text: str
    percent: str
    band: str  # sure, likely, unsure or unlikely: the colour it is shown in
    alternatives: list[Alternative]

    @property
    def summary(self) -> str:
        """Words for the tooltip: its own chance, then the alternatives the model weighed."""
        others = ", ".join(
            f"{alt.label} {alt.percent}" for alt in self.alternatives if not alt.chosen
        )
        return f"{self.percent} likely" + (f"; instead: {others}" if others else "")


def probability(logprob: float) -> float:
    # vLLM floors -inf at -9999.0.
    return math.exp(logprob) if logprob > -9999 else 0.0


def percent(p: float) -> str:
    if p >= 0.995:
        return "100%"
    if p >= 0.01:
        return f"{p * 100:.0f}%"
    if p >= 0.001:
        return f"{p * 100:.1f}%"
    return "<0.1%"


def band(p: float) -> str:
    if p >= 0.9:
        return "sure"
    if p >= 0.6:
        return "likely"
    if p >= 0.3:
        return "unsure"
    return "unlikely"


def visible(token: str) -> str:
    """A token as a label: spaces, tabs and line breaks shown, never an empty string."""
    shown = token.replace(" ", "␣").replace("\t", "⇥").replace("\n", "↵")
    return shown or "∅"


def token_views(entries: list[dict[str, Any]]) -> list[TokenView]:
    """vLLM's `logprobs.content` entries as the page shows them: coloured tokens with odds."""
    views = []
    for entry in entries:
        token = str(entry.get("token", ""))
        p = probability(float(entry.get("logprob", -9999)))
        alternatives = [
            Alternative(
                label=visible(str(alt.get("token", ""))),
                percent=percent(probability(float(alt.get("logprob", -9999)))),
                chosen=alt.get("token") == token,
            )
            for alt in entry.get("top_logprobs") or []
        ]
        views.append(TokenView(token, percent(p), band(p), alternatives))
    return views
