"""The everyday comforts, in Chromium: starters, keys, pace while streaming, Copy, sliders, dark."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


@pytest.fixture
def page(logged_in_page):
    logged_in_page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    return logged_in_page


def test_a_starter_sets_the_conversation_up_and_keys_send_and_stop(page, simulator):
    page.screenshot(path="/tmp/hexplay-starters.png")
    page.get_by_role("button", name="Reuse a prompt with variables").click()
    box = page.get_by_label("Message", exact=True)
    expect(box).to_have_value("Plan one day in {{city}} for someone who loves {{interest}}.")
    expect(page.get_by_label("System prompt")).to_have_value(
        "You are a friendly local guide to {{city}}."
    )
    expect(page.get_by_label("city", exact=True)).to_have_value("Lisbon")

    box.fill(box.input_value() + " [[sim:long]] [[sim:rate=40]]")
    box.press("Control+Enter")
    answer = page.get_by_role("article", name="Assistant message").last
    # While it streams: the time so far and the pace.
    expect(answer.locator("[data-stream-stats]")).to_have_text(re.compile(r"tokens/s so far"))
    page.keyboard.press("Escape")
    expect(answer).to_contain_text("Stopped")
    sent = simulator.wait_for(lambda r: "loves tiles" in str(r.body)).body["messages"]
    assert sent[0]["content"] == "You are a friendly local guide to Lisbon."


def test_copy_gives_the_raw_text_of_an_answer_and_of_its_code(page):
    box = page.get_by_label("Message", exact=True)
    box.fill("Show me code [[sim:say=Run `ls`:\n\n```\nls -la\n```]]")
    box.press("Enter")
    answer = page.get_by_role("article", name="Assistant message").last
    expect(answer.locator(".markdown code").first).to_have_text("ls")
    answer.get_by_role("button", name="Copy the text of this assistant message").click()
    expect(
        answer.get_by_role("button", name="Copy the text of this assistant message")
    ).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == "Run `ls`:\n\n```\nls -la\n```"
    answer.get_by_role("button", name="Copy code").click()
    assert page.evaluate("navigator.clipboard.readText()").strip() == "ls -la"


def test_a_slider_and_its_box_move_together_and_dark_mode_is_remembered(page):
    temperature = page.get_by_label("Temperature · temperature")
    slider = page.locator('[data-slider-for="id_opt-temperature"]')
    expect(slider).to_have_value("1")  # the unset value, until one is typed
    slider.fill("0.35")
    expect(temperature).to_have_value("0.35")
    expect(page.locator("#code-curl")).to_contain_text('"temperature": 0.35')
    temperature.fill("1.5")
    expect(slider).to_have_value("1.5")

    toggle = page.get_by_role("button", name="Dark mode")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    background = "getComputedStyle(document.body).backgroundColor"
    assert page.evaluate(background) == "rgb(22, 23, 27)"
    page.reload()
    page.screenshot(path="/tmp/hexplay-dark.png")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert page.evaluate(background) == "rgb(22, 23, 27)"
    page.get_by_role("button", name="Dark mode").click()
    assert page.evaluate(background) == "rgb(247, 247, 248)"
