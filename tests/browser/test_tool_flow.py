"""The issue's "done when", in Chromium: define a tool, attach it, watch its call, answer it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import wait_until_connected

pytestmark = pytest.mark.browser

CANNED = '{"temperature": 18, "unit": "celsius"}'


@pytest.fixture
def tool_page(logged_in_page):
    """The logged-in page; the tool it defines is deleted after, as the folder shares a site."""
    yield logged_in_page
    page = logged_in_page
    page.goto("/tools/")
    page.once("dialog", lambda dialog: dialog.accept())
    delete = page.get_by_role("button", name="Delete get_current_weather")
    if delete.count():
        delete.click()
        expect(delete).to_have_count(0)


def test_define_attach_ask_see_the_call_stream_in_answer_it_and_get_the_answer(
    tool_page, simulator
):
    page = tool_page
    conversation_url = page.url

    # A person with no JSON knowledge defines get_current_weather(location, unit).
    page.goto("/tools/new/")
    page.get_by_label("Tool name").fill("get_current_weather")
    page.get_by_label("Description", exact=True).first.fill("The weather in a city.")
    first = page.get_by_role("group", name="Property 1")
    first.get_by_label("Name").fill("location")
    first.get_by_label("Required").check()
    page.get_by_role("button", name="Add a property").click()
    second = page.get_by_role("group", name="Property 2")
    second.get_by_label("Name").fill("unit")
    second.get_by_label("Allowed values").fill("celsius, fahrenheit")
    page.get_by_label("Canned result").fill(CANNED)
    page.get_by_role("button", name="Save tool").click()
    expect(page).to_have_url(re.compile(r"/tools/$"))

    # Attached by ticking it in the side panel; the request shows it at once.
    page.goto(conversation_url)
    wait_until_connected(page)
    tools = page.locator("#options-group-tools")
    expect(tools.get_by_role("link", name="Define more tools")).to_have_attribute("href", "/tools/")
    tools.get_by_label("get_current_weather(location, unit?)").check()
    expect(page.locator("#code-curl")).to_contain_text('"name": "get_current_weather"')
    expect(page.get_by_label("Tool choice")).to_contain_text("get_current_weather (always call it)")

    # Asked plainly, the model calls it: the card shows while the answer still streams.
    simulator.chunks_per_second = 12.0
    try:
        box = page.get_by_label("Message", exact=True)
        box.fill("What is the weather in Paris?")
        box.press("Enter")
        answer = page.get_by_role("article", name="Assistant message").last
        card = answer.get_by_role("region", name="Tool call get_current_weather").first
        expect(card).to_be_visible()
        expect(answer).to_have_attribute("aria-busy", "true")
        expect(card).to_contain_text('"location"')
    finally:
        simulator.chunks_per_second = 0.0
    expect(answer).not_to_have_attribute("aria-busy", "true")
    expect(answer).to_contain_text("The model asked for 1 tool call.")
    expect(answer.locator(".tool-call__arguments")).to_contain_text('"location": "Paris"')

    # The result box starts with the tool's canned result; the person types their own.
    result = answer.get_by_label(re.compile("^Result of get_current_weather"))
    expect(result).to_have_value(CANNED)
    result.fill("18 °C and sunny")
    answer.get_by_role("button", name="Submit results").click()

    expect(page.get_by_role("article", name="Tool message")).to_contain_text("18 °C and sunny")
    final = page.get_by_role("article", name="Assistant message").last
    expect(final).to_contain_text("According to get_current_weather: 18 °C and sunny.")
    expect(final).not_to_have_attribute("aria-busy", "true")
    expect(page.get_by_role("button", name="Submit results")).to_have_count(0)
