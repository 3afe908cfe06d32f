"""Run everything `make run` needs: the local model, the vLLM simulator and daphne."""

import asyncio
import signal
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from evals.runner import recover_interrupted_runs
from playground.models import recover_interrupted_answers
from playground.upstream.connections import HEXGRID, get_connection, listed_models
from playground.upstream.localmodel import LocalModelProcess, die_with_parent, terminate


class Command(BaseCommand):
    help = "Serve HexPlay with daphne, beside the local model and the simulator; Ctrl+C stops all."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="address daphne listens on")
        parser.add_argument("--port", type=int, default=8000, help="port daphne listens on")
        parser.add_argument(
            "--workers",
            type=int,
            default=settings.WORKERS,
            help="daphne processes sharing the port (WORKERS); more than one needs REDIS_URL",
        )

    def handle(self, *args: Any, host: str, port: int, workers: int, **options: Any) -> None:
        # SIGTERM (from a supervisor or `kill`) stops everything the way Ctrl+C does.
        signal.signal(signal.SIGTERM, _interrupt)
        for problem in settings.CONFIGURATION_PROBLEMS:
            self.stderr.write(self.style.WARNING(problem))
        _check_workers(workers, host)
        self._check_ports(host, port)
        self._check_hexgrid()
        # Whatever happens below, leaving this block stops what was started, newest first.
        recovered = recover_interrupted_answers()
        if recovered:
            self.stdout.write(f"{recovered} answer(s) cut off by the last stop are marked stopped.")
        if runs := recover_interrupted_runs():
            self.stdout.write(f"{runs} test run(s) cut off by the last stop are marked stopped.")
        with ExitStack() as running:
            try:
                self._start_local_model(running)
                self._start_simulator(running)
                servers = self._start_daphne(running, host, port, workers)
                self.stdout.write(self.style.SUCCESS(f"\nHexPlay: {site_url(host, port)}"))
                if workers > 1:
                    self.stdout.write(f"{workers} daphne workers share the port, over Redis.")
                self.stdout.write("Press Ctrl+C to stop.\n")
                returncode = _first_exit(servers)
            except KeyboardInterrupt:
                # A second Ctrl+C must not cut the clean-up short and leave a child behind.
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                self.stdout.write("\nStopping…")
                return
        if returncode != 0:
            raise CommandError(f"daphne exited with code {returncode}")

    def _check_hexgrid(self) -> None:
        """HexGrid unreachable at start is one line; the site starts anyway (it may come up)."""
        if not settings.MISTRAL_BASE_URL:
            return
        connection = get_connection(HEXGRID)
        if connection is None or connection.slug != HEXGRID:
            return
        found = asyncio.run(listed_models(connection))
        if found.warning:
            self.stderr.write(
                self.style.WARNING(f"HexGrid at {settings.MISTRAL_BASE_URL}: {found.warning}")
            )

    def _check_ports(self, host: str, port: int) -> None:
        """Every port this command listens on is free, or one line names it and its setting."""
        wanted = [(host, port, "PORT (make run PORT=8001)")]
        if settings.SIMULATOR_ENABLED:
            wanted.append(("127.0.0.1", settings.SIMULATOR_PORT, "SIMULATOR_PORT"))
        for where, number, variable in wanted:
            if not port_is_free(where, number):
                raise CommandError(
                    f"Port {number} on {where} is taken (another HexPlay still running?): "
                    f"stop it, or choose another with {variable}."
                )

    def _start_local_model(self, running: ExitStack) -> None:
        if not settings.LOCAL_MODEL_ENABLED:
            return
        if not settings.LOCAL_MODEL_FILE.is_file():
            self.stderr.write(
                self.style.WARNING(
                    f"Not starting the local model: {settings.LOCAL_MODEL_FILE} is missing "
                    "(`make run` downloads it; LOCAL_MODEL_ENABLED=false hides this warning)."
                )
            )
            return
        model = LocalModelProcess(
            settings.LOCAL_MODEL_FILE,
            settings.LOCAL_MODEL_HOST,
            settings.LOCAL_MODEL_PORT,
            model_name=settings.LOCAL_MODEL_NAME,
            log_file=settings.VAR_DIR / "localmodel.log",
        )
        try:
            running.enter_context(model)
        except RuntimeError as error:
            # The rest of the site still works; the local connection will report it is down.
            self.stderr.write(self.style.WARNING(f"Not starting the local model: {error}"))
            return
        self.stdout.write(f"Local model {settings.LOCAL_MODEL_NAME} on {model.base_url}")

    def _start_simulator(self, running: ExitStack) -> None:
        if not settings.SIMULATOR_ENABLED:
            return
        from simulator import Simulator

        # Slow enough that streaming is visible in the page.
        simulator = Simulator("127.0.0.1", settings.SIMULATOR_PORT, chunks_per_second=40)
        simulator.start()
        running.callback(simulator.stop)
        self.stdout.write(f"vLLM simulator on {settings.SIMULATOR_URL}")

    def _start_daphne(
        self, running: ExitStack, host: str, port: int, workers: int
    ) -> list[subprocess.Popen[bytes]]:
        # Daphne wants "hexplay.asgi:application" where Django says "hexplay.asgi.application".
        module, attribute = settings.ASGI_APPLICATION.rsplit(".", 1)
        command = [sys.executable, "-m", "daphne", f"{module}:{attribute}"]
        if workers == 1:
            return [self._start_worker(running, [*command, "-b", host, "-p", str(port)])]
        # One listening socket, made here and inherited by every worker: the kernel hands each
        # new connection to one of them (the Channels deployment docs' shared --fd socket).
        listener = socket.socket(socket.AF_INET)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(1024)
        running.callback(listener.close)
        fd = listener.fileno()
        command += ["--fd", str(fd)]
        return [self._start_worker(running, command, pass_fds=(fd,)) for _ in range(workers)]

    def _start_worker(
        self, running: ExitStack, command: list[str], pass_fds: tuple[int, ...] = ()
    ) -> subprocess.Popen[bytes]:
        daphne = subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            stdin=subprocess.DEVNULL,
            pass_fds=pass_fds,
            # Its own process group, so Ctrl+C reaches only us and we stop it in order.
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        running.callback(terminate, daphne)
        return daphne


def _check_workers(workers: int, host: str) -> None:
    if workers < 1:
        raise CommandError(f"--workers {workers}: at least one worker is needed.")
    if workers > 1 and not settings.REDIS_URL:
        raise CommandError(
            f"{workers} workers need REDIS_URL: the processes reach each other's sockets and "
            "answers through Redis (README, Scaling out). Set it, or run one worker."
        )
    if workers > 1 and ":" in host:
        raise CommandError(
            "Several workers share an IPv4 socket: give an IPv4 --host (0.0.0.0 for all)."
        )


def _first_exit(servers: list[subprocess.Popen[bytes]]) -> int:
    """Wait until a worker exits (it crashed, or was stopped): its code is the command's."""
    while True:
        for server in servers:
            if server.poll() is not None:
                return server.returncode
        time.sleep(0.2)


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def site_url(host: str, port: int) -> str:
    """The address to open in a browser for a server listening on `host`."""
    if host in {"0.0.0.0", "::", ""}:
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/"


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
