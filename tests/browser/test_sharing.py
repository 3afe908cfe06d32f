"""Sharing as a person does it: create a link, open it logged out elsewhere, revoke, delete."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_a_shared_conversation_opens_read_only_in_a_fresh_logged_out_browser(
    logged_in_page, browser, live_site
):
    page = logged_in_page
    box = page.get_by_label("Message", exact=True)
    box.fill("Why is the sky blue? [[sim:tokens=20]]")
    box.press("Enter")
    answer = page.get_by_role("article", name="Assistant message").last
    expect(answer).to_contain_text("tokens/s")
    answer_text = answer.locator(".message__content").inner_text()

    page.get_by_text("Share", exact=True).click()
    page.get_by_role("button", name="Create link").click()
    link = page.get_by_label("Read-only link").input_value()
    assert link.startswith(f"{live_site.url}/s/")

    # Said after sharing: stays private until the link is updated.
    box.fill("A private follow-up [[sim:tokens=5]]")
    box.press("Enter")
    expect(page.get_by_role("article", name="Assistant message")).to_have_count(2)
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_enabled()

    context = browser.new_context()  # no cookies: nobody is logged in here
    context.set_default_timeout(10_000)
    try:
        viewer = context.new_page()
        sockets: list[str] = []
        viewer.on("websocket", lambda socket: sockets.append(socket.url))
        response = viewer.goto(link)
        assert response.status == 200 and response.headers["x-robots-tag"] == "noindex"
        question = viewer.get_by_role("article", name="User message").locator(".message__content")
        expect(question).to_have_text("Why is the sky blue? [[sim:tokens=20]]")
        expect(viewer.get_by_role("article", name="Assistant message")).to_contain_text(answer_text)
        expect(viewer.get_by_text("A private follow-up")).to_have_count(0)
        # Read-only: nothing to type into, nothing that asks the model, no socket.
        expect(viewer.get_by_role("textbox")).to_have_count(0)
        expect(viewer.get_by_role("button", name="Regenerate")).to_have_count(0)
        expect(viewer.get_by_role("link", name="Log in to open a copy")).to_be_visible()
        assert sockets == []

        # Revoked: the same link now answers 404.
        page.get_by_role("button", name="Revoke link").click()
        expect(page.get_by_role("button", name="Create link")).to_be_visible()
        assert viewer.goto(link).status == 404
    finally:
        context.close()

    # Deleting asks first, then the conversation is gone (and this test leaves no history).
    chat_url = page.url
    page.get_by_text("Delete", exact=True).click()
    page.get_by_role("button", name="Delete for good").click()
    expect(page).not_to_have_url(chat_url)
    assert page.goto(chat_url).status == 404
