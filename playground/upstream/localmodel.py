"""The "Local model" connection: llama.cpp's own server (xllamacpp) in a process of its own."""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from types import TracebackType

MODEL_NAME = "SmolLM2-135M-Instruct"
DEFAULT_PORT = 8181
START_TIMEOUT = 60.0
STOP_TIMEOUT = 5.0


def run_server(model_file: Path, host: str, port: int, *, alias: str = MODEL_NAME) -> None:
    """Serve `model_file` over llama.cpp's OpenAI-compatible HTTP API until interrupted."""
    # Imported here: the 100 MB extension is only needed in the server's own process.
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(model_file)
    # The name clients send as "model" and see in /v1/models (otherwise the file name).
    params.model_alias = {alias}
    params.hostnames = [host]
    params.port = port
    params.n_ctx = 4096
    params.n_parallel = 4
    # A unified KV cache lets each of the 4 slots use the whole context, instead of 4096 / 4.
    params.kv_unified = True
    params.cpuparams.n_threads = 2
    params.cpuparams_batch.n_threads = 2
    params.ui = False
    # The constructor loads the model, then llama.cpp serves HTTP from its own threads.
    server = xllamacpp.Server(params)
    print(f"Local model {alias} listening on {server.listening_address}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        del server


class LocalModelProcess:
    """Runs `run_server` in a child process: `with LocalModelProcess(path, port=p) as model: …`."""

    def __init__(
        self,
        model_file: Path,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        *,
        model_name: str = MODEL_NAME,
        log_file: Path | None = None,
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        self.model_file = Path(model_file)
        self.host = host
        self.port = port
        self.model_name = model_name
        self.log_file = log_file or Path(tempfile.gettempdir()) / f"hexplay-localmodel-{port}.log"
        self.start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI base URL, up to and including /v1."""
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> None:
        """Start the server and return once it answers; call it from the main thread."""
        if not self.model_file.is_file():
            raise RuntimeError(f"Local model file {self.model_file} does not exist")
        # Otherwise a server left over from another run could answer the health check for us.
        _check_port_is_free(self.host, self.port)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("wb") as log:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "playground.upstream.localmodel",
                    "--model",
                    str(self.model_file),
                    "--host",
                    self.host,
                    "--port",
                    str(self.port),
                    "--alias",
                    self.model_name,
                ],
                cwd=Path(__file__).resolve().parents[2],  # the project root, where playground is
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own process group: Ctrl+C in the terminal reaches us, and we stop it.
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_until_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"The local model server exited with code {self._process.returncode} "
                    f"while starting. Last lines of {self.log_file}:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass  # Not listening yet, or still loading (URLError, HTTPError 503).
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"The local model server did not answer on {self.base_url} within "
                    f"{self.start_timeout:.0f} s. Last lines of {self.log_file}:\n{self.log_tail()}"
                )
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop the server: SIGTERM, then SIGKILL if it is still there after a few seconds."""
        process, self._process = self._process, None
        if process is not None:
            terminate(process)

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> LocalModelProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def die_with_parent() -> None:
    """Ask Linux to SIGTERM this (child) process when its parent dies, even by SIGKILL.

    Meant as a subprocess `preexec_fn`. Linux tracks the parent *thread*, so spawn from the
    main thread. On other systems it does nothing and stop() is the only clean-up.
    """
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


_PR_SET_PDEATHSIG = 1
try:
    # Looked up now, not in the forked child, where taking locks could deadlock.
    _prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None
except (OSError, AttributeError):
    _prctl = None


def _check_port_is_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as error:
            raise RuntimeError(
                f"Cannot start the local model on {host}:{port}: {error.strerror}. "
                "Is another HexPlay still running? Set LOCAL_MODEL_PORT to use another port."
            ) from None


def terminate(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> None:
    """Stop a child started with `start_new_session=True`, and anything it started."""
    if process.poll() is not None:
        return
    _signal_group(process, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        _signal_group(process, signal.SIGKILL)
        process.wait()


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, required=True, help="the GGUF file")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--alias", default=MODEL_NAME, help="the model name clients use")
    args = parser.parse_args()
    run_server(args.model, args.host, args.port, alias=args.alias)


if __name__ == "__main__":
    main()
