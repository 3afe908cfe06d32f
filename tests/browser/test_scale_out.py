"""Two workers, one Redis, one PostgreSQL (as two machines behind a load balancer would be):
an answer started in a tab on worker 1 streams in a tab on worker 2, which a reload rejoins and
whose Stop reaches it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.backends import redis_and_postgres
from tests.browser.conftest import (
    LiveServer,
    answers,
    closed_without_csp_violations,
    log_in,
    start_daphne,
    wait_until_connected,
    watch_csp,
)
from tests.browser.test_live import grows, send
from tests.servers import serve_daphne, site_environment, stop_process

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def two_workers(simulator, tmp_path_factory) -> Iterator[tuple[LiveServer, LiveServer]]:
    var_dir = tmp_path_factory.mktemp("hexplay-workers")
    with redis_and_postgres() as backends:
        env = site_environment(var_dir, simulator.base_url) | backends
        first, first_port = start_daphne(env, var_dir / "worker-1.log")
        second, second_port = serve_daphne(env, var_dir / "worker-2.log")
        yield (
            LiveServer(url=f"http://127.0.0.1:{first_port}", pid=first.pid),
            LiveServer(url=f"http://127.0.0.1:{second_port}", pid=second.pid),
        )
        stop_process(second)
        stop_process(first)


def test_a_tab_on_another_worker_sees_the_answer_stream_and_stops_it(
    browser, two_workers, simulator
):
    worker_1, worker_2 = two_workers
    context = browser.new_context(base_url=worker_1.url)
    context.set_default_timeout(10_000)
    violations = watch_csp(context)
    page = context.new_page()
    log_in(page, worker_1)  # the session is in PostgreSQL: both workers know it
    other = context.new_page()
    other.goto(page.url.replace(worker_1.url, worker_2.url))
    wait_until_connected(other)
    requests_before = len(simulator.requests)

    send(page, "Tell me about tides [[sim:tokens=400]] [[sim:rate=40]]")
    expect(other.get_by_role("article", name="User message")).to_contain_text("tides")
    grows(other)
    # A reload on worker 2 rejoins the answer streaming on worker 1.
    other.reload()
    wait_until_connected(other)
    expect(answers(other).last).to_have_attribute("aria-busy", "true")
    grows(other)
    other.get_by_role("button", name="Stop", exact=True).click()

    # The upstream request, made by worker 1, was closed.
    simulator.wait_for(lambda r: r.disconnected, 10.0)
    assert len(simulator.requests) == requests_before + 1
    for tab in (page, other):
        expect(answers(tab).last).to_contain_text("Stopped: the answer above is what arrived")
        expect(tab.get_by_role("button", name="Send", exact=True)).to_be_enabled()
    shown = answers(page).last.locator(".message__content").inner_text()
    assert answers(other).last.locator(".message__content").inner_text() == shown
    closed_without_csp_violations(context, violations)
