"""What a person sees in Chromium: logging in, an answer streaming in, reasoning, Stop."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import log_in, wait_until_connected

pytestmark = pytest.mark.browser

MAGISTRAL = "mistralai/Magistral-Small-2506"
REASONING_SUMMARY = re.compile(r"^Reasoning · \d+(\.\d)? m?s$")
SCREENSHOT = "/tmp/hexplay-chat.png"


def send_button(page: Page):
    return page.get_by_role("button", name="Send", exact=True)


def stop_button(page: Page):
    return page.get_by_role("button", name="Stop", exact=True)


def last_answer(page: Page):
    return page.get_by_role("article", name="Assistant message").last


def test_a_person_logs_in_sends_a_message_and_sees_the_answer_stream_in_and_stay(page, live_site):
    log_in(page, live_site)
    # Other tests of the session may have left conversations: start one of its own.
    page.get_by_role("button", name="New conversation").click()
    wait_until_connected(page)
    box = page.get_by_label("Message", exact=True)

    # Shift+Enter adds a line and sends nothing.
    box.fill("Tell me about tides")
    box.press("Shift+Enter")
    box.press_sequentially("[[sim:tokens=60]] [[sim:rate=30]]")
    expect(box).to_have_value("Tell me about tides\n[[sim:tokens=60]] [[sim:rate=30]]")
    expect(page.get_by_role("article")).to_have_count(0)

    # Enter sends: the message shows at once and the composer empties.
    box.press("Enter")
    expect(page.get_by_role("article", name="User message")).to_contain_text("Tell me about tides")
    expect(box).to_have_value("")

    # The answer grows while it streams, and only Stop can be pressed meanwhile.
    answer = last_answer(page)
    content = answer.locator(".message__content")
    expect(content).not_to_be_empty()
    expect(stop_button(page)).to_be_enabled()
    expect(send_button(page)).to_be_disabled()
    before = len(content.inner_text())
    page.wait_for_timeout(400)
    after = len(content.inner_text())
    expect(answer).to_have_attribute("aria-busy", "true")
    assert after > before, "the answer did not grow while streaming"
    # Screen readers hear the start, then the end (the same live region, never each token).
    announced = page.locator("#answer-status")
    expect(announced).to_have_text("Answering…")
    expect(announced).to_have_text("The answer is complete.", timeout=10_000)
    expect(announced).to_have_attribute("aria-live", "polite")

    # Finished: the stats show and the composer is free again.
    expect(answer).to_contain_text("tokens/s")
    expect(answer).to_contain_text("61 out")  # 60 tokens and the end-of-sequence token
    expect(send_button(page)).to_be_enabled()
    expect(stop_button(page)).to_be_disabled()
    expect(answer.locator("details.reasoning")).to_be_hidden()  # no reasoning, no reasoning block
    final_text = content.inner_text()
    assert len(final_text) >= after
    page.screenshot(path=SCREENSHOT, full_page=True)

    # It was stored: a reload shows the same conversation.
    page.reload()
    expect(page.get_by_role("article", name="User message")).to_contain_text("Tell me about tides")
    expect(last_answer(page).locator(".message__content")).to_have_text(final_text)
    expect(last_answer(page)).to_contain_text("tokens/s")


def test_reasoning_model_shows_a_collapsible_reasoning_block(logged_in_page):
    page = logged_in_page
    # The model list is fetched from the server after the page shows.
    model = page.get_by_label("Model", exact=True)
    expect(model.locator(f'option[value="{MAGISTRAL}"]')).to_be_attached()
    with page.expect_response(lambda r: "/settings/" in r.url and r.request.method == "POST"):
        model.select_option(MAGISTRAL)
    expect(page.get_by_label("Model", exact=True)).to_have_value(MAGISTRAL)

    box = page.get_by_label("Message", exact=True)
    box.fill("Why is the sky blue? [[sim:tokens=60]] [[sim:rate=30]]")
    box.press("Enter")

    answer = last_answer(page)
    details = answer.locator("details.reasoning")
    summary = details.locator("summary")
    # While the model reasons, its reasoning is open and grows.
    expect(details).to_be_visible()
    expect(details).to_have_js_property("open", True)
    expect(summary).to_have_text("Reasoning…")
    expect(answer.locator(".reasoning__text")).to_contain_text("Okay, the user is asking about")

    # When the answer starts, the reasoning folds away and says how long it took.
    expect(answer.locator(".message__content")).not_to_be_empty()
    expect(details).to_have_js_property("open", False)
    expect(summary).to_have_text(REASONING_SUMMARY)
    expect(answer).to_have_attribute("aria-busy", "true")  # all this while still streaming

    expect(send_button(page)).to_be_enabled()
    expect(details).to_have_js_property("open", False)
    summary.click()
    expect(details).to_have_js_property("open", True)
    expect(answer.locator(".reasoning__text")).to_be_visible()
    expect(answer.locator(".reasoning__text")).to_contain_text("Okay, the user is asking about")

    # Stored collapsed, with its duration.
    page.reload()
    answer = last_answer(page)
    expect(answer.locator("details.reasoning")).to_have_js_property("open", False)
    expect(answer.locator(".reasoning summary")).to_have_text(REASONING_SUMMARY)
    expect(answer.locator(".reasoning__text")).to_be_hidden()


def test_stop_keeps_the_partial_answer(logged_in_page, simulator):
    page = logged_in_page
    box = page.get_by_label("Message", exact=True)
    box.fill("Tell me a long story [[sim:long]] [[sim:rate=20]]")
    box.press("Enter")

    answer = last_answer(page)
    content = answer.locator(".message__content")
    expect(content).not_to_be_empty()
    stop_button(page).click()

    expect(answer).to_contain_text("Stopped")
    expect(send_button(page)).to_be_enabled()
    partial = content.inner_text()
    assert partial.strip()
    # Stop closed the upstream request, so the server stopped generating.
    record = simulator.wait_for(lambda r: r.disconnected and "[[sim:long]]" in str(r.body))
    assert record.chunks_sent < 1000

    page.reload()
    answer = last_answer(page)
    expect(answer).to_contain_text("Stopped")
    expect(answer.locator(".message__content")).to_have_text(partial)


def test_model_text_that_looks_like_html_streams_in_as_text(logged_in_page):
    page = logged_in_page
    page.evaluate("window.pwned = false")
    said = "<img src=x onerror=window.pwned=true> and <b>bold</b> & more"
    box = page.get_by_label("Message", exact=True)
    box.fill(f"Echo [[sim:say={said}]] [[sim:rate=15]]")
    box.press("Enter")

    content = last_answer(page).locator(".message__content")
    # While it streams, the text shows as typed and makes no element of its own.
    expect(content).to_contain_text("<img src=x")
    expect(stop_button(page)).to_be_visible()
    assert content.locator("img, b").count() == 0
    expect(content).to_contain_text(said)
    expect(send_button(page)).to_be_enabled()
    assert content.locator("img").count() == 0
    assert page.evaluate("window.pwned") is False
