"""The bench's matching of what a page showed to what the simulator wrote (bench/timing.py)."""

from tests.bench.processes import Upstream
from tests.bench.timing import Seen, js_length, match, percentile, timed


def test_each_write_gets_the_first_moment_its_text_was_all_shown():
    writes = [(10.0, "Tides"), (10.1, " rise"), (10.2, " & fall")]
    # The first two writes arrive in one piece; the third a little later.
    seen = Seen(sent=9.9, shown=[(10.15, 10), (10.25, 17)])
    found = match(writes, seen)
    assert [round(ms) for ms in found.latencies_ms] == [150, 50, 50]
    assert found.unseen == 0 and found.last_shown == 10.25


def test_what_shows_after_the_whole_answer_is_ignored():
    # The finished answer's Markdown takes the streaming text's place with a longer text.
    writes = [(1.0, "**bold**")]
    seen = Seen(sent=0.9, shown=[(1.002, 4), (1.004, 8), (1.5, 30)])
    found = match(writes, seen)
    assert [round(ms) for ms in found.latencies_ms] == [4] and found.last_shown == 1.004


def test_text_never_shown_is_counted_not_timed():
    seen = Seen(sent=0.0, shown=[(1.01, 2)])
    found = match([(1.0, "ab"), (1.1, "cd")], seen)
    assert len(found.latencies_ms) == 1 and found.unseen == 1 and found.last_shown is None


def test_answer_figures_are_on_one_clock():
    upstream = Upstream(received=1.002, writes=[(1.010, "ab"), (1.020, "cd")])
    figures = timed(Seen(sent=1.0, shown=[(1.015, 2), (1.030, 4)]), upstream)
    assert round(figures.first_ms) == 15 and round(figures.request_ms) == 2
    assert round(figures.after_last_write_ms) == 10 and round(figures.chars_per_s) == 200


def test_lengths_count_as_javascript_does():
    assert js_length("tide") == 4 and js_length("🌊") == 2


def test_percentiles_are_nearest_rank():
    values = list(range(1, 101))
    assert percentile(values, 0.5) == 50 and percentile(values, 0.99) == 99
    assert percentile([], 0.5) is None
