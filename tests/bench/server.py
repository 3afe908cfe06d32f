"""Server-side figures: HexPlay's websocket read by a client (the `websockets` library) beside
the simulator read directly (httpx), one conversation at a time and 1, 10, 50 and 100 at once.

Every time is `time.time()`, the clock the simulator notes its writes with, so per chunk the
delay is "text at the client" minus "text into the simulator's socket" without a relay.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from tests.bench.processes import MODEL, SimulatorLog, Upstream, cpu_seconds, prompt, tag_of
from tests.bench.site import Site
from tests.bench.timing import Seen, Timed, js_length, p50, p99, timed

RATE = 100  # chunks per second for the paced answers
PACED = f"[[sim:tokens=200]] [[sim:rate={RATE}]]"
FULL = "[[sim:tokens=1677]]"
LEVELS = (1, 10, 50, 100)  # conversations at once
TURN_TIMEOUT = 60.0  # no single answer may take longer

# The protocol the page speaks: text comes as JSON frames {"append": [[element id, text], …]}
# (playground.fragments.pieces); the answer is over when the composer is no longer busy.
CONTENT = re.compile(r"message-\d+-content")
ANSWER_DONE = re.compile(r'id="composer-buttons"[^>]*data-busy="false"')


@dataclass
class Turn:
    """One answer as a client saw it, and the websocket traffic it took."""

    tag: str
    seen: Seen
    text: str = ""
    messages: int = 0
    wire_bytes: int = 0


async def open_socket(site: Site, pk: int) -> ClientConnection:
    # Like the page: the session cookie and an Origin that AllowedHostsOriginValidator accepts.
    # No compression (daphne offers none anyway) and no pings, so nothing but answers is read.
    return await connect(
        f"ws://127.0.0.1:{site.port_for(pk)}/ws/conversations/{pk}/",
        origin=site.url,
        additional_headers={"Cookie": site.cookie},
        compression=None,
        proxy=None,
        ping_interval=None,
        max_size=None,
        open_timeout=30,
    )


def _frame_bytes(payload: int) -> int:
    """An unmasked server frame's size on the wire (RFC 6455 header + payload)."""
    return payload + (2 if payload < 126 else 4 if payload < 65536 else 10)


async def socket_turn(socket: ClientConnection, hooks: str) -> Turn:
    text = prompt(hooks)
    turn = Turn(tag_of(text), Seen(time.time()))
    pieces: list[str] = []
    length = 0
    await socket.send(json.dumps({"message": text}))
    async with asyncio.timeout(TURN_TIMEOUT):
        while True:
            message = await socket.recv()
            now = time.time()
            assert isinstance(message, str)
            turn.messages += 1
            turn.wire_bytes += _frame_bytes(len(message.encode()))
            found = [
                text
                for target, text in (json.loads(message)["append"] if message[:1] == "{" else [])
                if CONTENT.fullmatch(target)
            ]
            if found:
                pieces.extend(found)
                length += sum(js_length(piece) for piece in found)
                turn.seen.shown.append((now, length))
            if ANSWER_DONE.search(message):
                break
    turn.text = "".join(pieces)
    return turn


async def warmed_sockets(site: Site, count: int) -> list[ClientConnection]:
    """Sockets on fresh conversations, each after one tiny answer (its upstream connection open).

    Warmed, so the first measured answer does not pay for a new TCP connection to the simulator.
    """
    sockets = [await open_socket(site, pk) for pk in site.take(count)]
    await asyncio.gather(*(socket_turn(s, "[[sim:tokens=1]]") for s in sockets))
    return sockets


class ContentEvents:
    """Finds content deltas in SSE bytes as they arrive; `length` counts their text so far."""

    def __init__(self) -> None:
        self.buffer = b""
        self.length = 0

    def feed(self, data: bytes) -> bool:
        self.buffer += data
        *events, self.buffer = self.buffer.split(b"\n\n")
        found = False
        for event in events:
            start = event.find(b"data: {")
            if start == -1 or b'"content"' not in event:
                continue
            for choice in json.loads(event[start + 6 :]).get("choices") or []:
                text = (choice.get("delta") or {}).get("content")
                if text:
                    self.length += js_length(text)
                    found = True
        return found


async def direct_turn(client: httpx.AsyncClient, site: Site, hooks: str) -> Turn:
    text = prompt(hooks)
    body = {"model": MODEL, "messages": [{"role": "user", "content": text}], "stream": True}
    turn = Turn(tag_of(text), Seen(time.time()))
    events = ContentEvents()
    url = f"{site.sim_url}/v1/chat/completions"
    async with client.stream("POST", url, json=body) as response:
        async for data in response.aiter_bytes():
            now = time.time()
            if events.feed(data):
                turn.seen.shown.append((now, events.length))
    return turn


