"""The streaming benchmark: the simulator read directly beside the same answers through HexPlay.

Run with `make bench` (`.venv/bin/python -m tests.bench`). Everything runs on loopback in a
temporary var dir: the simulator (in a process of its own), a real daphne
serving hexplay.asgi, and in this process the clients, a small timestamping TCP relay, and the
page timing. Prints one table and writes the figures to var/bench.json.

How added latency is measured: the "simulator" connection points at a relay in this process
that forwards the simulator's bytes to daphne untouched and notes when each content chunk
passes; the websocket client notes when the text of that chunk is on the page. Both clocks are
this process's `perf_counter`, so chunk by chunk the difference is what daphne, the consumer
and the websocket add (the relay's own forwarding included), with no drift between two runs.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import contextlib
import hashlib
import html
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.servers import free_port, site_environment, wait_for_port

ROOT = Path(__file__).resolve().parents[1]
MODEL = "mistralai/Mistral-Small-3.2-24B-Instruct-2506"
RATE = 100  # chunks per second for the paced runs
CONCURRENT = 50
TURN_TIMEOUT = 60.0  # no single answer may take longer; every wait below is bounded too

# Targets printed beside the figures.
TARGET_FIRST_TOKEN_MS = 30.0
TARGET_ADDED_P50_MS = 2.0
TARGET_CHARS_PER_SECOND = 100_000

DELTA = re.compile(r'<span id="message-\d+-content" hx-swap-oob="beforeend">(.*?)</span>', re.S)
ANSWER_DONE = re.compile(r'id="composer-buttons"[^>]*data-busy="false"')
TAG = re.compile(rb"bench-([0-9a-f]{12})")


# --- Processes ---------------------------------------------------------------------------------


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (clock ticks, usually 10 ms)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- A minimal websocket client (RFC 6455: masked text frames out, any frames in) --------------


class WebSocket:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int, path: str, headers: dict[str, str]) -> WebSocket:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: 127.0.0.1:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)).decode("latin-1")
        guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
        accept = base64.b64encode(hashlib.sha1((key + guid).encode()).digest()).decode()
        if not head.startswith("HTTP/1.1 101") or accept not in head:
            raise ConnectionError(f"websocket refused: {head.splitlines()[0]}")
        return cls(reader, writer)

    async def send_text(self, text: str) -> None:
        self._send_frame(0x1, text.encode())
        await self.writer.drain()

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        size = len(payload)
        if size < 126:
            header = bytes([0x80 | opcode, 0x80 | size])
        elif size < 65536:
            header = bytes([0x80 | opcode, 0x80 | 126]) + size.to_bytes(2, "big")
        else:
            header = bytes([0x80 | opcode, 0x80 | 127]) + size.to_bytes(8, "big")
        mask = os.urandom(4)
        self.writer.write(header + mask + _xor(payload, mask))

    async def receive(self) -> tuple[str, int]:
        """The next text message and how many bytes it took on the wire."""
        parts: list[bytes] = []
        wire = 0
        while True:
            first, second = await self.reader.readexactly(2)
            wire += 2
            size = second & 0x7F
            if size >= 126:
                extra = 2 if size == 126 else 8
                size = int.from_bytes(await self.reader.readexactly(extra), "big")
                wire += extra
            mask = await self.reader.readexactly(4) if second & 0x80 else b""
            payload = await self.reader.readexactly(size)
            wire += len(mask) + size
            if mask:
                payload = _xor(payload, mask)
            opcode = first & 0x0F
            if opcode == 0x8:
                raise ConnectionError("the server closed the websocket")
            if opcode == 0x9:
                self._send_frame(0xA, payload)
                continue
            if opcode in (0x0, 0x1, 0x2):
                parts.append(payload)
                if first & 0x80:
                    return b"".join(parts).decode(), wire

    async def close(self) -> None:
        with contextlib.suppress(ConnectionError):
            self._send_frame(0x8, (1000).to_bytes(2, "big"))
            await self.writer.drain()
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


def _xor(data: bytes, mask: bytes) -> bytes:
    size = len(data)
    key = (mask * (size // 4 + 1))[:size]
    return (int.from_bytes(data, "big") ^ int.from_bytes(key, "big")).to_bytes(size, "big")


# --- Reading the simulator's stream ------------------------------------------------------------


class ContentEvents:
    """Finds content deltas in SSE bytes (raw HTTP/1.1 chunked framing is fine) as they pass."""

    def __init__(self) -> None:
        self.buffer = b""
        self.chars = 0
        self.chunks = 0

    def feed(self, data: bytes) -> int:
        """How many content chunks completed in `data`; `chars` counts their text so far."""
        self.buffer += data
        *events, self.buffer = self.buffer.split(b"\n\n")
        found = 0
        for event in events:
            start = event.find(b"data: {")
            if start == -1 or b'"content"' not in event:
                continue
            chunk = json.loads(event[start + 6 :])
            for choice in chunk.get("choices") or []:
                text = (choice.get("delta") or {}).get("content")
                if text:
                    self.chars += len(text)
                    self.chunks += 1
                    found += 1
        return found


@dataclass
class Passage:
    """What the relay saw of one request: when each content chunk went by, cumulatively."""

    request_at: float
    times: list[float] = field(default_factory=list)
    chars: list[int] = field(default_factory=list)


class Relay:
    """A TCP relay to the simulator that timestamps content chunks on their way to daphne.

    Requests are told apart by a tag in the last user message (the last one in the body).
    """

    def __init__(self, listener: socket.socket, target_port: int) -> None:
        self.listener = listener
        self.target_port = target_port
        self.passages: dict[str, Passage] = {}
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, sock=self.listener)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2)

    async def _serve(self, down_r: asyncio.StreamReader, down_w: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            down_w.close()
            return
        state: dict[str, Any] = {"request": b"", "tag": None, "events": None}

        async def upstream() -> None:
            while data := await down_r.read(65536):
                up_w.write(data)
                state["request"] += data
                tags = TAG.findall(state["request"])
                if tags and state["tag"] != tags[-1].decode():
                    state["tag"] = tags[-1].decode()
                    self.passages[state["tag"]] = Passage(time.perf_counter())
                    state["events"] = ContentEvents()
                await up_w.drain()
            up_w.close()

        async def downstream() -> None:
            while data := await up_r.read(65536):
                down_w.write(data)
                now = time.perf_counter()
                state["request"] = b""
                events = state["events"]
                if events is not None and events.feed(data):
                    passage = self.passages[state["tag"]]
                    passage.times.append(now)
                    passage.chars.append(events.chars)
                await down_w.drain()
            down_w.close()

        with contextlib.suppress(ConnectionError, OSError):
            await asyncio.gather(upstream(), downstream())
        for writer in (up_w, down_w):
            writer.close()


@dataclass
class Turn:
    """One answer as a client saw it: times are seconds after the request or Send."""

    first: float | None = None
    last: float = 0.0
    chars: int = 0
    chunks: int = 0
    text_bytes: int = 0
    wire_bytes: int = 0
    messages: int = 0
    started_at: float = 0.0
    # Absolute perf_counter times at which the text reached each cumulative length.
    arrivals: list[float] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    tag: str = ""


async def direct_turn(client: Any, sim_url: str, text: str) -> Turn:
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": text}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    turn = Turn()
    events = ContentEvents()
    started = turn.started_at = time.perf_counter()
    async with client.stream("POST", f"{sim_url}/chat/completions", json=body) as response:
        async for data in response.aiter_bytes():
            found = events.feed(data)
            if found:
                now = time.perf_counter() - started
                turn.first = now if turn.first is None else turn.first
                turn.last = now
    turn.chars, turn.chunks = events.chars, events.chunks
    return turn


async def hexplay_turn(socket_: WebSocket, text: str) -> Turn:
    turn = Turn(tag=tag_of(text))
    answer: list[str] = []
    started = turn.started_at = time.perf_counter()
    deadline = started + TURN_TIMEOUT
    await socket_.send_text(json.dumps({"message": text}))
    while True:
        message, wire = await asyncio.wait_for(socket_.receive(), deadline - time.perf_counter())
        now = time.perf_counter()
        turn.wire_bytes += wire
        turn.messages += 1
        pieces = [html.unescape(found) for found in DELTA.findall(message)]
        if pieces:
            answer.extend(pieces)
            turn.chars += sum(len(piece) for piece in pieces)
            turn.first = now - started if turn.first is None else turn.first
            turn.last = now - started
            turn.arrivals.append(now)
            turn.lengths.append(turn.chars)
        if ANSWER_DONE.search(message):
            break
    turn.text_bytes = len("".join(answer).encode())
    return turn


def tag_of(text: str) -> str:
    found = TAG.search(text.encode())
    return found.group(1).decode() if found else ""


def prompt(hooks: str) -> str:
    """A message with a unique tag, so the relay can tell which request carries it."""
    return f"Tell me about tides bench-{uuid.uuid4().hex[:12]} {hooks}"


def added_latencies(turn: Turn, passage: Passage | None) -> list[float]:
    """Per chunk: page arrival of its text minus the moment it left the simulator (ms)."""
    if passage is None:
        return []
    found = []
    for passed, length in zip(passage.times, passage.chars, strict=True):
        index = bisect.bisect_left(turn.lengths, length)
        if index < len(turn.arrivals):
            found.append((turn.arrivals[index] - passed) * 1000)
    return found


# --- Statistics --------------------------------------------------------------------------------


def percentile(values: Iterable[float], share: float) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    index = min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))
    return ordered[index]


def rate(amount: float, seconds: float) -> float:
    return amount / seconds if seconds > 0 else 0.0


def throughput(turns: list[Turn]) -> tuple[float, float]:
    """(chunks/s, characters/s) from the earliest start to the latest last chunk."""
    begin = min(t.started_at for t in turns)
    end = max(t.started_at + t.last for t in turns)
    chunks = sum(t.chunks for t in turns)
    return rate(chunks, end - begin), rate(sum(t.chars for t in turns), end - begin)


# --- The runs ----------------------------------------------------------------------------------


@dataclass
class Site:
    port: int
    pid: int
    cookie: str
    sim_url: str
    relay: Relay
    conversations: dict[str, list[int]]

    def take(self, connection: str, count: int) -> list[int]:
        pool = self.conversations[connection]
        taken, self.conversations[connection] = pool[:count], pool[count:]
        return taken

    async def sockets(self, connection: str, count: int) -> list[WebSocket]:
        headers = {"Origin": f"http://127.0.0.1:{self.port}", "Cookie": self.cookie}
        return [
            await WebSocket.connect(self.port, f"/ws/conversations/{pk}/", headers)
            for pk in self.take(connection, count)
        ]


async def sequential(make: Callable[[], Awaitable[Turn]], count: int) -> list[Turn]:
    return [await make() for _ in range(count)]


async def warmed_sockets(site: Site, connection: str, count: int) -> list[WebSocket]:
    """Sockets on fresh conversations, each after one tiny answer (its upstream connection open).

    Fresh, so the request HexPlay sends is as small as the direct one; warmed, so the first
    measured answer does not pay for a new TCP connection to the simulator.
    """
    sockets = await site.sockets(connection, count)
    await asyncio.gather(*(hexplay_turn(s, prompt("[[sim:tokens=1]]")) for s in sockets))
    return sockets


async def hexplay_turns(
    site: Site, connection: str, hooks: str, count: int, *, together: bool
) -> tuple[list[Turn], float]:
    """`count` answers on warmed sockets, one after another or all at once; daphne's CPU."""
    sockets = await warmed_sockets(site, connection, count)
    before = cpu_seconds(site.pid)
    if together:
        turns = list(await asyncio.gather(*(hexplay_turn(s, prompt(hooks)) for s in sockets)))
    else:
        turns = [await hexplay_turn(s, prompt(hooks)) for s in sockets]
    cpu = cpu_seconds(site.pid) - before
    await asyncio.gather(*(s.close() for s in sockets))
    return turns, cpu


