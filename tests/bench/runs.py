"""The test-run benchmark: a 100-row run of a saved prompt, 8 rows at a time, each answer at
100 chunks/s, watched in Chromium on the run's page.

Figures: the time from the Run click to the last cell done, rows per second, daphne's CPU per
row, and how responsive the page stayed (the longest gap between animation frames and the
main thread's long tasks, as the browser reports them). The baseline is the simulator's own
pace: 100 rows of TOKENS chunks at 100/s, 8 at a time, with no server or page in between.
"""

from __future__ import annotations

import math
import re
import shutil
import time
from typing import Any

from tests.bench.processes import MODEL, cpu_seconds
from tests.bench.site import PASSWORD, USERNAME, Site
from tests.servers import CHROMIUM_ARGS

ROWS = 100
AT_ONCE = 8
TOKENS = 50
RATE = 100

# Watches the page from the click: animation-frame gaps and long tasks until the run is done.
WATCH_JS = """() => {
  window.benchRun = {done: null, gaps: [], longTasks: 0, longest: 0};
  const watch = window.benchRun;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      watch.longTasks++;
      watch.longest = Math.max(watch.longest, entry.duration);
    }
  }).observe({type: "longtask", buffered: false});
  let last = null;
  const frame = (now) => {
    if (last !== null && watch.done === null) watch.gaps.push(now - last);
    last = now;
    if (watch.done === null) requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
  new MutationObserver(() => {
    const line = document.querySelector(".run-progress");
    const done = line && line.textContent.includes("ROWS of ROWS done");
    if (watch.done === null && done) watch.done = performance.now();
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}""".replace("ROWS", str(ROWS))


def prepare_prompt() -> int:
    """A saved prompt of the bench's user with ROWS test cases; its id."""
    from django.contrib.auth import get_user_model

    from evals.models import TestCase
    from playground.models import Conversation
    from workbench import prompts
    from workbench.models import Prompt

    user = get_user_model().objects.get(username=USERNAME)
    conversation = Conversation.objects.create(owner=user, connection="simulator", model=MODEL)
    conversation.add_user_message(f"Row {{{{text}}}} [[sim:tokens={TOKENS}]] [[sim:rate={RATE}]]")
    prompt = Prompt.objects.create(owner=user, name="Bench")
    prompt.add_version(prompts.setup_of(conversation))
    TestCase.objects.bulk_create(
        TestCase(prompt=prompt, position=i, values={"text": str(i)}) for i in range(ROWS)
    )
    return prompt.pk


def run(site: Site, prompt_pk: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium"), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_context(base_url=site.url).new_page()
            page.set_default_timeout(120_000)
            page.goto("/")
            page.get_by_label("User name").fill(USERNAME)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(re.compile(r"/conversations/\d+/$"))
            page.goto(f"/prompts/{prompt_pk}/cases/")
            page.get_by_label("Rows at a time").fill(str(AT_ONCE))
            before = cpu_seconds(site.pid)
            started = time.monotonic()
            page.get_by_role("button", name=f"Run all {ROWS} rows").click()
            page.wait_for_url(re.compile(r"/runs/\d+/$"))
            page.evaluate(WATCH_JS)
            page.get_by_text(f"{ROWS} of {ROWS} done").wait_for()
            seconds = time.monotonic() - started
            cpu = cpu_seconds(site.pid) - before
            watch = page.evaluate("() => window.benchRun")
            cells = page.locator(".run-row--done").count()
        finally:
            browser.close()
    gaps = sorted(watch["gaps"]) or [0.0]
    ideal = math.ceil(ROWS / AT_ONCE) * TOKENS / RATE
    return {
        "rows": ROWS,
        "cells_done": cells,
        # From the Run click to the last cell done.
        "to_last_cell_s": seconds,
        "ideal_s": ideal,
        "rows_per_second": ROWS / seconds,
        "ideal_rows_per_second": ROWS / ideal,
        "cpu_per_row_ms": cpu / ROWS * 1000,
        "frame_gap_p99_ms": gaps[min(len(gaps) - 1, int(len(gaps) * 0.99))],
        "frame_gap_max_ms": gaps[-1],
        "long_tasks": watch["longTasks"],
        "longest_task_ms": watch["longest"],
    }


def report(figures: dict[str, Any]) -> str:
    f = figures
    return "\n".join(
        [
            f"-- Test run in Chromium: {f['rows']} rows, {AT_ONCE} at a time, {TOKENS} chunks "
            f"at {RATE}/s each (baseline: the simulator's pace alone)",
            f"time to the last cell, s        {f['ideal_s']:>8.2f}  {f['to_last_cell_s']:>8.2f}",
            f"rows per second                 {f['ideal_rows_per_second']:>8.2f}  "
            f"{f['rows_per_second']:>8.2f}",
            f"daphne CPU per row, ms                    {f['cpu_per_row_ms']:>8.1f}",
            f"page: frame gap p99 / max, ms             {f['frame_gap_p99_ms']:>8.1f} / "
            f"{f['frame_gap_max_ms']:.1f}",
            f"page: long tasks (> 50 ms), longest ms    {f['long_tasks']:>8} / "
            f"{f['longest_task_ms']:.0f}",
            f"cells done                                {f['cells_done']:>8}",
        ]
    )