@dataclass
class Batch:
    """Answers and what the simulator did for each; the app server's CPU over them."""

    turns: list[Turn]
    upstream: dict[str, Upstream]
    cpu: float = 0.0
    errors: list[str] = field(default_factory=list)

    def timings(self) -> list[Timed]:
        return [timed(t.seen, self.upstream[t.tag]) for t in self.turns if t.tag in self.upstream]


def figures(batch: Batch, *, hexplay: bool) -> dict[str, Any]:
    timings = batch.timings()
    latencies = [ms for t in timings for ms in t.latencies_ms]
    result = {
        "answers": len(batch.turns),
        "first_token_ms_p50": p50(t.first_ms for t in timings if t.first_ms is not None),
        "first_token_ms_p99": p99(t.first_ms for t in timings if t.first_ms is not None),
        "request_ms_p50": p50(t.request_ms for t in timings),
        "added_chunk_ms_p50": p50(latencies),
        "added_chunk_ms_p99": p99(latencies),
        "chunks_timed": len(latencies),
        "chars_per_s_p50": p50(t.chars_per_s for t in timings if t.chars_per_s is not None),
        "errors": batch.errors,
    }
    if hexplay:
        answer_bytes = sum(len(t.text.encode()) for t in batch.turns)
        result |= {
            "server_cpu_s_per_answer": batch.cpu / len(batch.turns) if batch.turns else None,
            "websocket_messages_per_answer": sum(t.messages for t in batch.turns)
            / max(1, len(batch.turns)),
            "websocket_bytes_per_answer_byte": sum(t.wire_bytes for t in batch.turns)
            / max(1, answer_bytes),
        }
    return result


def check(batch: Batch) -> None:
    """Note answers that failed, or whose text differs from what the simulator wrote."""
    for turn in batch.turns:
        upstream = batch.upstream.get(turn.tag)
        if upstream is None:
            batch.errors.append(f"{turn.tag}: no request reached the simulator")
        elif turn.text and turn.text != upstream.text:
            batch.errors.append(f"{turn.tag}: the text differs from the simulator's")


async def hexplay_batch(site: Site, log: SimulatorLog, hooks: str, count: int, *, together: bool):
    sockets = await warmed_sockets(site, count)
    log.clear()
    before = sum(cpu_seconds(pid) for pid in site.pids)
    if together:
        results = await asyncio.gather(
            *(socket_turn(s, hooks) for s in sockets), return_exceptions=True
        )
    else:
        results = [await socket_turn(s, hooks) for s in sockets]
    cpu = sum(cpu_seconds(pid) for pid in site.pids) - before
    await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)
    turns = [r for r in results if isinstance(r, Turn)]
    errors = [repr(r) for r in results if not isinstance(r, Turn)]
    batch = Batch(turns, log.by_tag(), cpu, errors)
    check(batch)
    return batch


async def direct_batch(site: Site, log: SimulatorLog, client: httpx.AsyncClient, hooks: str):
    log.clear()
    turns = [await direct_turn(client, site, hooks) for _ in range(3)]
    return Batch(turns, log.by_tag())


async def run(site: Site, log: SimulatorLog) -> dict[str, Any]:
    """The websocket-client figures: one conversation paced and at full speed; then many."""
    result: dict[str, Any] = {}
    async with httpx.AsyncClient(timeout=TURN_TIMEOUT) as client:
        # Warm both paths (imports, templates, connection pools) before measuring anything.
        await direct_turn(client, site, "[[sim:tokens=20]]")
        for socket in await warmed_sockets(site, 1):
            await socket_turn(socket, "[[sim:tokens=20]]")
            await socket.close()
        for name, hooks in (("paced", PACED), ("full", FULL)):
            direct = await direct_batch(site, log, client, hooks)
            hexplay = await hexplay_batch(site, log, hooks, 3, together=False)
            result[name] = {
                "direct": figures(direct, hexplay=False),
                "hexplay": figures(hexplay, hexplay=True),
            }
    result["concurrent"] = await concurrent(site, log)
    return result


async def concurrent(site: Site, log: SimulatorLog) -> dict[str, Any]:
    """1, 10, 50 and 100 conversations streaming at once, each its own socket."""
    result = {}
    for level in LEVELS:
        batch = await hexplay_batch(site, log, PACED, level, together=True)
        result[str(level)] = figures(batch, hexplay=True)
    return result
