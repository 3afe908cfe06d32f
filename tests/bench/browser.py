"""Browser figures: HexPlay's conversation page beside a bare page, in Debian's chromium.

Both pages get the same upstream and the same request body; the bare one is what any page
would have to do at least: `fetch` the simulator's SSE and append each content delta to a
text node. One recorder, injected into either page, notes on the page's wall clock
(`performance.timeOrigin + performance.now()`, ms) the Send click and, through a
MutationObserver on the messages area, each time the new answer's text grows. The simulator
notes its writes with `time.time()` on the same machine, so the two compare directly.
"""

from __future__ import annotations

import re
import shutil
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from simulator import REASONING_MODELS
from tests.bench.processes import SimulatorLog, cpu_seconds, prompt, tag_of
from tests.bench.site import PASSWORD, USERNAME, Site
from tests.bench.timing import Seen, Timed, js_length, p50, p99, timed
from tests.servers import CHROMIUM_ARGS

RUNS = {  # answers of each page per figure, alternating which page goes first
    "short": (10, "[[sim:tokens=5]]"),
    "paced": (5, "[[sim:tokens=400]] [[sim:rate=100]]"),
    "full": (5, "[[sim:tokens=1677]]"),
}
TIMEOUT_MS = 60_000

# The bare page marks its answer up as HexPlay does (an assistant article with an
# "<id>-content" element), so the one recorder below finds either without knowing which.
BARE_HTML = """<!doctype html>
<html lang="en"><meta charset="utf-8"><title>Bare streaming page</title>
<button type="button" id="send">Send</button>
<div id="messages"></div>
<script>
document.getElementById("send").addEventListener("click", async () => {
  const article = document.createElement("article");
  article.id = "answer";
  article.setAttribute("aria-label", "Assistant message");
  const content = document.createElement("div");
  content.id = "answer-content";
  const shown = document.createTextNode("");
  content.append(shown);
  article.append(content);
  document.getElementById("messages").append(article);
  const response = await fetch("/v1/chat/completions", {
    method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify(window.benchBody),
  });
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const {value, done} = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, {stream: true});
    const lines = buffer.split("\\n");
    buffer = lines.pop();
    for (const line of lines) {
      if (!line.startsWith("data: {")) continue;
      const choice = (JSON.parse(line.slice(6)).choices || [])[0];
      const text = choice && choice.delta && choice.delta.content;
      if (text) shown.appendData(text);
    }
  }
  window.benchDone = true;
});
</script>
</html>
"""

# The answer is the last assistant article that was not on the page before the click; its
# text is that of the element "<article id>-content" (message-<pk>-content in HexPlay). Found
# again on every mutation, so it does not matter how deltas are added (out-of-band swaps,
# text nodes) or that the finished answer replaces the whole article. A length is noted only
# when it grows; the text at each note is kept so the bench can check what was shown.
RECORDER_JS = """() => {
  const clock = () => performance.timeOrigin + performance.now();
  const area = document.getElementById("messages");
  const query = 'article[aria-label="Assistant message"]';
  const before = new Set(Array.from(area.querySelectorAll(query), (a) => a.id));
  const bench = window.__bench = {click: null, shown: [], texts: []};
  addEventListener("click", () => { if (bench.click === null) bench.click = clock(); }, true);
  new MutationObserver(() => {
    const now = clock();
    const articles = area.querySelectorAll(query);
    const last = articles[articles.length - 1];
    if (!last || before.has(last.id)) return;
    const content = document.getElementById(last.id + "-content");
    if (!content) return;
    const text = content.textContent;
    const longest = bench.shown.length ? bench.shown[bench.shown.length - 1][1] : 0;
    if (text.length > longest) {
      bench.shown.push([now, text.length]);
      bench.texts.push(text);
    }
  }).observe(area, {childList: true, characterData: true, subtree: true});
}"""
SEEN_JS = "() => ({click: window.__bench.click, shown: window.__bench.shown})"
# The text on the page when it first reached `n` characters (null if it never did).
SHOWN_TEXT_JS = """(n) => {
  const b = window.__bench;
  const i = b.shown.findIndex((r) => r[1] >= n);
  return i < 0 ? null : b.texts[i];
}"""
# HexPlay's answer is over when its article is no longer busy and Send is back.
HEXPLAY_DONE_JS = """() => {
  const articles = document.querySelectorAll('#messages article[aria-label="Assistant message"]');
  const last = articles[articles.length - 1];
  const buttons = document.getElementById("composer-buttons");
  return window.__bench.shown.length > 0 && last && !last.hasAttribute("aria-busy")
    && buttons && buttons.dataset.busy === "false";
}"""
PAGE_CLOCK_JS = "() => performance.timeOrigin + performance.now()"
# The code view re-asks for the request preview after typing and after socket messages.
PREVIEW = re.compile(r"/conversations/\d+/request/")


