"""The bench's table: each figure, its baseline, the ratio, and the goal it meets or misses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

HEADER = ("measure", "baseline", "HexPlay", "ratio", "goal", "")
Row = tuple[str, str, str, str, str, str]


def table(figures: dict[str, Any]) -> str:
    rows: list[Row] = []

    def section(title: str) -> None:
        rows.append((f"-- {title}", "", "", "", "", ""))

    def row(
        label: str,
        base: Any = None,
        value: Any = None,
        goal: str = "",
        meets: Callable[[float, float | None], bool] | None = None,
    ) -> None:
        ratio = value / base if _number(value) and _number(base) and base else None
        verdict = ""
        if meets is not None:
            verdict = "?" if value is None else "meets" if meets(value, base) else "misses"
        rows.append((label, _fmt(base), _fmt(value), _fmt(ratio, "x"), goal, verdict))

    b = figures["browser"]
    bare, hex_ = b["bare"], b["HexPlay"]
    n = hex_["answers"]
    section(
        f"Chromium, Send click to the screen: bare page = baseline "
        f"({n['short']} short, {n['paced']} paced, {n['full']} full-speed answers each)"
    )
    row(
        "a. click -> first character in the DOM, ms p50",
        bare["first_character_ms"],
        hex_["first_character_ms"],
        "<= 1.5x bare",
        lambda v, base: base is not None and v <= 1.5 * base,
    )
    row(
        "b. click -> the upstream has the request, ms p50",
        bare["request_ms"],
        hex_["request_ms"],
        "<= bare + 10 ms",
        lambda v, base: base is not None and v <= base + 10,
    )
    chunks = f"{hex_['chunks_timed']} / {bare['chunks_timed']} chunks at 100/s"
    row(
        f"c. upstream write -> DOM per chunk, ms p50 ({chunks})",
        bare["added_chunk_ms_p50"],
        hex_["added_chunk_ms_p50"],
        "<= bare + 2 ms",
        lambda v, base: base is not None and v <= base + 2,
    )
    row(
        "   ... p99",
        bare["added_chunk_ms_p99"],
        hex_["added_chunk_ms_p99"],
        "<= bare + 10 ms",
        lambda v, base: base is not None and v <= base + 10,
    )
    row(
        "d. daphne CPU s per answer (400 chunks at 100/s)",
        None,
        hex_["server_cpu_s_paced"],
        "<= 0.15 s",
        lambda v, _: v <= 0.15,
    )
    row(
        "   ... with the code view's refresh after it",
        None,
        hex_["server_cpu_s_paced_with_refresh"],
    )
    row(
        "   ... full speed (1,677 chunks) / short (5)",
        None,
        _pair(hex_, "server_cpu_s_full", "server_cpu_s_short"),
    )
    row(
        "e. full speed (1,677 chunks): characters/s shown",
        bare["chars_per_s"],
        hex_["chars_per_s"],
        ">= 100,000 and >= 2x bare",
        lambda v, base: base is not None and v >= 100_000 and v >= 2 * base,
    )
    row(
        "f. short answer: last character after last write, ms p50",
        bare["after_last_write_ms"],
        hex_["after_last_write_ms"],
        "<= 10 ms",
        lambda v, _: v <= 10,
    )

    s = figures["server"]
    for name, title in (
        ("paced", "200 chunks at 100/s"),
        ("full", "1,677 chunks at full speed"),
    ):
        direct, hexplay = s[name]["direct"], s[name]["hexplay"]
        section(
            f"websocket client, {title}: simulator read directly = baseline "
            f"({hexplay['answers']} answers each)"
        )
        row(
            "  Send -> first text, ms p50",
            direct["first_token_ms_p50"],
            hexplay["first_token_ms_p50"],
        )
        row(
            "  Send -> the upstream has the request, ms p50",
            direct["request_ms_p50"],
            hexplay["request_ms_p50"],
        )
        if name == "paced":
            row(
                "  upstream write -> client per chunk, ms p50",
                direct["added_chunk_ms_p50"],
                hexplay["added_chunk_ms_p50"],
            )
            row("  ... p99", direct["added_chunk_ms_p99"], hexplay["added_chunk_ms_p99"])
        else:
            row("  characters/s", direct["chars_per_s_p50"], hexplay["chars_per_s_p50"])
        row("  websocket messages per answer", None, hexplay["websocket_messages_per_answer"])
        row("  websocket bytes per byte of text", None, hexplay["websocket_bytes_per_answer_byte"])
        row("  daphne CPU s per answer", None, hexplay["server_cpu_s_per_answer"])

    section("websocket clients at once, 200 chunks at 100/s each (HexPlay column: p50 / p99)")
    _concurrent(row, s["concurrent"])
    scaled = figures["scale"]
    section(
        f"the same on PostgreSQL + Redis, {scaled['workers']} daphne workers "
        "(HexPlay column: p50 / p99)"
    )
    _concurrent(row, scaled["concurrent"])

    page = figures["stored_page"]
    section(f"stored page of {page['messages']:,} messages (Django test client, servers stopped)")
    row(
        "  server time ms (median); SQL queries",
        None,
        f"{_fmt(page['median_ms'])}; {page['queries']}",
    )
    row("  page size KB", None, page["page_bytes"] / 1024)

    # Section titles run across the columns, so they do not widen the first one.
    cells = [HEADER, *(r for r in rows if not r[0].startswith("--"))]
    widths = [max(len(r[i]) for r in cells) for i in range(len(HEADER))]
    lines = [_line(HEADER, widths), _line(tuple("-" * w for w in widths), widths)]
    lines += [r[0] if r[0].startswith("--") else _line(r, widths) for r in rows]
    return "\n".join(lines)


def _line(cells: tuple[str, ...], widths: list[int]) -> str:
    label, *numbers, goal, verdict = cells
    parts = [f"{label:<{widths[0]}}"]
    parts += [f"{cell:>{w}}" for cell, w in zip(numbers, widths[1:4], strict=True)]
    parts += [f"{goal:<{widths[4]}}", verdict]
    return "  ".join(parts).rstrip()


def _pair(figures: dict[str, Any], first: str, second: str) -> str:
    return f"{_fmt(figures[first])} / {_fmt(figures[second])}"


def _number(value: Any) -> bool:
    return isinstance(value, int | float)


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if abs(value) >= 1000:
        return f"{value:,.0f}{unit}"
    if abs(value) >= 100:
        return f"{value:.0f}{unit}"
    if abs(value) >= 10:
        return f"{value:.1f}{unit}"
    return f"{value:.2f}{unit}"


def _concurrent(row: Callable[..., None], levels: dict[str, Any]) -> None:
    """Per level: first text and added latency per chunk (p50 / p99), CPU and errors."""
    for level, f in levels.items():
        row(
            f"  {level:>3} at once: Send -> first text, ms",
            None,
            _pair(f, "first_token_ms_p50", "first_token_ms_p99"),
            "<= 100 / 400 at 100",
        )
        row(
            "      upstream write -> client per chunk, ms",
            None,
            _pair(f, "added_chunk_ms_p50", "added_chunk_ms_p99"),
            "<= 15 / 150",
        )
        row(
            "      daphne CPU s per answer; answers; errors",
            None,
            f"{_fmt(f['server_cpu_s_per_answer'])}; {f['answers']}; {len(f['errors'])}",
        )
