"""Browser fixtures: the simulator, a real daphne on its own database, and Debian's chromium.

Nothing here uses pytest-django's test database: the site runs in a subprocess with its own
SQLite file, so the browser sees exactly what `make run` serves.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from simulator import Simulator
from tests.servers import (
    CHROMIUM_ARGS,
    serve_daphne,
    site_environment,
    stop_process,
)

ROOT = Path(__file__).resolve().parents[2]
USERNAME = "ada"
PASSWORD = "correct horse battery"
STAFF = "grace"  # staff, for the admin; same password


@dataclass(frozen=True)
class LiveServer:
    url: str
    pid: int
    username: str = USERNAME
    password: str = PASSWORD


def start_daphne(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, int]:
    """Migrate, add the users, and serve hexplay.asgi with daphne on a free loopback port."""
    setup = (
        "from django.core.management import call_command\n"
        "from django.contrib.auth import get_user_model\n"
        "call_command('migrate', interactive=False, verbosity=0)\n"
        f"get_user_model().objects.create_user({USERNAME!r}, password={PASSWORD!r})\n"
        f"get_user_model().objects.create_superuser({STAFF!r}, password={PASSWORD!r})\n"
    )
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", setup],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    return serve_daphne(env, log)


@pytest.fixture(scope="session")
def simulator() -> Iterator[Simulator]:
    """Full speed; each test paces its own answer with the [[sim:rate=N]] hook."""
    server = Simulator().start()
    yield server
    server.stop()


# Not called live_server: pytest-django's autouse helper would then ask for its test database.
@pytest.fixture(scope="session")
def live_site(simulator: Simulator, tmp_path_factory) -> Iterator[LiveServer]:
    var_dir = tmp_path_factory.mktemp("hexplay-var")
    env = site_environment(var_dir, simulator.base_url)
    process, port = start_daphne(env, var_dir / "daphne.log")
    yield LiveServer(url=f"http://127.0.0.1:{port}", pid=process.pid)
    stop_process(process)


# Package scope, not session: while Playwright's sync API is alive it leaves its event loop
# marked as running in the main thread, which would break the async tests and Django's
# async-safety checks in every test collected after this folder. One chromium serves the folder.
@pytest.fixture(scope="package")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("Debian's chromium is not installed (make test installs it with apt-get)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture(scope="package")
def login_state(browser, live_site: LiveServer) -> dict:
    """A logged-in session, made once through the login form and reused by later tests."""
    context = browser.new_context(base_url=live_site.url)
    page = context.new_page()
    log_in(page, live_site)
    state = context.storage_state()
    context.close()
    return state


def watch_csp(context) -> list[str]:
    """Every Content-Security-Policy violation in the context's pages, as Chromium reports
    them on the console: each browser test fails on one (see `closed_without_csp_violations`)."""
    violations: list[str] = []
    context.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return violations


def closed_without_csp_violations(context, violations: list[str]) -> None:
    context.close()
    assert not violations, f"the page broke its Content-Security-Policy: {violations}"


@pytest.fixture
def page(browser, live_site: LiveServer):
    """A fresh page, not logged in."""
    context = browser.new_context(base_url=live_site.url)
    context.set_default_timeout(10_000)
    violations = watch_csp(context)
    yield context.new_page()
    closed_without_csp_violations(context, violations)


@pytest.fixture
def logged_in_page(browser, live_site: LiveServer, login_state: dict):
    """A fresh page, logged in, on a new conversation of its own."""
    context = browser.new_context(base_url=live_site.url, storage_state=login_state)
    context.set_default_timeout(10_000)
    violations = watch_csp(context)
    page = context.new_page()
    page.goto("/")
    page.get_by_role("button", name="New conversation").click()
    wait_until_connected(page)
    yield page
    closed_without_csp_violations(context, violations)


def log_in(page, server: LiveServer) -> None:
    from playwright.sync_api import expect

    page.goto("/")
    expect(page.get_by_role("heading", name="Log in to HexPlay")).to_be_visible()
    page.get_by_label("User name").fill(server.username)
    page.get_by_label("Password").fill(server.password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/conversations/\d+/$"))


def wait_until_connected(page) -> None:
    """The page says the websocket is open; until then Send would queue the message."""
    from playwright.sync_api import expect

    expect(page.get_by_role("status").filter(has_text="Connected")).to_be_visible()


def answers(page):
    return page.get_by_role("article", name="Assistant message")


def wait_until_answered(page) -> None:
    """The last answer shows its stats, so it is finished (Send is enabled before it starts)."""
    from playwright.sync_api import expect

    expect(answers(page).last.locator(".stats")).to_be_visible()
    expect(page.locator("[aria-busy=true]")).to_have_count(0)
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_enabled()
