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
    # Not HexGrid's connection: the command names the simulator's own URL, to run as it is.
    expect(curl).to_contain_text(f"curl -N -X POST '{simulator.base_url}/chat/completions'")
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


def test_the_answer_schema_is_built_with_the_simple_form_or_typed_as_json(
    logged_in_page, simulator
):
    page = logged_in_page
    curl = page.locator("#code-curl")
    page.get_by_label("Response format · response_format.type").select_option("json_schema")
    builder = page.get_by_role("group", name="Fields of the answer")
    expect(builder).to_be_visible()

    # The example fills the rows, names the schema and is saved like anything typed.
    builder.get_by_role("button", name="Insert an example").click()
    expect(builder.get_by_label("Name", exact=True).first).to_have_value("name")
    expect(page.get_by_label("Schema name · response_format.json_schema.name")).to_have_value(
        "person"
    )
    status = page.locator("#options-status")
    expect(status).to_have_text("Saved.")
    # Calm, not the red of the error lines.
    assert status.evaluate("e => getComputedStyle(e).color") != page.locator(
        "#id_opt-json_schema_error"
    ).evaluate("e => getComputedStyle(e).color")
    expect(curl).to_contain_text('"name": "person"')

    # A field added by hand goes into the request as it is typed.
    builder.get_by_role("button", name="Add a property").click()
    builder.get_by_label("Name", exact=True).nth(2).fill("city")
    expect(curl).to_contain_text('"city": {')
    builder.get_by_role("button", name="Remove property 3", exact=True).click()
    expect(curl).not_to_contain_text('"city"')
    builder.get_by_role("button", name="Add a property").click()
    builder.get_by_label("Name", exact=True).nth(2).fill("city")
    expect(curl).to_contain_text('"city": {')
    shown = body_in(curl.inner_text())
    assert shown["response_format"]["json_schema"]["schema"]["required"] == ["name", "age"]

    box = page.get_by_label("Message", exact=True)
    box.fill("Describe a person [[sim:rate=500]]")
    box.press("Enter")
    answer = page.get_by_role("article", name="Assistant message").last
    expect(answer.locator(".stats")).to_be_visible()
    person = json.loads(answer.locator(".message__content").inner_text())
    assert isinstance(person["name"], str) and isinstance(person["age"], int)
    sent = simulator.wait_for(lambda r: "Describe a person" in json.dumps(r.body)).body
    assert sent["response_format"] == shown["response_format"]

    # Raw JSON: a misspelt type is said in plain words, beside the box and not under the code.
    builder.get_by_label("raw JSON").check()
    schema = page.locator("#id_opt-json_schema")
    expect(schema).to_be_editable()
    schema.fill('{"type": "objekt"}')
    error = page.locator("#id_opt-json_schema_error")
    expect(error).to_contain_text("type: must be one of string, number, integer, boolean, array")
    expect(error).to_contain_text('not "objekt"')
    expect(status).to_have_text("1 option to fix: nothing is sent until it is.")
    error.scroll_into_view_if_needed()
    expect(error).to_be_in_viewport()
    # What a person sees at the first and last line of the error is the error itself, not the
    # code view drawn over it (points, not box edges: the scroll box rounds to sub-pixels).
    seen = error.evaluate(
        """e => { const r = e.getBoundingClientRect();
                  return [r.top + 4, r.bottom - 4].map(y => {
                    const hit = document.elementFromPoint(r.left + 8, y);
                    return !!hit && e.contains(hit); }); }"""
    )
    assert seen == [True, True]
    page.screenshot(path="/tmp/hexplay-answer-schema.png")

    # The box keeps what was typed after a reload, and the simple form follows valid JSON.
    schema.fill('{"type": "object", "properties": {"town": {"type": "string"}}}')
    expect(error).to_be_empty()
    expect(status).to_have_text("Saved.")
    page.reload()
    expect(
        page.get_by_role("group", name="Fields of the answer").get_by_label("Name", exact=True)
    ).to_have_value("town")
