"""Every page, old and new, has no axe-core violations (axe-core vendored from the npm registry
under tests/browser/vendor/, injected into Chromium; the page's CSP is bypassed for that one
script only, in this test's own browser context)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in
from tests.browser.test_runs import open_test_cases_with_rows

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1.min.js"


def violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
          .map((v) => `${v.id} (${v.impact}): ${v.help} at `
            + v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", "))"""
    )
    return [f"{page.url}: {line}" for line in found]


@pytest.fixture
def axe_page(browser, live_site):
    context = browser.new_context(base_url=live_site.url, bypass_csp=True)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def run_id(page) -> str:
    return re.search(r"/runs/(\d+)/", page.url).group(1)


def test_no_page_has_an_accessibility_violation(axe_page, simulator, live_site):
    page = axe_page
    found: list[str] = []
    page.goto("/login/")
    found += violations(page)
    # axe really runs: a picture without a text alternative is one.
    page.evaluate("() => document.body.append(document.createElement('img'))")
    assert any("image-alt" in line for line in violations(page))
    page.goto("/login/")
    log_in(page, live_site)
    expect(page.get_by_role("status").filter(has_text="Connected")).to_be_visible()
    found += violations(page)  # a new conversation

    open_test_cases_with_rows(page, "[[sim:say=one]]\n[[sim:say=two]]\n")
    found += violations(page)  # the conversation answered
    cases = page.url
    found += violations(page)  # test cases
    page.get_by_role("button", name="Run all 2 rows").click()
    expect(page.get_by_role("status").filter(has_text="2 of 2 done")).to_be_visible()
    found += violations(page)  # a run
    first = run_id(page)
    page.get_by_role("button", name="Share by link").click()
    shared_run = page.get_by_label("Read-only link").input_value()
    page.goto(cases)
    page.get_by_role("button", name="Run all 2 rows").click()
    expect(page.get_by_role("status").filter(has_text="2 of 2 done")).to_be_visible()
    page.goto(f"/runs/compare/?run={first}&run={run_id(page)}")
    found += violations(page)  # runs side by side
    page.get_by_role("button", name="Share this comparison by link").click()
    found += violations(page)  # the comparison's read-only page

    for path in [
        "/prompts/",
        "/tools/",
        "/tools/new/",
        "/shares/",
        "/import/",
        "/prompts/import/",
        "/account/password/",
    ]:
        page.goto(path)
        found += violations(page)
    page.goto("/prompts/")
    page.get_by_role("link", name="Cities").first.click()
    found += violations(page)  # a prompt's versions
    page.goto(shared_run)
    found += violations(page)

    assert not found, "\n".join(found)
