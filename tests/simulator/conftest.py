"""One simulator per test module, reset for each test, and an HTTP client for it."""

from __future__ import annotations

import httpx
import pytest

from simulator import Simulator


@pytest.fixture(scope="module")
def server():
    simulator = Simulator().start()
    yield simulator
    simulator.stop()


@pytest.fixture
def sim(server):
    server.requests.clear()
    server.chunks_per_second = 0.0
    server.first_token_delay = 0.0
    return server


@pytest.fixture
def client(sim):
    with httpx.Client(base_url=sim.base_url, timeout=10) as client:
        yield client
