"""The token count in Chromium: it follows the typing, the answers and Max tokens."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import wait_until_answered

pytestmark = pytest.mark.browser

SCREENSHOTS = "/tmp/hexplay-tokens-{}.png"
COUNTED = re.compile(r"([\d,]+) tokens of conversation")


def shown_count(page) -> int:
    summary = page.locator(".token-count__summary")
    expect(summary).to_contain_text(COUNTED)
    return int(COUNTED.search(summary.inner_text()).group(1).replace(",", ""))


def expect_count_above(page, floor: int) -> int:
    expect(page.locator(".token-count__summary")).not_to_contain_text(f" {floor:,} tokens")
    counted = shown_count(page)
    assert counted > floor
    return counted


def test_typing_makes_the_token_count_go_up(logged_in_page, simulator):
    page = logged_in_page
    count = page.locator("#token-count")
    expect(count).to_contain_text("Nothing to count yet")
    box = page.get_by_label("Message", exact=True)

    box.fill("Tell me about tides")
    expect(count).to_contain_text("with what you are typing")
    first = shown_count(page)
    box.press_sequentially(" and the moon and the sea")
    typed = expect_count_above(page, first)
    assert typed == first + 6
    meter = page.get_by_role("meter", name="Context used")
    expect(meter).to_have_attribute("aria-valuemax", "32768")
    page.screenshot(path=SCREENSHOTS.format("typing"))

    # After the answer, the conversation holds it: the next request is longer still.
    box.press_sequentially(" [[sim:rate=300]]")
    box.press("Enter")
    wait_until_answered(page)
    expect(count).not_to_contain_text("with what you are typing")
    expect_count_above(page, typed)
    page.screenshot(path=SCREENSHOTS.format("answered"))

    # Max tokens too large for what is left: the bar turns red and says so in words.
    page.get_by_label("Max tokens · max_completion_tokens").fill("32760")
    warning = count.get_by_role("status")
    expect(warning).to_contain_text(
        re.compile(r"tokens of conversation plus 32,760 for the answer do not fit the model's ")
    )
    expect(warning).to_contain_text("32,768: shorten it or lower Max tokens.")
    expect(count.locator(".token-bar--over")).to_be_visible()
    page.screenshot(path=SCREENSHOTS.format("too-long"))


def test_what_the_model_sees_shows_the_templates_control_tokens(logged_in_page, simulator):
    page = logged_in_page
    page.get_by_label("System prompt").fill("Be brief.")
    page.get_by_label("Message", exact=True).fill("Tell me about tides")
    shown_count(page)

    page.get_by_role("link", name="What the model sees").click()

    tokens = page.get_by_role("group", name="The prompt as the tokenizer splits it")
    special = tokens.locator(".token--special")
    expect(special).to_have_text(
        ["<s>", "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]", "[INST]", "[/INST]"]
    )
    expect(tokens).to_contain_text("[SYSTEM_PROMPT]Be brief.[/SYSTEM_PROMPT][INST]Tell me")
    toggle = page.get_by_role("link", name="Hide what the model sees")
    expect(toggle).to_have_attribute("aria-expanded", "true")

    # Shown, the tokens follow the typing too.
    page.get_by_label("Message", exact=True).press_sequentially(" and lighthouses")
    expect(tokens).to_contain_text("tides and lighthouses[/INST]")
    page.screenshot(path=SCREENSHOTS.format("model-sees"))

    toggle.click()
    expect(tokens).to_have_count(0)
    expect(page.get_by_role("link", name="What the model sees")).to_be_visible()
