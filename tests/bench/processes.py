"""The bench's servers: the simulator and daphne in processes of their own, and their logs."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.servers import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
MODEL = "mistralai/Mistral-Small-3.2-24B-Instruct-2506"
TAG_PREFIX = "bench-"


def start_simulator(env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    # Its own process: in the bench's it would share the GIL with the clients.
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "simulate_vllm", "--port", str(port), "--quiet"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    wait_for_port(port, process, "the simulator")
    return process, port


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (clock ticks, usually 10 ms)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def prompt(hooks: str) -> str:
    """A message with a unique tag, so its request can be found in the simulator's log."""
    return f"Tell me about tides {TAG_PREFIX}{uuid.uuid4().hex[:12]} {hooks}"


def tag_of(text: str) -> str:
    start = text.rfind(TAG_PREFIX)
    return text[start : start + len(TAG_PREFIX) + 12] if start != -1 else ""


@dataclass
class Upstream:
    """What the simulator did with one request, on the wall clock (`time.time()`)."""

    received: float
    writes: list[tuple[float, str]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(text for _, text in self.writes)


class SimulatorLog:
    """The simulator's request log, read over HTTP (it runs in another process)."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/_simulator/requests"

    def clear(self) -> None:
        httpx.delete(self.url, timeout=10).raise_for_status()

    def records(self) -> list[dict[str, Any]]:
        return [r for r in httpx.get(self.url, timeout=30).json() if r["body"]]

    def by_tag(self) -> dict[str, Upstream]:
        """Each request by the tag in its last user message; untagged ones are left out."""
        found = {}
        for record in self.records():
            users = [m for m in record["body"].get("messages", []) if m.get("role") == "user"]
            tag = tag_of(str(users[-1].get("content", ""))) if users else ""
            if tag:
                writes = [(moment, text) for moment, text in record["writes"]]
                found[tag] = Upstream(record["received"], writes)
        return found
