"""Throwaway Redis and PostgreSQL servers in a temp folder on free ports, for the tests and the
benchmark; each stopped by its PID. As a command it runs another one with both set:

    python -m tests.backends python -m pytest -m "not browser"

runs the suite on PostgreSQL (DATABASE_URL) and Redis (REDIS_URL). `make test` does that.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from tests.servers import free_port, stop_process, wait_for_port


def _postgres_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql")
    return found[-1]  # the newest major version


@contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    """redis-server on a free loopback port, keeping nothing on disk; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed: apt-get install redis-server")
    port = free_port()
    log = folder / "redis.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
            + ["no", "--dir", str(folder)],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, process, "redis-server", timeout=20.0, details=log.read_text)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop_process(process)


@contextmanager
def postgres_server(folder: Path) -> Iterator[str]:
    """A new PostgreSQL cluster on a free loopback port (no durability: it is thrown away);
    yields the URL of its `postgres` database, whose owner may create the test database.

    PostgreSQL refuses to run as root, so as root initdb and pg_ctl run as `postgres`."""
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    data = folder / "postgres"
    data.mkdir()
    if as_postgres:
        folder.chmod(0o755)  # mkdtemp's 0700 would keep the postgres user out
        shutil.chown(data, "postgres", "postgres")
    port = free_port()
    subprocess.run(
        [*as_postgres, _postgres_bin("initdb"), "-D", str(data), "-U", "postgres"]
        + ["--auth=trust", "--no-sync", "--encoding=UTF8", "--locale=C.UTF-8"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    settings = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off"
    settings += " -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
    subprocess.run(
        [*as_postgres, _postgres_bin("pg_ctl"), "-D", str(data), "-l", str(data / "log")]
        + ["-o", settings, "-w", "-t", "60", "start"],
        check=True,
        capture_output=True,
        timeout=90,
    )
    # The postmaster's PID is the first line of postmaster.pid.
    pid = int((data / "postmaster.pid").read_text().split()[0])
    try:
        yield f"postgres://postgres@127.0.0.1:{port}/postgres"
    finally:
        _stop_postgres(pid)


def _stop_postgres(pid: int) -> None:
    """SIGINT is PostgreSQL's fast shutdown: sessions are ended, then it exits."""
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


@contextmanager
def redis_and_postgres() -> Iterator[dict[str, str]]:
    """Both servers, in one temp folder removed afterwards; yields their settings."""
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hexplay-")))
        redis_url = stack.enter_context(redis_server(folder))
        database_url = stack.enter_context(postgres_server(folder))
        yield {"REDIS_URL": redis_url, "DATABASE_URL": database_url}


def main(command: list[str]) -> int:
    if not command:
        print(__doc__, file=sys.stderr)
        return 2
    # SIGTERM (a CI timeout, `kill`) stops the command, then the servers, as Ctrl+C does.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with redis_and_postgres() as backends:
        print(f"PostgreSQL {backends['DATABASE_URL']}, Redis {backends['REDIS_URL']}", flush=True)
        process = subprocess.Popen(command, env={**os.environ, **backends})
        try:
            return process.wait()
        except KeyboardInterrupt:
            process.terminate()
            process.wait(timeout=30)
            return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
