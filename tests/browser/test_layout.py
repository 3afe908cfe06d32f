"""The page's layout in Chromium: a phone with folded panels, and candidates side by side."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import wait_until_connected

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
WIDE = {"width": 1440, "height": 900}
# A long word cannot wrap: it is what used to widen the page (the sidebar keeps titles on a line).
LONG_TITLE = "Tidal" + "energy" * 18 + " in northern Europe, from the first mills to the barrages"


def page_width(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def assert_within(page: Page, locator, width: int) -> None:
    box = locator.bounding_box()
    assert box is not None, f"{locator} is not shown"
    assert box["x"] >= 0 and box["x"] + box["width"] <= width, f"{locator} is cut off: {box}"


def test_on_a_phone_nothing_scrolls_sideways_and_the_panels_fold_behind_buttons(
    logged_in_page, browser, live_site, login_state
):
    page = logged_in_page
    page.set_viewport_size(PHONE)
    box = page.get_by_label("Message", exact=True)
    box.fill("Say something short [[sim:tokens=8]]")
    box.press("Enter")
    page.get_by_role("button", name="Regenerate").click()
    expect(page.get_by_text("Version 2 of 2")).to_be_visible()
    page.locator("summary", has_text="Rename").click()
    page.get_by_label("Title", exact=True).fill(LONG_TITLE)
    page.get_by_role("button", name="Save title").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(LONG_TITLE)
    page.reload()
    wait_until_connected(page)

    assert page_width(page) <= PHONE["width"]
    for control in [
        page.get_by_role("button", name="Log out"),
        page.locator("summary", has_text="Rename"),
        page.get_by_role("button", name="Previous version"),
        page.get_by_text("Version 2 of 2"),
        page.get_by_text("Shift+Enter adds a line", exact=False),
    ]:
        assert_within(page, control, PHONE["width"])
    page.screenshot(path="/tmp/hexplay-layout-phone.png")

    # The conversation list and the settings wait behind their buttons, above the chat.
    conversations = page.get_by_role("navigation", name="Conversations")
    settings = page.get_by_role("complementary", name="Settings")
    list_button = page.get_by_role("button", name="Conversations")
    settings_button = page.get_by_role("button", name="Settings")
    expect(conversations).to_be_hidden()
    expect(settings).to_be_hidden()
    expect(list_button).to_have_attribute("aria-controls", "sidebar")
    page.get_by_role("button", name="Regenerate").scroll_into_view_if_needed()
    list_button.click()
    expect(conversations).to_be_in_viewport()
    expect(list_button).to_have_attribute("aria-expanded", "true")
    expect(conversations.get_by_role("link", name=LONG_TITLE)).to_be_visible()
    assert page_width(page) <= PHONE["width"]
    page.screenshot(path="/tmp/hexplay-layout-phone-conversations.png")
    list_button.click()
    expect(conversations).to_be_hidden()
    expect(list_button).to_have_attribute("aria-expanded", "false")

    # By keyboard too; Escape in the open panel folds it and goes back to its button.
    settings_button.focus()
    page.keyboard.press("Enter")
    expect(settings).to_be_in_viewport()
    expect(page.get_by_label("System prompt")).to_be_visible()
    assert page_width(page) <= PHONE["width"]
    page.screenshot(path="/tmp/hexplay-layout-phone-settings.png")
    page.get_by_label("System prompt").focus()
    page.keyboard.press("Escape")
    expect(settings).to_be_hidden()
    expect(settings_button).to_be_focused()
    page.keyboard.press("Space")
    expect(settings).to_be_visible()
    settings_button.click()
    expect(settings).to_be_hidden()

    # Every other page fits too: the share page, the lists, the forms, the login page.
    page.locator("summary").get_by_text("Share", exact=True).click()
    page.get_by_role("button", name="Create link").click()
    shared = page.get_by_label("Read-only link").input_value()
    for path in ["/tools/", "/tools/new/", "/shares/", "/import/", shared]:
        page.goto(path)
        assert page_width(page) <= PHONE["width"], f"{path} scrolls sideways"
    anonymous = browser.new_context(base_url=live_site.url, viewport=PHONE)
    try:
        visitor = anonymous.new_page()
        for path in ["/", shared]:
            visitor.goto(path)
            assert page_width(visitor) <= PHONE["width"], f"{path} scrolls sideways, logged out"
    finally:
        anonymous.close()


def test_without_javascript_the_panels_stack_below_the_chat_behind_links(
    browser, live_site, login_state
):
    context = browser.new_context(
        base_url=live_site.url, storage_state=login_state, viewport=PHONE, java_script_enabled=False
    )
    try:
        page = context.new_page()
        page.goto("/")
        assert page_width(page) <= PHONE["width"]
        expect(page.get_by_role("button", name="Settings")).to_have_count(0)
        page.get_by_role("link", name="Settings").click()
        expect(page.get_by_role("complementary", name="Settings")).to_be_in_viewport()
        conversations = page.get_by_role("navigation", name="Conversations")
        expect(conversations).to_be_visible()
        chat = page.get_by_role("region", name="Chat").bounding_box()
        assert conversations.bounding_box()["y"] > chat["y"], "the list comes after the chat"
    finally:
        context.close()


def test_candidates_fit_side_by_side_and_render_markdown_once_finished(logged_in_page):
    page = logged_in_page
    page.set_viewport_size(WIDE)
    page.locator("#request-options summary").get_by_text("Output", exact=True).click()
    page.get_by_label("Candidates · n").fill("3")
    page.get_by_label("Temperature · temperature").fill("0.9")
    page.get_by_label("Seed · seed").fill("2")
    box = page.get_by_label("Message", exact=True)
    # About one sentence in seven has a bold word: 120 tokens make bold all but certain.
    box.fill("Name a colour for the kitchen [[sim:tokens=120]] [[sim:rate=400]]")
    box.press("Enter")

    answer = page.get_by_role("article", name="Assistant message").last
    candidates = answer.locator(".candidate")
    expect(candidates).to_have_count(3)
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_enabled()
    expect(answer.get_by_role("button", name="Continue with this one")).to_have_count(2)

    row = answer.locator(".candidates__row").bounding_box()
    for candidate in candidates.all():
        candidate.scroll_into_view_if_needed()
        box = candidate.bounding_box()
        assert box["x"] >= row["x"] and box["x"] + box["width"] <= row["x"] + row["width"] + 1
        assert_within(page, candidate, WIDE["width"])
        expect(candidate).to_contain_text("First token")
        expect(candidate).to_contain_text("Total")
        assert "**" not in candidate.locator(".candidate__content").inner_text()
    assert answer.locator(".candidate__content strong").count() >= 1
    expect(answer).to_contain_text("out for the 3 candidates together")
    assert page_width(page) <= WIDE["width"]
    answer.locator(".candidates").scroll_into_view_if_needed()
    page.screenshot(path="/tmp/hexplay-layout-candidates.png")
