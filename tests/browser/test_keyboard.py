"""Keyboard only, in Chromium: from the top of a conversation to an answer, every step with a
visible focus ring."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import wait_until_answered

pytestmark = pytest.mark.browser

FOCUS_RING = """() => {
  const style = getComputedStyle(document.activeElement);
  return style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2;
}"""


def tab_to(page, name: str, limit: int = 80) -> None:
    """Tab until the focused element is the one named, each stop showing its focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => document.activeElement.getAttribute('aria-label')"
            " || document.activeElement.labels?.[0]?.textContent.trim()"
            " || document.activeElement.textContent.trim()"
        )
        if focused == name:
            assert page.evaluate(FOCUS_RING), f"{name} has no visible focus"
            return
    raise AssertionError(f"Tab never reached {name}")


def test_a_person_reaches_everything_needed_to_ask_and_stop_with_the_keyboard(logged_in_page):
    page = logged_in_page
    page.evaluate("() => document.activeElement.blur()")

    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    assert page.evaluate(FOCUS_RING)
    tab_to(page, "System prompt")
    page.keyboard.type("Reply briefly.")
    tab_to(page, "Message")
    page.keyboard.type("Tell me about tides [[sim:tokens=400]] [[sim:rate=40]]")
    page.keyboard.press("Control+Enter")
    expect(page.get_by_role("article", name="User message")).to_contain_text("Tell me about tides")

    # Esc stops the answer from the message box, where the focus stayed.
    expect(page.get_by_role("button", name="Stop")).to_be_enabled()
    page.keyboard.press("Escape")
    wait_until_answered(page)
    expect(page.locator("#answer-status")).to_have_text("The answer was stopped.")