@dataclass
class Answer:
    """One answer on one page: what was seen, and (HexPlay) daphne's CPU for it."""

    page: str
    kind: str
    timed: Timed
    cpu: float | None = None
    cpu_with_refresh: float | None = None
    problems: list[str] = field(default_factory=list)


class Bench:
    """A logged-in HexPlay tab and a bare tab, each answer matched to the simulator's log."""

    def __init__(self, browser: Any, site: Site, log: SimulatorLog) -> None:
        self.site = site
        self.log = log
        self.hexplay = browser.new_context(base_url=site.url).new_page()
        self.hexplay.set_default_timeout(TIMEOUT_MS)
        self.bare = browser.new_context().new_page()
        self.bare.set_default_timeout(TIMEOUT_MS)
        self.bare_url = f"{site.sim_url}/bare.html"
        self.template: dict[str, Any] = {}

    def log_in(self) -> None:
        page = self.hexplay
        page.goto("/")
        page.get_by_label("User name").fill(USERNAME)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(re.compile(r"/conversations/\d+/$"))

    def hexplay_answer(self, kind: str, hooks: str) -> Answer:
        from playwright.sync_api import TimeoutError as PageTimeout
        from playwright.sync_api import expect

        page = self.hexplay
        [pk] = self.site.take(1)
        page.goto(f"/conversations/{pk}/")
        expect(page.get_by_role("status").filter(has_text="Connected")).to_be_visible()
        text = prompt(hooks)
        # Typing refreshes the code view (a request to daphne) after 500 ms: let it land first,
        # as it would while a person moves to the button.
        with page.expect_response(PREVIEW):
            page.get_by_label("Message", exact=True).fill(text)
        page.evaluate(RECORDER_JS)
        before = cpu_seconds(self.site.pid)
        page.get_by_role("button", name="Send", exact=True).click()
        page.wait_for_function(HEXPLAY_DONE_JS, polling=100, timeout=TIMEOUT_MS)
        cpu = cpu_seconds(self.site.pid) - before
        answer = self._answer("HexPlay", kind, page, text)
        answer.cpu = cpu
        # The answer's socket messages make the code view ask again 800 ms after the last one.
        try:
            with page.expect_response(PREVIEW, timeout=3_000):
                pass
            answer.cpu_with_refresh = cpu_seconds(self.site.pid) - before
        except PageTimeout:  # the app may stop doing that; then there is nothing to add
            answer.cpu_with_refresh = cpu
        return answer

    def bare_answer(self, kind: str, hooks: str) -> Answer:
        page = self.bare
        text = prompt(hooks)
        # Served at the simulator's origin, so its fetch is same-origin (no CORS). The route is
        # dropped once the page is in: while one is set, Playwright intercepts every request.
        page.route(
            self.bare_url, lambda route: route.fulfill(content_type="text/html", body=BARE_HTML)
        )
        page.goto(self.bare_url)
        page.unroute(self.bare_url)
        messages = self.template["messages"][:-1] + [{"role": "user", "content": text}]
        page.evaluate(
            "(body) => { window.benchBody = body; }", {**self.template, "messages": messages}
        )
        page.evaluate(RECORDER_JS)
        page.get_by_role("button", name="Send").click()
        page.wait_for_function("() => window.benchDone === true", polling=100, timeout=TIMEOUT_MS)
        return self._answer("bare", kind, page, text)

    def _answer(self, name: str, kind: str, page: Any, text: str) -> Answer:
        found = page.evaluate(SEEN_JS)
        seen = Seen(found["click"] / 1000, [(t / 1000, n) for t, n in found["shown"]])
        upstream = self.log.by_tag().get(tag_of(text))
        if upstream is None:
            raise RuntimeError(f"the {name} page's request never reached the simulator")
        answer = Answer(name, kind, timed(seen, upstream))
        shown = page.evaluate(SHOWN_TEXT_JS, js_length(upstream.text))
        if shown != upstream.text:
            answer.problems.append(f"{name} {kind}: the page showed other text than was written")
        if answer.timed.unseen:
            answer.problems.append(f"{name} {kind}: {answer.timed.unseen} writes never shown")
        return answer

    def clock_offset_ms(self) -> tuple[float, float]:
        """The page's clock minus `time.time()` (ms), and the half round trip it is known to."""
        samples = []
        for _ in range(20):
            before = time.time()
            page_clock = self.hexplay.evaluate(PAGE_CLOCK_JS)
            after = time.time()
            samples.append((after - before, page_clock - (before + after) * 500))
        spread, offset = min(samples)
        return offset, spread * 500

    def warm_up(self) -> None:
        """One answer each (imports, templates, connections); HexPlay's body as the template."""
        self.log.clear()
        self.hexplay_answer("warm-up", "[[sim:tokens=20]]")
        records = self.log.records()
        if not records:
            raise RuntimeError("HexPlay's answer never reached the simulator")
        self.template = dict(records[-1]["body"])
        self.bare_answer("warm-up", "[[sim:tokens=20]]")


