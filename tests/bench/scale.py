"""The concurrency figures again on the scale-out set-up: PostgreSQL and Redis (throwaway, from
tests/backends.py), two daphne workers, each socket on one of them, the same simulator."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.backends import redis_and_postgres
from tests.bench import server
from tests.bench.processes import ROOT, SimulatorLog
from tests.bench.site import Site
from tests.servers import serve_daphne, site_environment, stop_process

WORKERS = 2
CONVERSATIONS = sum(server.LEVELS)


def run(sim_port: int, var_dir: Path) -> dict[str, Any]:
    var_dir.mkdir()
    with redis_and_postgres() as backends:
        env = site_environment(var_dir, f"http://127.0.0.1:{sim_port}/v1") | backends
        cookie, conversations = _prepare(env)
        workers = []
        try:
            for number in range(WORKERS):
                workers.append(serve_daphne(env, var_dir / f"worker-{number + 1}.log"))
            (first, port), *others = workers
            site = Site(port, first.pid, sim_port, cookie, conversations)
            site.more_workers = tuple((port, process.pid) for process, port in others)
            return {
                "workers": WORKERS,
                "concurrent": asyncio.run(
                    asyncio.wait_for(server.concurrent(site, SimulatorLog(sim_port)), 600)
                ),
            }
        finally:
            for process, _ in workers:
                stop_process(process)


def _prepare(env: dict[str, str]) -> tuple[str, list[int]]:
    """The bench's user and conversations in PostgreSQL, made by a process set up for it."""
    script = (
        "import json\n"
        "from tests.bench.site import prepare_database\n"
        f"print(json.dumps(prepare_database({CONVERSATIONS})))\n"
    )
    made = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    cookie, conversations = json.loads(made.stdout.strip().splitlines()[-1])
    return cookie, conversations
