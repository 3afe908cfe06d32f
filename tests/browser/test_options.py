"""The request options in Chromium: the cURL follows the fields, the answer follows the options."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

SCREENSHOT = "/tmp/hexplay-options.png"


def body_in(curl_text: str) -> dict:
    """The JSON a cURL command of the code view posts, as the shell reads it."""
    quoted = re.search(r"-d '(.*)'\s*$", curl_text, re.S).group(1)
    return json.loads(quoted.replace("'\\''", "'"))


def test_changing_options_changes_the_curl_and_the_answer(logged_in_page, simulator):
    page = logged_in_page
    curl = page.locator("#code-curl")
    expect(curl).to_contain_text('curl -N -X POST "$MISTRAL_BASE_URL/chat/completions"')
    expect(curl).not_to_contain_text('"temperature"')

    # A bad value is refused beside its field and stays as typed.
    temperature = page.get_by_label("Temperature · temperature")
    temperature.fill("5")
    error = page.locator("#id_opt-temperature_error")
    expect(error).to_have_text("Temperature must be between 0 and 2.")
    expect(temperature).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("status").filter(has_text="1 option to fix")).to_be_visible()
    expect(temperature).to_have_value("5")

    temperature.fill("0.2")
    expect(error).to_be_empty()
    expect(curl).to_contain_text('"temperature": 0.2')

    # The schema fields show only for json_schema; JSON object needs none.
    response_format = page.get_by_label("Response format · response_format.type")
    schema = page.get_by_label("Schema · response_format.json_schema.schema")
    expect(schema).to_be_hidden()
    response_format.select_option("json_schema")
    expect(schema).to_be_visible()
    response_format.select_option("json_object")
    expect(schema).to_be_hidden()
    expect(curl).to_contain_text('"type": "json_object"')

    # The message being typed is the last one of the request shown.
    box = page.get_by_label("Message", exact=True)
    box.fill("Name a city, it's for a quiz [[sim:rate=200]]")
    expect(curl).to_contain_text("Name a city, it'\\''s for a quiz")
    shown = body_in(curl.inner_text())
    page.screenshot(path=SCREENSHOT, full_page=True)

    box.press("Enter")
    answer = page.get_by_role("article", name="Assistant message").last
    expect(answer).to_contain_text('{"answer":')
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_enabled()
    json.loads(answer.locator(".message__content").inner_text())

    # What went upstream is exactly what the cURL showed.
    sent = simulator.wait_for(lambda r: "it's for a quiz" in json.dumps(r.body)).body
    assert sent == shown

    # The options are the conversation's: still there after a reload.
    page.reload()
    expect(page.get_by_label("Temperature · temperature")).to_have_value("0.2")
    expect(page.get_by_label("Response format · response_format.type")).to_have_value("json_object")