def run(site: Site, log: SimulatorLog) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        raise SystemExit("Debian's chromium is not installed (make test installs it)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            bench = Bench(browser, site, log)
            bench.log_in()
            bench.warm_up()
            if bench.template.get("model") in REASONING_MODELS:
                raise SystemExit("the bench matches content only: use a model without reasoning")
            offset, uncertainty = bench.clock_offset_ms()
            answers: list[Answer] = []
            for kind, (count, hooks) in RUNS.items():
                log.clear()
                for i in range(count):
                    pages = [bench.hexplay_answer, bench.bare_answer]
                    for answer in pages if i % 2 == 0 else reversed(pages):
                        answers.append(answer(kind, hooks))
        finally:
            browser.close()
    result = {"clock_offset_ms": offset, "clock_uncertainty_ms": uncertainty}
    result |= summarize(answers)
    return result


def summarize(answers: list[Answer]) -> dict[str, Any]:
    """Per page: the figures a to f of the issue, from the answers of the kind each is about."""

    def of(page: str, kind: str) -> list[Answer]:
        return [a for a in answers if a.page == page and a.kind == kind]

    result: dict[str, Any] = {
        "problems": [p for a in answers for p in a.problems],
        "runs": [_run(a) for a in answers],
    }
    for page in ("bare", "HexPlay"):
        short, paced, full = of(page, "short"), of(page, "paced"), of(page, "full")
        latencies = [ms for a in paced for ms in a.timed.latencies_ms]
        figures = {
            "first_character_ms": _median(a.timed.first_ms for a in short),
            "request_ms": _median(a.timed.request_ms for a in short),
            "added_chunk_ms_p50": p50(latencies),
            "added_chunk_ms_p99": p99(latencies),
            "chunks_timed": len(latencies),
            "chars_per_s": _median(a.timed.chars_per_s for a in full),
            "after_last_write_ms": _median(a.timed.after_last_write_ms for a in short),
            "answers": {kind: len(of(page, kind)) for kind in RUNS},
        }
        if page == "HexPlay":
            figures |= {
                "server_cpu_s_paced": _median(a.cpu for a in paced),
                "server_cpu_s_paced_with_refresh": _median(a.cpu_with_refresh for a in paced),
                "server_cpu_s_full": _median(a.cpu for a in full),
                "server_cpu_s_short": _median(a.cpu for a in short),
            }
        result[page] = figures
    return result


def _run(answer: Answer) -> dict[str, Any]:
    """One answer's figures, for var/bench.json: enough to see which run an outlier came from."""
    t = answer.timed
    return {
        "page": answer.page,
        "kind": answer.kind,
        "first_character_ms": t.first_ms,
        "request_ms": t.request_ms,
        "added_chunk_ms_p50": p50(t.latencies_ms),
        "added_chunk_ms_max": max(t.latencies_ms, default=None),
        "after_last_write_ms": t.after_last_write_ms,
        "chars": t.chars,
        "chars_per_s": t.chars_per_s,
        "server_cpu_s": answer.cpu,
    }


def _median(values: Any) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None
