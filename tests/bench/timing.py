"""Matching what a client saw to what the simulator wrote, on the one wall clock; percentiles."""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tests.bench.processes import Upstream


def js_length(text: str) -> int:
    """A string's length as JavaScript counts it (UTF-16 code units), as the page reports it."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Seen:
    """One answer as a client saw it: when its text reached each length (wall-clock seconds).

    `sent` is the Send (the click, for a page); `shown` pairs grow in both time and length.
    """

    sent: float
    shown: list[tuple[float, int]] = field(default_factory=list)

    @property
    def first(self) -> float | None:
        return self.shown[0][0] if self.shown else None


@dataclass
class Match:
    """Per write of the simulator, when the client had its text; writes never seen are left out."""

    latencies_ms: list[float]
    unseen: int
    last_shown: float | None  # when the answer's last character was seen


def match(writes: Sequence[tuple[float, str]], seen: Seen) -> Match:
    """Pair each upstream write with the first moment the client held all text up to its end.

    By cumulative length, not by content: a write of text whose cumulative length is L is on
    screen once the client's text is at least L long (the client may get several writes in
    one piece, then they all share that moment). Lengths are compared as plain text, so HTML
    escaping on the way does not count. Anything seen after the length first reaches the
    whole answer's is ignored: for a page that is the finished answer's Markdown rendering
    taking the streaming element's place, whose text length differs.
    """
    total = 0
    ends = []
    for _, text in writes:
        total += js_length(text)
        ends.append(total)
    times = [moment for moment, _ in seen.shown]
    lengths = [length for _, length in seen.shown]
    whole = bisect.bisect_left(lengths, total)
    times, lengths = times[: whole + 1], lengths[: whole + 1]
    latencies = []
    for (written, _), end in zip(writes, ends, strict=True):
        index = bisect.bisect_left(lengths, end)
        if index < len(times):
            latencies.append((times[index] - written) * 1000)
    last = times[-1] if lengths and lengths[-1] >= total else None
    return Match(latencies, len(writes) - len(latencies), last)


@dataclass
class Timed:
    """One answer's figures: Send to first text and to the upstream request, per-chunk delay."""

    first_ms: float | None  # Send until the first text was seen
    request_ms: float  # Send until the upstream had read the request
    latencies_ms: list[float]  # per upstream write: until its text was seen
    unseen: int  # upstream writes whose text never showed
    after_last_write_ms: float | None  # the upstream's last write until the last text was seen
    chars: int
    chars_per_s: float | None  # from the upstream's first write to the last text seen


def timed(seen: Seen, upstream: Upstream) -> Timed:
    found = match(upstream.writes, seen)
    chars = js_length(upstream.text)
    first_write = upstream.writes[0][0] if upstream.writes else None
    last_write = upstream.writes[-1][0] if upstream.writes else None
    shown = found.last_shown
    return Timed(
        first_ms=None if seen.first is None else (seen.first - seen.sent) * 1000,
        request_ms=(upstream.received - seen.sent) * 1000,
        latencies_ms=found.latencies_ms,
        unseen=found.unseen,
        after_last_write_ms=None if shown is None else (shown - last_write) * 1000,
        chars=chars,
        chars_per_s=None if shown is None else rate(chars, shown - first_write),
    )


def percentile(values: Iterable[float], share: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    index = min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))
    return ordered[index]


def p50(values: Iterable[float]) -> float | None:
    return percentile(values, 0.5)


def p99(values: Iterable[float]) -> float | None:
    return percentile(values, 0.99)


def rate(amount: float, seconds: float) -> float | None:
    return amount / seconds if seconds > 0 else None
