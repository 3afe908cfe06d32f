"""A person who does not code tests a prompt on a table of inputs, in Chromium: rows pasted from
a spreadsheet, two checks, a run streaming in with pass and fail, a second version run beside
the first, the rows that differ, and the comparison shared by link."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import wait_until_answered

pytestmark = pytest.mark.browser

SCREENSHOTS = "/tmp/hexplay-runs-{}.png"
# Spreadsheet cells as the clipboard holds them: one column, a row per line.
PASTED = '[[sim:say={"city": "Paris"}]]\n[[sim:say=Paris is nice]]\ntell me about tides\n'


def save_version(page, first: bool) -> None:
    save = page.locator("details", has=page.get_by_text("Save as prompt", exact=True))
    if not save.get_attribute("open"):
        save.locator("summary").click()
    if first:
        save.get_by_label("Name of the new prompt").fill("Cities")
    else:
        expect(save.get_by_label("the next version of Cities")).to_be_checked()
    save.get_by_role("button", name="Save").click()
    expect(save.get_by_role("status")).to_contain_text(f"Saved as Cities v{1 if first else 2}.")


def run_all(page, version: int) -> None:
    page.get_by_label("Version").select_option(f"v{version}")
    page.get_by_role("button", name="Run all 3 rows").click()
    expect(
        page.get_by_role("heading", name=re.compile(rf"Run \d+: Cities v{version}"))
    ).to_be_visible()


def open_test_cases_with_rows(page, pasted: str) -> None:
    """A conversation with {{text}} answered, saved as a prompt, and rows pasted into it."""
    page.get_by_label("System prompt").fill("Reply briefly.")
    box = page.get_by_label("Message", exact=True)
    box.fill("{{text}}")
    page.get_by_label("text", exact=True).fill("[[sim:say=hello]]")
    expect(page.locator("#settings-status")).to_have_text("Saved.")
    box.press("Enter")
    wait_until_answered(page)
    save_version(page, first=True)
    page.get_by_role("link", name="See its versions").click()
    page.get_by_role("link", name="Test cases and runs").click()
    page.get_by_label("Paste rows").fill(pasted)
    page.get_by_role("button", name="Add the pasted rows").click()
    count = len(pasted.strip().splitlines())
    expect(page.get_by_role("status").filter(has_text=f"Added {count} rows.")).to_be_visible()


def test_paste_rows_check_run_change_compare_and_share(
    logged_in_page, simulator, browser, live_site
):
    page = logged_in_page
    conversation_url = page.url
    # Three rows pasted from a spreadsheet.
    open_test_cases_with_rows(page, PASTED)
    expect(page.get_by_label("Row 3, text")).to_have_value("tell me about tides")

    # Two checks, each a few fields.
    page.get_by_label("The answer…").select_option(label="Is valid JSON")
    page.get_by_role("button", name="Add the check").click()
    expect(page.get_by_text("Check added: the answer is valid JSON.")).to_be_visible()
    page.get_by_label("The answer…").select_option(label="Contains")
    page.get_by_label("Text, pattern, tool name or number").fill("Paris")
    page.get_by_role("button", name="Add the check").click()
    expect(page.get_by_text("Check added: the answer contains “Paris”.")).to_be_visible()
    cases_url = page.url
    page.screenshot(path=SCREENSHOTS.format("cases"), full_page=True)

    # Run all: the answers stream in, then each says pass or fail, and why.
    simulator.chunks_per_second = 15
    try:
        run_all(page, 1)
        # Text shows in a cell while its row is still streaming.
        long_row = page.locator(".run-grid tbody tr").nth(2)
        expect(long_row.locator("[id$='-text']")).to_contain_text(re.compile(r"\w+ \w+"))
        expect(long_row).to_contain_text("Streaming…")
        page.screenshot(path=SCREENSHOTS.format("streaming"))
        expect(page.get_by_role("status").filter(has_text="3 of 3 done")).to_be_visible(
            timeout=20_000
        )
    finally:
        simulator.chunks_per_second = 0.0
    grid = page.locator(".run-grid tbody tr")
    expect(grid.nth(0).locator(".results .pass")).to_have_count(2)
    expect(grid.nth(1).locator(".run-text")).to_have_text("Paris is nice")
    expect(grid.nth(1).locator(".results .fail")).to_contain_text("not valid JSON")
    expect(grid.nth(2).locator(".results .fail")).to_have_count(2)
    expect(grid.nth(2).locator(".why").last).to_have_text("“Paris” is not in the answer")
    expect(page.get_by_role("status").filter(has_text="1 of 3 pass")).to_contain_text("· done")
    expect(page.get_by_role("button", name="Stop the run")).to_have_count(0)
    page.screenshot(path=SCREENSHOTS.format("done"), full_page=True)

    # The prompt changed and saved as v2, then run beside v1.
    page.goto(conversation_url)
    page.get_by_label("System prompt").fill("Reply at length, in French.")
    expect(page.locator("#settings-status")).to_have_text("Saved.")
    save_version(page, first=False)
    page.goto(cases_url)
    run_all(page, 2)
    expect(page.get_by_role("status").filter(has_text="3 of 3 done")).to_be_visible(timeout=20_000)

    page.goto(cases_url + "#runs")
    page.locator("#runs").get_by_role("checkbox").nth(0).check()
    page.locator("#runs").get_by_role("checkbox").nth(1).check()
    page.get_by_role("button", name="Compare the ticked runs").click()
    expect(page.get_by_role("heading", name="Runs side by side")).to_be_visible()
    expect(page.get_by_role("columnheader", name=re.compile("v1 ·"))).to_contain_text("1 of 3 pass")
    expect(page.get_by_role("columnheader", name=re.compile("v2 ·"))).to_contain_text("1 of 3 pass")
    expect(page.locator(".compare-grid tbody > tr:not(.diff-row)")).to_have_count(3)
    page.get_by_role("link", name="Show only the rows that differ").click()
    shown = page.locator(".compare-grid tbody > tr:not(.diff-row)")
    expect(shown).to_have_count(1)
    expect(shown.first.locator("td").first).to_have_text("tell me about tides")
    page.get_by_text("Word by word").click()
    expect(page.locator(".compare-diff ins").first).to_be_visible()
    page.screenshot(path=SCREENSHOTS.format("compare"), full_page=True)

    # Shared by link: someone without an account sees the same comparison, read only.
    page.get_by_role("button", name="Share this comparison by link").click()
    link = page.get_by_label("Read-only link").input_value()
    stranger = browser.new_context()
    try:
        other = stranger.new_page()
        other.goto(link)
        expect(other.get_by_role("heading", name="Runs side by side")).to_be_visible()
        expect(other.get_by_text("Runs shared read-only from HexPlay.")).to_be_visible()
        expect(other.locator(".compare-grid tbody > tr:not(.diff-row)")).to_have_count(3)
        expect(other.get_by_role("button", name="Share this comparison by link")).to_have_count(0)
    finally:
        stranger.close()


def test_a_run_outlives_a_reload_stops_and_retries_only_what_had_no_answer(
    logged_in_page, simulator
):
    page = logged_in_page
    open_test_cases_with_rows(page, "[[sim:say=quick]]\n[[sim:long]] tides\n[[sim:long]] moon\n")
    simulator.chunks_per_second = 15
    try:
        page.get_by_role("button", name="Run all 3 rows").click()
        progress = page.get_by_role("status").filter(has_text="of 3 done")
        expect(progress).to_contain_text("1 of 3 done")

        # A reload shows the run still going, with the text so far, and it keeps streaming.
        page.reload()
        expect(progress).to_contain_text("1 of 3 done")
        expect(progress).to_contain_text("running")
        long_row = page.locator(".run-grid tbody tr").nth(1)
        text = long_row.locator("[id$='-text']")
        expect(text).to_contain_text(re.compile(r"\w"))
        before = len(text.inner_text())
        expect(text).not_to_have_text(text.inner_text())
        assert len(text.inner_text()) > before

        page.get_by_role("button", name="Stop the run").click()
        expect(progress).to_contain_text("2 without an answer")
        expect(progress).to_contain_text("stopped")
        expect(long_row).to_contain_text("Stopped before the end.")
        page.screenshot(path=SCREENSHOTS.format("stopped"), full_page=True)
    finally:
        simulator.chunks_per_second = 0.0

    quick = page.locator(".run-grid tbody tr").nth(0).locator(".run-text")
    expect(quick).to_have_text("quick")
    page.get_by_role("button", name="Retry the 2 rows without an answer").click()
    expect(progress).to_contain_text("3 of 3 done", timeout=20_000)
    expect(page.locator(".run-row--done")).to_have_count(3)
    expect(quick).to_have_text("quick")
