"""The streaming benchmark: what a person waits for in the browser, and what the server adds.

Run with `make bench` (`.venv/bin/python -m tests.bench`). Everything runs on loopback in a
temporary var dir: the simulator and a real daphne serving hexplay.asgi, each in a process of
its own; in this process the websocket and httpx clients (server.py), then Debian's chromium
driving HexPlay's page beside a bare page (browser.py). There is one clock: the simulator notes
with `time.time()` when each piece of text went into its socket, the clients note `time.time()`
and the pages `performance.timeOrigin + performance.now()`, all the machine's wall clock. Prints
one table (report.py) and writes every figure to var/bench.json. Nothing is asserted.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.bench import browser, runs, scale, server
from tests.bench.processes import ROOT, SimulatorLog, start_simulator
from tests.bench.report import table
from tests.bench.site import Site, prepare_database, stored_page
from tests.servers import serve_daphne, site_environment, stop_process

CONVERSATIONS = 400  # every measured answer starts a fresh one


def main() -> None:
    started = time.monotonic()
    var_dir = Path(tempfile.mkdtemp(prefix="hexplay-bench-"))
    log_file = var_dir / "daphne.log"
    simulator = daphne = None
    figures: dict[str, Any] = {}
    try:
        # The site's URL for the simulator is known only once it listens: start it first.
        env = site_environment(var_dir, "http://127.0.0.1:1/v1")
        simulator, sim_port = start_simulator(env)
        env = site_environment(var_dir, f"http://127.0.0.1:{sim_port}/v1")
        os.environ.update(env)
        for name in ("DATABASE_URL", "SECRET_KEY"):
            os.environ.pop(name, None)
        sys.path.insert(0, str(ROOT))
        cookie, conversations = prepare_database(CONVERSATIONS)
        prompt_pk = runs.prepare_prompt()
        daphne, port = serve_daphne(env, log_file)
        site = Site(port, daphne.pid, sim_port, cookie, conversations)
        log = SimulatorLog(sim_port)
        figures["server"] = asyncio.run(asyncio.wait_for(server.run(site, log), timeout=300))
        figures["browser"] = browser.run(site, log)
        figures["runs"] = runs.run(site, prompt_pk)
        stop_process(daphne)  # the scale-out workers and the stored page get the CPUs
        figures["scale"] = scale.run(sim_port, var_dir / "scale")
        stop_process(simulator)
        figures["stored_page"] = stored_page()
    except BaseException:
        if log_file.exists():
            print("daphne's log ends with:\n" + log_file.read_text()[-3000:], file=sys.stderr)
        raise
    finally:
        for process in (daphne, simulator):
            if process is not None:
                stop_process(process)
        shutil.rmtree(var_dir, ignore_errors=True)
    figures["seconds"] = time.monotonic() - started
    figures["cpus"] = os.cpu_count()

    print(table(figures))
    print("\n" + runs.report(figures["runs"]))
    b = figures["browser"]
    print(
        f"\nOne clock: the page's clock minus time.time() measured "
        f"{b['clock_offset_ms']:+.2f} ms (to within {b['clock_uncertainty_ms']:.2f} ms). "
        f"Per chunk: when the page (or client) first held a write's text, matched by cumulative "
        f"length, minus when the simulator wrote it. a, b and f come from the short answers, "
        f"c and d from the paced ones, e from the full-speed ones (first write to last "
        f"character shown). {figures['cpus']} CPUs shared by the simulator, daphne, chromium "
        f"and the clients; {figures['seconds']:.0f} s in all."
    )
    problems = b["problems"] + [
        error
        for part in (figures["server"]["paced"], figures["server"]["full"])
        for side in part.values()
        for error in side["errors"]
    ]
    for problem in problems:
        print(f"note: {problem}")
    out = ROOT / "var" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"Figures written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
