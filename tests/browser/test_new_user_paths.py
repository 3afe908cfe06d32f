"""Paths a new user tripped on, each as a person walks it in Chromium: opening a copy of a
shared conversation, new versions in the old one's place, Sends that must not lose or double
what was typed, and a model server that is down."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    LiveServer,
    answers,
    log_in,
    start_daphne,
    wait_until_answered,
    wait_until_connected,
)
from tests.servers import free_port, site_environment, stop_process

pytestmark = pytest.mark.browser


def send(page: Page, text: str) -> None:
    box = page.get_by_label("Message", exact=True)
    box.fill(text)
    box.press("Enter")


def share_link(page: Page) -> str:
    page.get_by_text("Share", exact=True).click()
    page.get_by_role("button", name="Create link").click()
    return page.get_by_label("Read-only link").input_value()


def test_open_a_copy_of_a_shared_conversation_after_logging_in_from_the_shared_page(
    logged_in_page, browser, live_site
):
    page = logged_in_page
    send(page, "Sharing is caring [[sim:tokens=6]]")
    wait_until_answered(page)
    link = share_link(page)

    context = browser.new_context(base_url=live_site.url)
    context.set_default_timeout(10_000)
    try:
        viewer = context.new_page()
        viewer.goto(link)
        viewer.get_by_role("link", name="Log in to open a copy").click()
        viewer.get_by_label("User name").fill(live_site.username)
        viewer.get_by_label("Password").fill(live_site.password)
        viewer.get_by_role("button", name="Log in").click()
        expect(viewer).to_have_url(link)

        viewer.get_by_role("button", name="Open a copy").click()
        expect(viewer).to_have_url(re.compile(r"/conversations/\d+/$"))
        assert viewer.url != page.url
        user = viewer.get_by_role("article", name="User message")
        expect(user).to_contain_text("Sharing is caring")
        expect(answers(viewer)).to_have_count(1)

        # A form that fails Django's CSRF check gets a page of the site, with a way back.
        viewer.goto(link)
        context.clear_cookies(name="csrftoken")
        viewer.get_by_role("button", name="Open a copy").click()
        expect(viewer.get_by_role("heading", name="That form could not be sent")).to_be_visible()
        expect(viewer.get_by_text("Nothing was changed.")).to_be_visible()
        viewer.get_by_role("link", name="Back to your conversations").click()
        expect(viewer).to_have_url(re.compile(r"/conversations/\d+/$"))
    finally:
        context.close()


def test_regenerate_retry_and_continue_show_the_new_version_in_place_of_the_old(
    logged_in_page,
):
    page = logged_in_page
    send(page, "Hello about boats. [[sim:tokens=40]] [[sim:rate=80]]")
    wait_until_answered(page)
    first_text = answers(page).last.locator(".message__content").inner_text()

    # Regenerate: while the new version streams and after, one answer is on screen.
    page.get_by_role("button", name="Regenerate").click()
    expect(answers(page).first).to_have_attribute("aria-busy", "true")
    expect(answers(page)).to_have_count(1)
    expect(answers(page)).to_contain_text("Version 2 of 2")
    wait_until_answered(page)
    expect(answers(page)).to_have_count(1)
    expect(page.get_by_role("button", name="Regenerate")).to_have_count(1)

    # The arrows go back to the first version, whose text is as it was.
    answers(page).get_by_role("button", name="Previous version").click()
    expect(answers(page)).to_contain_text("Version 1 of 2")
    expect(answers(page).locator(".message__content")).to_have_text(first_text)

    # Stop, then Continue: the continued version takes the stopped one's place.
    send(page, "Tell me everything [[sim:long]] [[sim:rate=40]]")
    expect(answers(page)).to_have_count(2)
    expect(answers(page).last.locator(".message__content")).not_to_be_empty()
    page.get_by_role("button", name="Stop", exact=True).click()
    expect(answers(page).last).to_contain_text("Stopped:")
    page.get_by_role("button", name="Continue").click()
    expect(answers(page)).to_have_count(2)
    expect(answers(page).last).to_contain_text("Version 2 of 2")
    page.get_by_role("button", name="Stop", exact=True).click()
    wait_until_answered(page)
    expect(answers(page)).to_have_count(2)

    # Retry after a failure: the new attempt replaces the failed one.
    send(page, "Fail please [[sim:status=503]]")
    expect(answers(page).last).to_contain_text("The answer failed.")
    answers(page).last.get_by_role("button", name="Retry").click()
    expect(answers(page).last).to_contain_text("Version 2 of 2")
    wait_until_answered(page)
    expect(answers(page)).to_have_count(3)
    expect(page.get_by_text("The answer failed.")).to_have_count(1)
    expect(answers(page).last).to_contain_text("try again in a moment")

    # What a reload shows is what was on screen.
    page.reload()
    wait_until_connected(page)
    expect(answers(page)).to_have_count(3)


def test_a_send_refused_while_tool_calls_wait_keeps_the_text_in_the_box(logged_in_page):
    page = logged_in_page
    # An answer with a tool call waiting for its result, set up by hand.
    page.get_by_text("Add a message by hand").click()
    page.get_by_label("Role").select_option("user")
    page.get_by_label("Content", exact=True).fill("Hello there")
    page.get_by_role("button", name="Add message").click()
    expect(page.get_by_role("article", name="User message")).to_have_count(1)
    page.get_by_label("Role").select_option("assistant")
    page.get_by_label("Content", exact=True).fill("")
    page.get_by_label("Tool calls (JSON, assistant only)").fill(
        '[{"type": "function", "function": {"name": "get_time", "arguments": "{}"}}]'
    )
    page.get_by_role("button", name="Add message").click()
    expect(answers(page)).to_have_count(1)

    send(page, "Never mind, just say hi.")
    expect(page.locator("#notice")).to_contain_text("get_time")
    box = page.get_by_label("Message", exact=True)
    expect(box).to_have_value("Never mind, just say hi.")
    expect(page.get_by_role("article", name="User message")).to_have_count(1)
    page.reload()
    expect(page.get_by_role("article", name="User message")).to_have_count(1)


def test_a_send_refused_for_an_invalid_option_is_answered_once_fixed_not_stored_twice(
    logged_in_page, simulator
):
    page = logged_in_page
    temperature = page.get_by_label("Temperature · temperature")
    temperature.fill("5")
    expect(page.locator("#id_opt-temperature_error")).not_to_be_empty()

    send(page, "Person please [[sim:tokens=5]]")
    expect(page.locator("#notice")).to_contain_text("Temperature")
    box = page.get_by_label("Message", exact=True)
    expect(box).to_have_value("Person please [[sim:tokens=5]]")
    expect(page.get_by_role("article", name="User message")).to_have_count(1)

    temperature.fill("0.5")
    expect(page.locator("#id_opt-temperature_error")).to_be_empty()
    box.press("Enter")
    expect(answers(page)).to_have_count(1)
    wait_until_answered(page)
    expect(box).to_have_value("")
    expect(page.get_by_role("article", name="User message")).to_have_count(1)
    sent = simulator.wait_for(lambda r: "Person please" in str(r.body)).body
    assert [m["content"] for m in sent["messages"] if m["role"] == "user"] == [
        "Person please [[sim:tokens=5]]"
    ]
    page.reload()
    expect(page.get_by_role("article", name="User message")).to_have_count(1)


@pytest.fixture
def site_with_hexgrid_down(simulator, tmp_path) -> Iterator[LiveServer]:
    """A site whose HexGrid connection points at a port nothing listens on."""
    env = site_environment(tmp_path, simulator.base_url)
    env["MISTRAL_BASE_URL"] = f"http://127.0.0.1:{free_port()}/v1"
    process, port = start_daphne(env, tmp_path / "daphne.log")
    yield LiveServer(url=f"http://127.0.0.1:{port}", pid=process.pid)
    stop_process(process)


def test_a_model_server_that_is_down_is_said_plainly_with_no_advice_about_options(
    browser, site_with_hexgrid_down
):
    context = browser.new_context(base_url=site_with_hexgrid_down.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    log_in(page, site_with_hexgrid_down)
    page.get_by_label("Connection").select_option(label="HexGrid")
    wait_until_connected(page)
    send(page, "Anyone there?")

    answer = answers(page).last
    expect(answer).to_contain_text("Could not connect to the model's server")
    expect(answer).to_contain_text("Is it running?")
    # Every failure without a status once came with "Change “Extra JSON”…" in front.
    expect(answer).not_to_contain_text("Extra JSON")
    expect(answer.get_by_role("button", name="Retry")).to_be_visible()
    expect(page.get_by_role("article", name="User message")).to_contain_text("Anyone there?")
    page.reload()
    expect(answers(page).last).to_contain_text("Is it running?")
    expect(answers(page).last).not_to_contain_text("Extra JSON")
    context.close()
