"""The simulator's HTTP server: the Simulator, its request log, and the handler that answers."""

from __future__ import annotations

import json
import select
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from simulator.checks import parse_body
from simulator.errors import ApiError, status_error
from simulator.plan import Plan, plan_answer
from simulator.responses import (
    FIRST,
    completion_body,
    dumps,
    models_body,
    stream_frames,
    tokenize_body,
)

_DISCONNECTS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


class _ClientGone(Exception):
    """The client closed its connection while the simulator was waiting to write."""


@dataclass
class RecordedRequest:
    """One request to /v1/chat/completions and what the simulator did with it."""

    path: str
    headers: dict[str, str]
    body: Any
    status: int = 0
    chunks_sent: int = 0
    completed: bool = False
    disconnected: bool = False
    # time.time() once the request line, headers and body had been read: wall-clock, like
    # `writes`, so the benchmark can tell how long a request took to get here.
    received: float = field(default_factory=time.time)
    # Streamed answers: (time.time() just after the frame went into the socket, its text) for
    # each frame that carries content or reasoning, in the order written (choices interleaved).
    # Wall-clock time, so that another process (the benchmark) can compare it with its own.
    writes: list[tuple[float, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Simulator:
    """A vLLM look-alike on a loopback port, served from a daemon thread."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        chunks_per_second: float = 0.0,
        first_token_delay: float = 0.0,
        api_key: str = "",
        mistral_api: bool = False,
    ) -> None:
        self.chunks_per_second = chunks_per_second
        # Where Mistral's hosted API differs from vLLM on the wire, speak like it: tool_choice
        # "any", and each streamed tool call whole in one delta (its SDK needs the arguments).
        self.mistral_api = mistral_api
        self.first_token_delay = first_token_delay
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        # The management command turns request logging on; tests keep quiet.
        self.quiet = True
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = False
        server_class = _IPv6Server if ":" in host else _Server
        self._server = server_class((host, port), _Handler)
        self._server.simulator = self

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}/v1"

    def start(self) -> Simulator:
        if self._thread is not None:
            return self
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="vllm-simulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        # Answers still streaming notice this flag and close their connection.
        self._stopping = True
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def serve_forever(self) -> None:
        try:
            self._server.serve_forever(poll_interval=0.2)
        finally:
            self._stopping = True
            self._server.server_close()

    def wait_for(
        self, predicate: Callable[[RecordedRequest], bool], timeout: float = 5.0
    ) -> RecordedRequest:
        """The first recorded request that satisfies `predicate`, polling until `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                snapshot = list(self.requests)
            for record in snapshot:
                if predicate(record):
                    return record
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no recorded request matched within {timeout} s")
            time.sleep(0.01)

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _record(self, record: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(record)

    def _log(self) -> list[dict[str, Any]]:
        with self._lock:
            return [record.to_dict() for record in self.requests]

    def _clear(self) -> None:
        with self._lock:
            self.requests.clear()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The standard library's backlog of 5 resets connections when many clients arrive at once
    # (the benchmark's 50 conversations); vLLM's own server allows 2,048.
    request_queue_size = 128
    simulator: Simulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client closing its idle keep-alive connection is normal, not worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _IPv6Server(_Server):
    address_family = socket.AF_INET6


def _hook_number(hooks: dict[str, str], name: str, default: float) -> float:
    try:
        return float(hooks[name]) if name in hooks else default
    except ValueError:
        return default


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Each SSE event is one small write; Nagle would hold it back waiting for an ACK.
    disable_nagle_algorithm = True
    server: _Server

    def version_string(self) -> str:
        return "uvicorn"

    def log_message(self, format: str, *args: Any) -> None:
        if not self.server.simulator.quiet:
            super().log_message(format, *args)

    @property
    def route(self) -> str:
        return self.path.split("?", 1)[0].rstrip("/") or "/"

    def do_GET(self) -> None:
        route = self.route
        if route == "/v1/models":
            if self._authorized():
                self._send_json(200, models_body())
        elif route == "/_simulator/requests":
            self._send_json(200, self.server.simulator._log())
        elif route == "/_simulator/config":
            self._send_json(200, self._config())
        elif route == "/health":
            self._send_empty(200)
        elif route == "/version":
            self._send_json(200, {"version": "0.33.0"})
        elif route == "/v1/chat/completions":
            self._read_body()
            self._send_json(405, {"detail": "Method Not Allowed"})
        else:
            self._send_json(404, {"detail": "Not Found"})

    def do_POST(self) -> None:
        route = self.route
        if route == "/v1/chat/completions":
            self._chat()
        elif route == "/tokenize":
            self._tokenize()
        elif route == "/_simulator/config":
            self._update_config()
        else:
            self._read_body()
            self._send_json(404, {"detail": "Not Found"})

    def do_DELETE(self) -> None:
        self._read_body()
        if self.route == "/_simulator/requests":
            self.server.simulator._clear()
            self._send_empty(204)
        else:
            self._send_json(404, {"detail": "Not Found"})

    def _config(self) -> dict[str, float]:
        simulator = self.server.simulator
        return {
            "chunks_per_second": simulator.chunks_per_second,
            "first_token_delay": simulator.first_token_delay,
        }

    def _update_config(self) -> None:
        try:
            changes = json.loads(self._read_body() or b"{}")
            simulator = self.server.simulator
            for name in ("chunks_per_second", "first_token_delay"):
                if name in changes:
                    setattr(simulator, name, float(changes[name]))
        except (ValueError, TypeError, AttributeError) as exc:
            self._send_json(400, {"detail": str(exc)})
            return
        self._send_json(200, self._config())

    def _read_body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _authorized(self) -> bool:
        api_key = self.server.simulator.api_key
        if not api_key or self.headers.get("authorization") == f"Bearer {api_key}":
            return True
        self._send_json(401, {"error": "Unauthorized"})
        return False

    def _send_empty(self, status: int) -> None:
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def _send_json(self, status: int, payload: Any, record: RecordedRequest | None = None) -> None:
        data = dumps(payload).encode()
        if record is not None:
            record.status = status
        try:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except _DISCONNECTS:
            self.close_connection = True
            if record is not None:
                record.disconnected = True
            return
        if record is not None:
            record.completed = True

    def _chat(self) -> None:
        simulator = self.server.simulator
        raw = self._read_body()
        received = time.time()
        headers = {name.lower(): value for name, value in self.headers.items()}
        # The record gets a parse of its own: validation fills in defaults such as tool_choice.
        try:
            body = json.loads(raw) if raw else None
        except (ValueError, UnicodeDecodeError):
            body = None
        record = RecordedRequest(path=self.path, headers=headers, body=body, received=received)
        simulator._record(record)
        if simulator.api_key and headers.get("authorization") != f"Bearer {simulator.api_key}":
            self._send_json(401, {"error": "Unauthorized"}, record)
            return
        try:
            parsed = parse_body(headers.get("content-type", ""), raw)
            if simulator.mistral_api and parsed.get("tool_choice") == "any":
                parsed["tool_choice"] = "required"
            plan = plan_answer(parsed, headers)
        except ApiError as error:
            self._send_json(error.status, error.payload(), record)
            return
        if "status" in plan.hooks:
            status = int(plan.hooks["status"]) if plan.hooks["status"].isdigit() else 500
            error = status_error(status, f"The simulator was asked to fail with {status}")
            # vLLM's auth middleware answers 401 with a bare string.
            payload = {"error": "Unauthorized"} if status == 401 else error.payload()
            self._send_json(status, payload, record)
            return
        include_reasoning = parsed.get("include_reasoning", True) is not False
        if plan.stream:
            self._stream(plan, record, include_reasoning)
        else:
            self._answer(plan, record, include_reasoning)

    def _tokenize(self) -> None:
        # At the server root, as in vLLM, whose --api-key guards only the /v1 routes. Not
        # recorded: the log holds chat requests, and a page counts tokens as the person types.
        raw = self._read_body()
        try:
            body = parse_body(self.headers.get("content-type", ""), raw)
            answer = tokenize_body(body)
        except ApiError as error:
            self._send_json(error.status, error.payload())
            return
        self._send_json(200, answer)

    def _rates(self, plan: Plan) -> tuple[float, float]:
        """Chunks per second and first-token delay: the request's hooks, else the simulator's."""
        simulator = self.server.simulator
        return (
            _hook_number(plan.hooks, "rate", simulator.chunks_per_second),
            _hook_number(plan.hooks, "first-token-delay", simulator.first_token_delay),
        )

    def _answer(self, plan: Plan, record: RecordedRequest, include_reasoning: bool) -> None:
        if plan.engine_error is not None:
            self._send_json(400, plan.engine_error.payload(), record)
            return
        if "stream-error" in plan.hooks:
            error = status_error(500, "The simulator was asked to fail while generating")
            self._send_json(500, error.payload(), record)
            return
        # Take as long as streaming would have taken; the choices are generated side by side.
        rate, first = self._rates(plan)
        longest = max(choice.generated for choice in plan.choices)
        wait = first + (longest / rate if rate > 0 else 0.0)
        if wait > 0 and not self._pause(wait):
            record.disconnected = not self.server.simulator._stopping
            self.close_connection = True
            return
        self._send_json(200, completion_body(plan, include_reasoning), record)

    def _stream(self, plan: Plan, record: RecordedRequest, include_reasoning: bool) -> None:
        frames = stream_frames(plan, include_reasoning, self.server.simulator.mistral_api)
        simulator = self.server.simulator
        record.status = 200
        try:
            self.send_response(200)
            self.send_header("content-type", "text/event-stream; charset=utf-8")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            # wfile is unbuffered (each write is a sendall), so a frame is in the socket on return.
            write, clock, note = self.wfile.write, time.time, record.writes.append
            paced_by_hooks = "rate" in plan.hooks or "first-token-delay" in plan.hooks
            for pace, data, counted, text in frames:
                if pace:
                    # Read on every chunk: tests change the pacing while answers stream.
                    if paced_by_hooks:
                        rate, first = self._rates(plan)
                    else:
                        rate, first = simulator.chunks_per_second, simulator.first_token_delay
                    delay = (first if pace == FIRST else 0.0) + (1.0 / rate if rate > 0 else 0.0)
                    if simulator._stopping or (delay > 0 and not self._pause(delay)):
                        raise _ClientGone
                write(data)
                if text:
                    note((clock(), text))
                record.chunks_sent += counted
            write(b"0\r\n\r\n")
        except (_ClientGone, *_DISCONNECTS):
            record.disconnected = not simulator._stopping
            self.close_connection = True
            return
        record.completed = True

    def _pause(self, seconds: float) -> bool:
        """Sleep, but return False as soon as the client closes its end of the connection."""
        deadline = time.monotonic() + seconds
        connection = self.connection
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return True
            if self.server.simulator._stopping:
                return False
            try:
                readable, _, _ = select.select([connection], [], [], min(remaining, 0.1))
                if readable and not connection.recv(1, socket.MSG_PEEK):
                    return False
            except (OSError, ValueError):
                return False
            if readable:
                # The client sent something (a pipelined request): just sleep the rest.
                time.sleep(max(0.0, deadline - time.monotonic()))
                return True