async def fresh_turn(site: Site, connection: str, hooks: str) -> Turn:
    [socket_] = await warmed_sockets(site, connection, 1)
    try:
        return await hexplay_turn(socket_, prompt(hooks))
    finally:
        await socket_.close()


async def run_all(site: Site) -> dict[str, Any]:
    import httpx

    await site.relay.start()
    figures: dict[str, Any] = {}
    paced = f"[[sim:rate={RATE}]]"
    limits = httpx.Limits(max_connections=CONCURRENT + 10)
    async with httpx.AsyncClient(timeout=TURN_TIMEOUT, limits=limits) as client:

        def direct(hooks: str) -> Callable[[], Awaitable[Turn]]:
            return lambda: direct_turn(client, site.sim_url, prompt(hooks))

        # Warm both paths (imports, templates, connection pools) before measuring anything.
        for connection in ("simulator", "direct"):
            await fresh_turn(site, connection, "[[sim:tokens=20]]")
        await direct("[[sim:tokens=20]]")()

        # One conversation at 100 chunks/s (through the relay, for per-chunk latency).
        hooks = f"[[sim:tokens=200]] {paced}"
        d_paced = await sequential(direct(hooks), 3)
        h_paced, cpu = await hexplay_turns(site, "simulator", hooks, 3, together=False)
        figures["single_paced"] = summarize(d_paced, h_paced, site, cpu)

        # One conversation at full speed, straight to the simulator.
        d_full = await sequential(direct("[[sim:tokens=2000]]"), 3)
        h_full, cpu = await hexplay_turns(site, "direct", "[[sim:tokens=2000]]", 3, together=False)
        figures["single_full"] = summarize(d_full, h_full, site, cpu)

        # Websocket bytes per byte of answer, short and long, at both speeds.
        answers = {
            "paced_50": await fresh_turn(site, "simulator", f"[[sim:tokens=50]] {paced}"),
            "paced_200": h_paced[-1],
            "full_50": await fresh_turn(site, "direct", "[[sim:tokens=50]]"),
            "full_2000": h_full[-1],
        }

        # Fifty conversations at once, each its own websocket.
        for name, connection, hooks in (
            ("concurrent_paced", "simulator", f"[[sim:tokens=200]] {paced}"),
            ("concurrent_full", "direct", "[[sim:tokens=500]]"),
        ):
            d_many = await asyncio.gather(*(direct(hooks)() for _ in range(CONCURRENT)))
            h_many, cpu = await hexplay_turns(site, connection, hooks, CONCURRENT, together=True)
            figures[name] = summarize(list(d_many), h_many, site, cpu)
    await site.relay.close()
    figures["bytes"] = {
        name: {
            "answer_bytes": turn.text_bytes,
            "websocket_bytes": turn.wire_bytes,
            "websocket_messages": turn.messages,
            "ratio": rate(turn.wire_bytes, turn.text_bytes),
        }
        for name, turn in answers.items()
    }
    return figures


