"""Helpers for tests and the benchmark that start servers of their own on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path


def free_port() -> int:
    """A port nothing listens on now (the OS picks it; a tiny race is accepted)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(
    port: int,
    process: subprocess.Popen,
    name: str,
    *,
    timeout: float = 30.0,
    details: Callable[[], str] = str,
) -> None:
    """Wait until `process` listens on `port`; fail with its own words if it dies first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{details()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{name} did not listen on port {port} within {timeout} s:\n{details()}")


def site_environment(var_dir: Path, simulator_url: str) -> dict[str, str]:
    """The site's settings: its own var dir and database, the simulator as the only connection."""
    own = {"DATABASE_URL", "REDIS_URL", "SECRET_KEY"}
    env = {k: v for k, v in os.environ.items() if k not in own}
    env.update(
        DJANGO_SETTINGS_MODULE="hexplay.settings",
        HEXPLAY_VAR_DIR=str(var_dir),
        SIMULATOR_ENABLED="true",
        SIMULATOR_URL=simulator_url,
        LOCAL_MODEL_ENABLED="false",
        MISTRAL_BASE_URL="",
        DEBUG="false",
        LOG_LEVEL="WARNING",
        # One account plays every person of the browser tests and the bench (50 at once).
        ANSWERS_AT_ONCE="1000",
        ANSWERS_PER_MINUTE="100000",
    )
    return env


# Debian's chromium, headless; without the background-networking flags it floods the closed
# network with refused connections.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def stop_process(process: subprocess.Popen) -> None:
    """Terminate what we started, by its PID; kill it if it does not go."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def serve_daphne(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, int]:
    """hexplay.asgi served by daphne on a free loopback port, its output in `log`."""
    port = free_port()
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port)]
            + ["hexplay.asgi:application"],
            cwd=Path(__file__).resolve().parents[1],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, process, "daphne", timeout=20.0, details=log.read_text)
    except BaseException:
        stop_process(process)
        raise
    return process, port
