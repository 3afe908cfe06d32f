"""Export JSON, then Import, as a person does it: the other version comes back with its arrows."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import answers, wait_until_answered

pytestmark = pytest.mark.browser


def test_an_exported_conversation_imports_with_its_versions(logged_in_page):
    page = logged_in_page
    box = page.get_by_label("Message", exact=True)
    box.fill("Tell me about lighthouses [[sim:tokens=12]]")
    box.press("Enter")
    wait_until_answered(page)
    content = answers(page).locator(".message__content")
    first = content.inner_text()
    page.get_by_role("button", name="Regenerate").click()
    expect(answers(page)).to_contain_text("Version 2 of 2")
    wait_until_answered(page)
    second = content.inner_text()
    assert second != first  # no seed: each answer of the simulator is new
    original = page.url

    with page.expect_download() as download:
        page.get_by_role("link", name="Export JSON").click()
    page.get_by_role("link", name="Import", exact=True).click()
    page.get_by_label("JSON file").set_input_files(download.value.path())
    page.get_by_role("button", name="Import").click()

    expect(page).to_have_url(re.compile(r"/conversations/\d+/$"))
    assert page.url != original
    expect(answers(page)).to_have_count(1)
    expect(answers(page)).to_contain_text("Version 2 of 2")
    expect(content).to_have_text(second)
    answers(page).get_by_role("button", name="Previous version").click()
    expect(answers(page)).to_contain_text("Version 1 of 2")
    expect(content).to_have_text(first)