def summarize(direct: list[Turn], hexplay: list[Turn], site: Site, cpu: float) -> dict[str, Any]:
    # HexPlay's chunk count is the simulator's: same hooks, same number of content chunks.
    for turn, twin in zip(hexplay, direct, strict=False):
        turn.chunks = twin.chunks
    d_chunks, d_chars = throughput(direct)
    h_chunks, h_chars = throughput(hexplay)
    added = [
        ms for turn in hexplay for ms in added_latencies(turn, site.relay.passages.get(turn.tag))
    ]
    d_first = [t.first * 1000 for t in direct if t.first is not None]
    h_first = [t.first * 1000 for t in hexplay if t.first is not None]
    # Through the relay the first token splits in two: Send until the request leaves daphne,
    # and the simulator's own time; and the relay shows the simulator's pace during the turn.
    passages = [(t, site.relay.passages.get(t.tag)) for t in hexplay]
    passages = [(t, p) for t, p in passages if p is not None and p.times]
    before_request = [(p.request_at - t.started_at) * 1000 for t, p in passages]
    relay_rate = None
    if passages:
        begin = min(p.request_at for _, p in passages)
        relay_rate = rate(
            sum(t.chunks for t, _ in passages), max(p.times[-1] for _, p in passages) - begin
        )
    return {
        "turns": len(hexplay),
        "direct_chunks_per_s": d_chunks,
        "direct_chars_per_s": d_chars,
        "hexplay_chunks_per_s": h_chunks,
        "hexplay_chars_per_s": h_chars,
        "direct_first_token_ms_p50": percentile(d_first, 0.5),
        "hexplay_first_token_ms_p50": percentile(h_first, 0.5),
        "hexplay_first_token_ms_p99": percentile(h_first, 0.99),
        "added_first_token_ms_p50": _difference(percentile(h_first, 0.5), percentile(d_first, 0.5)),
        "added_chunk_ms_p50": percentile(added, 0.5),
        "added_chunk_ms_p99": percentile(added, 0.99),
        "chunks_timed": len(added),
        "send_to_upstream_request_ms_p50": percentile(before_request, 0.5),
        "upstream_chunks_per_s_at_relay": relay_rate,
        "server_cpu_ms_per_turn": cpu * 1000 / len(hexplay),
        "server_cpu_us_per_chunk": rate(cpu * 1e6, sum(t.chunks for t in hexplay)),
        "websocket_messages_per_turn": statistics.mean(t.messages for t in hexplay),
    }


