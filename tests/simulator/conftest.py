"""The session's simulator, reset for each test, and an HTTP client for it."""

from __future__ import annotations

import httpx
import pytest


@pytest.fixture
def sim(simulator_server):
    """Without Django's settings: the simulator is tested as the server it stands in for."""
    simulator_server.requests.clear()
    simulator_server.chunks_per_second = 0.0
    simulator_server.first_token_delay = 0.0
    simulator_server.mistral_api = False
    return simulator_server


@pytest.fixture
def client(sim):
    with httpx.Client(base_url=sim.base_url, timeout=10) as client:
        yield client
