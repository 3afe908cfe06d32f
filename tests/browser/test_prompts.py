"""A person saves a prompt, improves it, compares versions and reopens the first, in Chromium."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_save_a_prompt_change_it_compare_versions_and_start_from_v1(logged_in_page):
    page = logged_in_page
    page.get_by_label("System prompt").fill("You write short poems about {{topic}}.")
    expect(page.locator("#settings-status")).to_have_text("Saved.")
    page.get_by_label("topic", exact=True).fill("the sea")
    expect(page.locator("#settings-status")).to_have_text("Saved.")

    save = page.locator("details", has=page.get_by_text("Save as prompt", exact=True))
    save.locator("summary").click()
    save.get_by_label("Name of the new prompt").fill("Poems")
    save.get_by_label("Note (optional)").fill("first try")
    save.get_by_role("button", name="Save").click()
    expect(save.get_by_role("status")).to_contain_text("Saved as Poems v1.")

    page.get_by_label("System prompt").fill("You write long, rhyming poems about {{topic}}.")
    expect(page.locator("#settings-status")).to_have_text("Saved.")
    expect(save.get_by_label("the next version of Poems")).to_be_checked()
    save.get_by_label("Note (optional)").fill("rhymes")
    save.get_by_role("button", name="Save").click()
    expect(save.get_by_role("status")).to_contain_text("Saved as Poems v2.")

    save.get_by_role("link", name="See its versions").click()
    expect(page.get_by_role("heading", name="Poems")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("v1 first try"))).to_be_visible()
    page.get_by_role("button", name="Compare").click()
    old, new = page.locator(".compare tbody tr").first.locator("td").all()
    expect(old.locator("del")).to_have_text(["short"])
    expect(new.locator("ins")).to_have_text(["long,", "rhyming"])

    page.get_by_role("link", name="‹ Poems").click()
    page.get_by_role("button", name="New conversation from v1").click()
    expect(page.get_by_role("heading", name="Poems v1")).to_be_visible()
    prompt = page.get_by_label("System prompt")
    expect(prompt).to_have_value("You write short poems about {{topic}}.")
    expect(page.get_by_label("topic", exact=True)).to_have_value("the sea")
