"""A person who does not code writes {{city}}, fills it in and sends, in Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_a_variable_gets_a_box_refuses_send_until_filled_and_is_sent_filled(
    logged_in_page, simulator
):
    page = logged_in_page
    page.get_by_label("System prompt").fill("You are a guide to {{city}}.")
    city = page.get_by_label("city", exact=True)
    expect(city).to_be_visible()
    expect(city).to_have_value("")

    box = page.get_by_label("Message", exact=True)
    box.fill("What should I see in {{ city }}? [[sim:tokens=5]]")
    box.press("Enter")
    notice = page.locator("#notice")
    expect(notice).to_contain_text("Fill in city before sending")
    question = page.get_by_role("article", name="User message").last
    expect(question.locator("mark.variable")).to_have_text("{{ city }}")
    page.screenshot(path="/tmp/hexplay-variables.png")

    city.fill("Lisbon")
    expect(page.locator("#settings-status")).to_have_text("Saved.")
    expect(page.locator("#code-curl")).to_contain_text("You are a guide to Lisbon.")
    expect(page.locator("#code-curl")).to_contain_text("What should I see in Lisbon?")
    notice.get_by_role("button", name="Answer it now").click()
    answer = page.get_by_role("article", name="Assistant message").last
    expect(answer).to_contain_text("tokens")
    sent = simulator.wait_for(lambda r: "see in Lisbon" in str(r.body)).body["messages"]
    assert sent[0]["content"] == "You are a guide to Lisbon."
    assert sent[-1]["content"].startswith("What should I see in Lisbon?")
    # The conversation still holds the template, to run again with another city.
    page.reload()
    expect(question.locator("mark.variable")).to_have_text("{{ city }}")
    expect(page.get_by_label("city", exact=True)).to_have_value("Lisbon")


def test_typing_right_after_a_setting_still_updates_the_code_view_and_variables(
    logged_in_page,
):
    # The setting's autosave redraws the code view while the typing's refresh is still
    # waiting out its delay: that refresh must not be lost with the redraw.
    page = logged_in_page
    page.get_by_label("System prompt").fill("Reply briefly.")
    page.get_by_label("Message", exact=True).fill("Where is {{city}}?")

    expect(page.get_by_label("city", exact=True)).to_be_visible()
    expect(page.locator("#code-view")).to_contain_text("Where is {{city}}?")
    expect(page.locator("#code-view")).to_contain_text("Reply briefly.")
