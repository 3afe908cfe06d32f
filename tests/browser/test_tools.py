"""The tool library as a person without JSON knowledge uses it, in Chromium."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

WEATHER = {
    "type": "object",
    "properties": {
        "location": {"type": "string", "description": "City and country"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["location"],
}


def settled(page) -> None:
    """htmx has swapped and wired up the new elements (hx-* attributes work after its settle)."""
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-added, .htmx-settling')"
    )


def test_a_person_builds_get_current_weather_with_the_simple_form(logged_in_page):
    page = logged_in_page
    page.get_by_role("link", name="Tools", exact=True).click()
    expect(page.get_by_role("heading", name="Your tools")).to_be_visible()
    page.get_by_role("link", name="New tool", exact=True).click()

    page.get_by_label("Tool name").fill("get_current_weather")
    page.get_by_label("Description", exact=True).first.fill("The weather where the user is.")
    schema = page.get_by_label("JSON Schema")
    expect(schema).to_have_attribute("readonly", "")  # written by the simple form

    first = page.get_by_role("group", name="Property 1")
    first.get_by_label("Name").fill("location")
    first.get_by_label("Description").fill("City and country")
    first.get_by_label("Required").check()
    expect(schema).to_have_value(re.compile(r'"required": \[\s*"location"\s*\]'))

    # The new row takes the focus, so typing goes straight on.
    page.get_by_role("button", name="Add a property").click()
    second = page.get_by_role("group", name="Property 2")
    expect(second.get_by_label("Name")).to_be_focused()
    page.keyboard.type("unit")
    expect(second.get_by_label("Type")).to_have_value("string")
    second.get_by_label("Allowed values").fill("celsius, fahrenheit")
    expect(schema).to_have_value(re.compile(r'"enum": \[\s*"celsius",\s*"fahrenheit"\s*\]'))
    assert json.loads(schema.input_value()) == WEATHER

    # A mistake is said next to its row and goes once fixed.
    second.get_by_label("Type").select_option("integer")
    expect(second.get_by_text("Allowed values: “celsius” is not a whole number.")).to_be_visible()
    second.get_by_label("Type").select_option("string")
    expect(second.get_by_text("is not a whole number")).to_have_count(0)

    page.get_by_role("button", name="Save tool").click()
    expect(page).to_have_url(re.compile(r"/tools/$"))
    expect(page.get_by_role("status").filter(has_text="Saved get_current_weather.")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="get_current_weather")
    expect(row).to_contain_text("get_current_weather(location, unit?)")
    expect(row).to_contain_text("The weather where the user is.")


def test_raw_json_redraws_the_rows_or_says_why_it_cannot(logged_in_page):
    page = logged_in_page
    page.goto("/tools/new/")
    page.get_by_label("raw JSON").check()
    schema = page.get_by_label("JSON Schema")
    expect(schema).not_to_have_attribute("readonly", "")
    settled(page)
    days = {"type": "object", "properties": {"days": {"type": "integer", "enum": [1, 3]}}}
    schema.fill(json.dumps(days))
    row = page.get_by_role("group", name="Property 1")
    expect(row.get_by_label("Name")).to_have_value("days")
    expect(row.get_by_label("Allowed values")).to_have_value("1, 3")
    expect(row.get_by_label("Name")).to_be_disabled()  # JSON is the side being edited

    schema.fill(json.dumps({**days, "additionalProperties": False}))
    cannot = "This schema uses features the simple editor cannot show; edit it as JSON."
    expect(page.get_by_text(cannot)).to_be_visible()
    page.get_by_label("the simple form").check()
    expect(page.get_by_role("alert").filter(has_text="stays in JSON")).to_be_visible()
    expect(page.get_by_label("raw JSON")).to_be_checked()
    settled(page)

    schema.fill('{"type": "object", "properties": {"days": {"type": "integer", "enum": "1"}}}')
    expect(page.get_by_text("properties → days → enum: must be a list ([…])")).to_be_visible()
