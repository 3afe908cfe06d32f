"""What reading an answer from the upstream costs (`python -m tests.bench.read_cost`).

`playground.upstream.stream_chat` reads answers from the simulator (in a process of its own,
so the CPU counted here is the reader's alone), once through the client HexPlay uses (httpx
over aiohttp's connections) and once through httpx's own transport (httpcore, h11, anyio),
alternating: CPU microseconds per streamed chunk, at 100 chunks/s (one network read per
chunk, as a model streams) and at full speed (many chunks per read). Prints, asserts nothing.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from playground.upstream import new_client, stream_chat
from tests.bench.processes import MODEL, start_simulator
from tests.servers import site_environment, stop_process

ROUNDS = 5
CASES = {"100 chunks/s": "[[sim:tokens=200]] [[sim:rate=100]]", "full speed": "[[sim:tokens=2000]]"}


def httpcore_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=httpx.Timeout(60, connect=5), follow_redirects=False)


async def cpu_per_chunk(client: httpx.AsyncClient, base_url: str, hooks: str) -> float:
    body = {"model": MODEL, "messages": [{"role": "user", "content": hooks}], "stream": True}
    started, chunks = time.process_time(), 0
    async for _ in stream_chat(body, client=client, base_url=base_url, api_key=""):
        chunks += 1
    return (time.process_time() - started) / chunks * 1e6


async def measure(base_url: str) -> dict[str, dict[str, float]]:
    clients = {
        "HexPlay (httpx over aiohttp)": new_client(connect_timeout=5, read_timeout=60),
        "httpx's own transport": httpcore_client(),
    }
    figures: dict[str, dict[str, float]] = {}
    for case, hooks in CASES.items():
        seen: dict[str, list[float]] = {name: [] for name in clients}
        for client in clients.values():  # warm: connection open, code paths loaded
            await cpu_per_chunk(client, base_url, "[[sim:tokens=20]]")
        for _ in range(ROUNDS):
            for name, client in clients.items():
                seen[name].append(await cpu_per_chunk(client, base_url, hooks))
        figures[case] = {name: statistics.median(values) for name, values in seen.items()}
    for client in clients.values():
        await client.aclose()
    return figures


def main() -> None:
    env = site_environment(Path(tempfile.mkdtemp()), "http://127.0.0.1:1/v1")
    simulator, port = start_simulator(env)
    try:
        figures = asyncio.run(measure(f"http://127.0.0.1:{port}/v1"))
    finally:
        stop_process(simulator)
    print(f"CPU per streamed chunk, median of {ROUNDS} answers each, microseconds:")
    for case, by_client in figures.items():
        line = ", ".join(f"{name} {value:.1f}" for name, value in by_client.items())
        print(f"  {case}: {line}")


if __name__ == "__main__":
    main()
