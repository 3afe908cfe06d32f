"""The simulator's server over real HTTP: auth, status hooks, pacing, disconnects and the log."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

from simulator import Simulator
from tests.simulator.helpers import HI, MAGISTRAL, chat, content_of, deltas, finishes, stream


def test_api_key_is_required_when_set():
    with (
        Simulator(api_key="sk-test").start() as guarded,
        httpx.Client(base_url=guarded.base_url) as client,
    ):
        for headers in ({}, {"authorization": "Bearer wrong"}):
            response = client.post("/chat/completions", json={"messages": HI}, headers=headers)
            assert response.status_code == 401 and response.json() == {"error": "Unauthorized"}
        assert client.get("/models").status_code == 401
        ok = client.post(
            "/chat/completions", json={"messages": HI}, headers={"authorization": "Bearer sk-test"}
        )
        assert ok.status_code == 200
        assert [r.status for r in guarded.requests] == [401, 401, 200]


@pytest.mark.parametrize("streaming", [False, True])
@pytest.mark.parametrize(
    ("status", "error_type"), [(503, "ServiceUnavailableError"), (500, "InternalServerError")]
)
def test_status_hook_fails_with_vllms_error_json(client, streaming, status, error_type):
    response = chat(
        client,
        stream=streaming,
        messages=[{"role": "user", "content": f"Hi [[sim:status={status}]]"}],
    )
    assert response.status_code == status
    error = response.json()["error"]
    assert error["type"] == error_type and error["code"] == status
    assert error["message"] == f"The simulator was asked to fail with {status}"


def test_rate_hook_and_setting_pace_the_chunks(client, sim):
    started = time.monotonic()
    stream(client, messages=[{"role": "user", "content": "Go [[sim:tokens=4]] [[sim:rate=20]]"}])
    assert time.monotonic() - started >= 0.25  # 4 tokens and the finish chunk at 20 per second
    sim.first_token_delay = 0.3
    started = time.monotonic()
    stream(client, messages=[{"role": "user", "content": "Go [[sim:tokens=2]]"}])
    assert time.monotonic() - started >= 0.3


def test_disconnect_is_seen_quickly_when_the_client_goes_away_mid_stream(client, sim):
    sim.chunks_per_second = 2  # half a second between chunks
    with client.stream(
        "POST", "/chat/completions", json={"messages": HI, "stream": True}
    ) as response:
        lines = response.iter_lines()
        assert next(lines).startswith("data: ")
        closed_at = time.monotonic()
    record = sim.wait_for(lambda r: r.disconnected, timeout=2)
    assert time.monotonic() - closed_at < 0.5
    assert not record.completed and record.status == 200 and record.chunks_sent < 5


def test_request_log_can_be_read_and_cleared_over_http(client, sim):
    chat(client, seed=9)
    with httpx.Client(base_url=sim.base_url.removesuffix("/v1")) as admin:
        log = admin.get("/_simulator/requests").json()
        assert len(log) == 1
        assert log[0]["body"]["seed"] == 9 and log[0]["path"] == "/v1/chat/completions"
        assert log[0]["status"] == 200 and log[0]["completed"] and not log[0]["disconnected"]
        assert log[0]["headers"]["content-type"] == "application/json"
        assert admin.delete("/_simulator/requests").status_code == 204
        assert admin.get("/_simulator/requests").json() == [] and sim.requests == []
        assert (
            admin.post("/_simulator/config", json={"chunks_per_second": 7}).json()[
                "chunks_per_second"
            ]
            == 7
        )
    assert sim.chunks_per_second == 7


def test_the_log_counts_chunks_and_wait_for_times_out(client, sim):
    events = stream(client)
    assert sim.requests[-1].chunks_sent == len(events) - 1  # every data event but [DONE]
    with pytest.raises(TimeoutError):
        sim.wait_for(lambda r: r.disconnected, timeout=0.05)


def test_a_streamed_answer_records_when_it_arrived_and_each_piece_of_text_went_out(client, sim):
    started = time.time()
    events = stream(client, model=MAGISTRAL, max_tokens=40)
    finished = time.time()
    record = sim.requests[-1]
    writes = record.writes
    # Reasoning, then content, then the last piece riding on the finish chunk (cut by length).
    assert finishes(events)[0]["finish_reason"] == "length" and len(writes) == 40
    streamed = "".join(deltas(events, "reasoning")) + content_of(events)
    assert "".join(text for _, text in writes) == streamed
    times = [moment for moment, _ in writes]
    assert times == sorted(times) and started <= record.received <= times[0] <= finished
    with httpx.Client(base_url=sim.base_url.removesuffix("/v1")) as admin:
        logged = admin.get("/_simulator/requests").json()[-1]
    assert logged["writes"] == [[moment, text] for moment, text in writes]
    assert logged["received"] == record.received

    # Only what was written: hidden reasoning is not, nor an answer sent whole.
    events = stream(client, model=MAGISTRAL, include_reasoning=False)
    assert "".join(text for _, text in sim.requests[-1].writes) == content_of(events)
    chat(client, model=MAGISTRAL)
    assert sim.requests[-1].writes == []


def test_connection_is_kept_alive_across_answers(sim):
    host, port = sim.base_url.removeprefix("http://").removesuffix("/v1").split(":")
    body = json.dumps({"messages": HI, "stream": True}).encode()
    request = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    request += b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        for _ in range(2):
            conn.sendall(request)
            received = b""
            while not received.endswith(b"\r\n0\r\n\r\n"):
                received += conn.recv(65536)
            assert b"transfer-encoding: chunked" in received.lower()
            assert b"data: [DONE]\n\n" in received
        conn.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n")
        assert conn.recv(65536).startswith(b"HTTP/1.1 200")


def test_status_hook_401_answers_like_vllms_auth_middleware(client):
    response = chat(client, messages=[{"role": "user", "content": "Hi [[sim:status=401]]"}])
    assert response.status_code == 401 and response.json() == {"error": "Unauthorized"}


def test_a_slow_answer_without_streaming_notices_the_client_giving_up(client, sim):
    sim.chunks_per_second = 5  # a 60-token answer takes about 12 seconds
    with pytest.raises(httpx.ReadTimeout):
        client.post("/chat/completions", json={"messages": HI}, timeout=0.2)
    gave_up_at = time.monotonic()
    record = sim.wait_for(lambda r: r.disconnected, timeout=2)
    assert time.monotonic() - gave_up_at < 0.5 and record.status == 0


def test_full_speed_streams_well_over_five_thousand_chunks_a_second(sim):
    host, port = sim.base_url.removeprefix("http://").removesuffix("/v1").split(":")
    prompt = [{"role": "user", "content": "Go [[sim:tokens=10000]]"}]
    body = json.dumps({"messages": prompt, "stream": True}).encode()
    request = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    request += b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        started = time.perf_counter()
        conn.sendall(request)
        received = bytearray()
        while not received.endswith(b"\r\n0\r\n\r\n"):
            received += conn.recv(1 << 20)
        elapsed = time.perf_counter() - started
    assert received.count(b"data: ") == 10003  # role, 10,000 tokens, finish, [DONE]
    assert 10000 / elapsed > 5000
