"""Nothing the page asks the server fails silently, in Chromium: a connection staff added without
a default model, and autosaves the server refuses or never receives."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from simulator import MODELS
from tests.browser.conftest import PASSWORD, STAFF
from tests.servers import free_port

pytestmark = pytest.mark.browser


def add_connection_in_the_admin(
    page: Page, name: str, slug: str, base_url: str, speaks: str = "vLLM"
) -> None:
    page.goto("/admin/playground/upstreamconnection/add/")
    if page.get_by_label("Username").count():
        page.get_by_label("Username").fill(STAFF)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Leave empty to use the first model its server lists")).to_be_visible()
    page.get_by_label("Slug").fill(slug)
    page.get_by_label("Name").fill(name)
    page.get_by_label("Base URL").fill(base_url)
    page.get_by_label("Dialect").select_option(label=speaks)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")


def error_box(page: Page):
    return page.get_by_role("alert").filter(has=page.locator("[data-text]"))


def test_a_connection_added_without_a_default_model_starts_on_the_first_model_it_lists(
    browser, live_site, logged_in_page, simulator
):
    staff = browser.new_page(base_url=live_site.url)
    add_connection_in_the_admin(staff, "Team vLLM", "team", simulator.base_url)
    add_connection_in_the_admin(staff, "Gone vLLM", "gone", f"http://127.0.0.1:{free_port()}/v1")
    staff.close()

    page = logged_in_page
    page.get_by_role("button", name="New conversation").click()
    connection = page.get_by_label("Connection")
    connection.select_option(label="Team vLLM")
    expect(page.locator("#connection-note")).to_contain_text("Answers come from Team vLLM")
    expect(page.get_by_role("status").filter(has_text="has no default model")).to_have_text(
        f"Team vLLM has no default model: using {MODELS[0]}, the first it lists. "
        "Pick another below if you like."
    )
    expect(page.get_by_label("Model", exact=True)).to_have_value(MODELS[0])
    expect(page.locator("#code-curl")).to_contain_text(f'"model": "{MODELS[0]}"')

    # One that can give no model is refused in words, and the list shows what is still used.
    connection.select_option(label="Gone vLLM")
    expect(error_box(page)).to_contain_text(
        "Gone vLLM has no default model and its server could not be reached, so it was not chosen."
    )
    expect(connection).to_have_value("team")
    expect(page.locator("#connection-note")).to_contain_text("Answers come from Team vLLM")
    page.get_by_role("button", name="Dismiss").click()
    expect(error_box(page)).to_be_hidden()

    box = page.get_by_label("Message", exact=True)
    box.fill("Which model are you? [[sim:tokens=3]]")
    box.press("Enter")
    sent = simulator.wait_for(lambda r: "Which model are you?" in str(r.body)).body
    assert sent["model"] == MODELS[0]
    page.reload()
    expect(connection).to_have_value("team")


def test_an_autosave_the_server_fails_or_never_gets_is_said_and_nothing_typed_is_lost(
    logged_in_page,
):
    page = logged_in_page
    page.get_by_role("button", name="New conversation").click()
    response_format = page.get_by_label("Response format · response_format.type")
    response_format.select_option("json_object")
    expect(page.locator("#options-status")).to_have_text("Saved.")

    # The server answers 500: said on screen, the choice goes back to what is saved.
    page.route(
        re.compile(r"/options/$"),
        lambda route: route.fulfill(status=500, body="<h1>Server Error (500)</h1>"),
    )
    response_format.select_option("text")
    expect(error_box(page)).to_contain_text("The server failed (error 500), so this was not saved.")
    expect(response_format).to_have_value("json_object")
    page.unroute(re.compile(r"/options/$"))
    page.keyboard.press("Escape")
    expect(error_box(page)).to_be_hidden()

    # The request never reaches the server: said too, and the typed text stays in the box.
    page.route(re.compile(r"/settings/$"), lambda route: route.abort())
    prompt = page.get_by_label("System prompt")
    prompt.fill("Answer like a sailor.")
    expect(error_box(page)).to_contain_text(
        "The server could not be reached, so this was not saved."
    )
    expect(prompt).to_have_value("Answer like a sailor.")
    page.unroute(re.compile(r"/settings/$"))

    # Once the server is back, the next change saves and the truth survives a reload.
    prompt.fill("Answer like a pirate.")
    expect(page.locator("#settings-status")).to_have_text("Saved.")
    page.reload()
    expect(page.get_by_label("System prompt")).to_have_value("Answer like a pirate.")
    expect(page.get_by_label("Response format · response_format.type")).to_have_value("json_object")


def test_switching_to_a_connection_of_another_api_redraws_its_options_and_code(
    browser, live_site, logged_in_page, simulator
):
    staff = browser.new_page(base_url=live_site.url)
    add_connection_in_the_admin(
        staff, "Team Mistral", "team-mistral", simulator.base_url, "Mistral API"
    )
    staff.close()
    page = logged_in_page
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.get_by_role("button", name="New conversation").click()
    connection = page.get_by_label("Connection")
    before = connection.input_value()

    connection.select_option(label="Team Mistral")
    # The panel is drawn again for Mistral's API (its own field names), and so is the code.
    expect(page.locator("#request-options")).to_contain_text("The fields Mistral API accepts")
    expect(page.get_by_label("Seed · random_seed")).to_be_attached()
    page.get_by_role("tab", name="Python").click()
    expect(page.locator("#code-python")).to_contain_text("from mistralai.client import Mistral")

    # Extra JSON the mistralai SDK cannot send makes the Python use the openai SDK, and says so.
    extra = page.locator("#id_opt-extra_json")
    extra.evaluate("e => e.closest('details') && (e.closest('details').open = true)")
    extra.fill('{"user_tag": "qa"}')
    expect(page.locator("#code-python")).to_contain_text("cannot send user_tag")
    expect(page.locator("#code-python")).to_contain_text("from openai import OpenAI")
    expect(page.locator("#code-view .code-setup")).to_contain_text('pip install "openai>=3,<4"')
    assert errors == []
    # Back as it was: new conversations start on the connection used last.
    connection.select_option(before)
    expect(page.locator("#request-options")).not_to_contain_text("The fields Mistral API accepts")