def _difference(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


# --- Setting up: database, user, conversations; the stored page --------------------------------


def prepare_database(sim_url: str) -> tuple[str, dict[str, list[int]]]:
    """Migrate the temp database; a user, a session cookie and fresh conversations."""
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    from django.contrib.auth import get_user_model
    from django.test import Client

    from playground.models import Conversation, UpstreamConnection

    user = get_user_model().objects.create_user("bench", password="bench-bench-bench")
    UpstreamConnection.objects.create(
        slug="direct", name="Simulator (no relay)", base_url=sim_url, default_model=MODEL
    )
    pools: dict[str, list[int]] = {}
    for slug in ("simulator", "direct"):
        made = Conversation.objects.bulk_create(
            Conversation(owner=user, connection=slug, model=MODEL) for _ in range(CONCURRENT + 20)
        )
        pools[slug] = [c.pk for c in made]
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}", pools


def stored_page(count: int = 1000, repeat: int = 7) -> dict[str, Any]:
    """Server time and SQL queries of a conversation page holding `count` messages."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from playground.markdown import render_markdown
    from playground.models import Conversation, Message

    user = get_user_model().objects.get(username="bench")
    conversation = Conversation.objects.create(owner=user, connection="direct", model=MODEL)
    answer = "Tides rise and fall twice a day.\n\n- the **moon** pulls\n- the sun helps\n\n`code`"
    answer_html = render_markdown(answer)
    first_id = (Message.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    rows = []
    for i in range(count):
        user_turn = i % 2 == 0
        rows.append(
            Message(
                pk=first_id + i,
                conversation=conversation,
                parent_id=first_id + i - 1 if i else None,
                role="user" if user_turn else "assistant",
                content=f"Question {i} about tides?" if user_turn else answer,
                content_html="" if user_turn else answer_html,
                model="" if user_turn else MODEL,
                usage=None if user_turn else {"prompt_tokens": 20, "completion_tokens": 30},
                time_to_first_token_ms=None if user_turn else 12.0,
                duration_ms=None if user_turn else 300.0,
                tokens_per_second=None if user_turn else 100.0,
                finish_reason="" if user_turn else "stop",
            )
        )
    Message.objects.bulk_create(rows, batch_size=250)
    conversation.current_id = first_id + count - 1
    conversation.save(update_fields=["current"])

    client = Client(HTTP_HOST="127.0.0.1")  # "testserver" is not in ALLOWED_HOSTS
    client.force_login(user)
    url = conversation.get_absolute_url()
    timings = []
    queries = 0
    size = 0
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"the stored page answered {response.status_code}")
        queries, size = len(captured.captured_queries), len(response.content)
    return {
        "messages": count,
        "median_ms": statistics.median(timings[1:]),  # the first request warms caches
        "queries": queries,
        "page_bytes": size,
    }


# --- Output ------------------------------------------------------------------------------------


def report(figures: dict[str, Any]) -> str:
    rows: list[tuple[str, str, str, str]] = []

    def row(label: str, direct: Any = "", hexplay: Any = "", target: str = "") -> None:
        rows.append((label, _fmt(direct), _fmt(hexplay), target))

    def verdict(value: float | None, limit: float, *, at_most: bool) -> str:
        if value is None:
            return "?"
        ok = value <= limit if at_most else value >= limit
        return "ok" if ok else "MISSED"

    for key, title in (
        ("single_paced", f"1 conversation, {RATE} chunks/s"),
        ("single_full", "1 conversation, full speed"),
        ("concurrent_paced", f"{CONCURRENT} conversations, {RATE} chunks/s each"),
        ("concurrent_full", f"{CONCURRENT} conversations, full speed"),
    ):
        f = figures[key]
        rows.append((f"-- {title} ({f['turns']} turns)", "", "", ""))
        note = ""
        if f["upstream_chunks_per_s_at_relay"] is not None:
            note = f"simulator paced {f['upstream_chunks_per_s_at_relay']:.1f}/s in the HexPlay run"
        row("  chunks/s", f["direct_chunks_per_s"], f["hexplay_chunks_per_s"], note)
        chars_target = ""
        if key == "single_full":
            ok = verdict(f["hexplay_chars_per_s"], TARGET_CHARS_PER_SECOND, at_most=False)
            chars_target = f">= {TARGET_CHARS_PER_SECOND:,} ({ok})"
        row("  characters/s", f["direct_chars_per_s"], f["hexplay_chars_per_s"], chars_target)
        first_target = ""
        if key == "single_full":
            ok = verdict(f["hexplay_first_token_ms_p50"], TARGET_FIRST_TOKEN_MS, at_most=True)
            first_target = f"<= {TARGET_FIRST_TOKEN_MS:.0f} ({ok})"
        row(
            "  first token ms p50",
            f["direct_first_token_ms_p50"],
            f["hexplay_first_token_ms_p50"],
            first_target,
        )
        row("  first token ms p99 (HexPlay)", "", f["hexplay_first_token_ms_p99"])
        row("  added first token ms p50", "", f["added_first_token_ms_p50"])
        if f["send_to_upstream_request_ms_p50"] is not None:
            row("    of which Send to upstream request", "", f["send_to_upstream_request_ms_p50"])
        if f["chunks_timed"]:
            added_target = ""
            if key == "single_paced":
                ok = verdict(f["added_chunk_ms_p50"], TARGET_ADDED_P50_MS, at_most=True)
                added_target = f"<= {TARGET_ADDED_P50_MS:.0f} ({ok})"
            label = f"  added ms per chunk p50 ({f['chunks_timed']} chunks)"
            row(label, "", f["added_chunk_ms_p50"], added_target)
            row("  added ms per chunk p99", "", f["added_chunk_ms_p99"])
        row("  websocket messages per turn", "", f["websocket_messages_per_turn"])
        row("  server CPU ms per turn", "", f["server_cpu_ms_per_turn"])
        row("  server CPU us per chunk", "", f["server_cpu_us_per_chunk"])
    rows.append(("-- websocket bytes per byte of answer text", "", "", ""))
    for name, b in figures["bytes"].items():
        speed, tokens = name.split("_")
        label = f"  {tokens} tokens, {'full speed' if speed == 'full' else f'{RATE}/s'}"
        detail = (
            f"{b['websocket_bytes']:,} B / {b['answer_bytes']:,} B, {b['websocket_messages']} msgs"
        )
        rows.append((label, "", f"{b['ratio']:.2f}", detail))
    for speed, short, long in (
        ("paced", "paced_50", "paced_200"),
        ("full", "full_50", "full_2000"),
    ):
        a, b = figures["bytes"][short], figures["bytes"][long]
        extra = rate(
            b["websocket_bytes"] - a["websocket_bytes"], b["answer_bytes"] - a["answer_bytes"]
        )
        where = "full speed" if speed == "full" else f"{RATE}/s"
        rows.append(
            (f"  each further byte of text, {where}", "", f"{extra:.2f}", "bytes (linear part)")
        )
    page = figures["stored_page"]
    rows.append((f"-- stored page, {page['messages']:,} messages", "", "", ""))
    row("  server time ms (median)", "", page["median_ms"])
    row("  SQL queries", "", page["queries"])
    row("  page size KB", "", page["page_bytes"] / 1024)

    widths = [max(len(r[i]) for r in rows + [HEADER]) for i in range(4)]
    lines = [_line(HEADER, widths), _line(tuple("-" * w for w in widths), widths)]
    lines += [_line(r, widths) for r in rows]
    return "\n".join(lines)


HEADER = ("measure", "direct", "HexPlay", "target / note")


def _line(cells: tuple[str, ...], widths: list[int]) -> str:
    return (
        f"{cells[0]:<{widths[0]}}  {cells[1]:>{widths[1]}}  {cells[2]:>{widths[2]}}  {cells[3]}"
    ).rstrip()


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    if isinstance(value, int) or abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.2f}"


def main() -> None:
    started = time.monotonic()
    var_dir = Path(tempfile.mkdtemp(prefix="hexplay-bench-"))
    sim_port = free_port()
    sim_url = f"http://127.0.0.1:{sim_port}/v1"
    # Bound before daphne starts so its address is known; served once the event loop runs.
    relay_socket = socket.create_server(("127.0.0.1", 0))
    relay_url = f"http://127.0.0.1:{relay_socket.getsockname()[1]}/v1"
    env = site_environment(var_dir, relay_url)
    os.environ.update(env)
    for name in ("DATABASE_URL", "SECRET_KEY"):
        os.environ.pop(name, None)
    sys.path.insert(0, str(ROOT))

    python = sys.executable
    simulator = subprocess.Popen(
        # Its own process: in this one it would share the GIL with the clients.
        [python, "manage.py", "simulate_vllm", "--port", str(sim_port), "--quiet"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    daphne = None
    try:
        wait_for_port(sim_port, simulator, "the simulator")
        cookie, pools = prepare_database(sim_url)
        site_port = free_port()
        with (var_dir / "daphne.log").open("wb") as log:
            daphne = subprocess.Popen(
                [python, "-m", "daphne", "-b", "127.0.0.1", "-p", str(site_port)]
                + ["hexplay.asgi:application"],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for_port(site_port, daphne, "daphne")
        site = Site(
            port=site_port,
            pid=daphne.pid,
            cookie=cookie,
            sim_url=sim_url,
            relay=Relay(relay_socket, sim_port),
            conversations=pools,
        )
        figures = asyncio.run(asyncio.wait_for(run_all(site), timeout=150))
        stop(daphne)  # the page is timed in this process, with the CPUs to itself
        stop(simulator)
        figures["stored_page"] = stored_page()
    except BaseException:
        log = var_dir / "daphne.log"
        if log.exists():
            print("daphne's log ends with:\n" + log.read_text()[-3000:], file=sys.stderr)
        raise
    finally:
        if daphne is not None:
            stop(daphne)
        stop(simulator)
        relay_socket.close()
        shutil.rmtree(var_dir, ignore_errors=True)
    figures["seconds"] = time.monotonic() - started
    figures["cpus"] = os.cpu_count()

    print(report(figures))
    print(
        f"\nAdded ms per chunk: when a chunk's text is on the page minus when the simulator's "
        f"bytes for it passed the relay in front of daphne (same clock). Added first token: "
        f"HexPlay's Send-to-first-text minus a direct request's time to its first chunk. "
        f"Server CPU: daphne's user+system time from /proc over the turns. "
        f"Each further byte of text: the slope between the short and the long answer's "
        f"websocket bytes (a constant slope means O(N)). "
        f"{figures['cpus']} CPUs shared by the simulator, daphne and the clients; "
        f"{figures['seconds']:.0f} s in all."
    )
    out = ROOT / "var" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"Figures written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
