"""The client for OpenAI-compatible chat servers (vLLM, llama.cpp, Mistral): the only httpx user.

It turns HTTP and server-sent events into typed events and one `UpstreamError`; it knows
nothing of Django, Channels or HTML, so a command-line tool can use it unchanged.
"""

from __future__ import annotations

import asyncio
import functools
import json
import ssl
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from playground.upstream.events import Event, Finish, UpstreamError, message_from_json
from playground.upstream.sse import SSEDecoder, ThinkTagSplitter, chunk_events, parse_json

Client = httpx.AsyncClient
# What a request can raise when the server cannot be reached or breaks off (see below).
_FAILURES = (httpx.HTTPError, aiohttp.ClientError)


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every client of the process: loading the CA certificates takes
    ~50 ms of CPU each time, and a context can be shared by any number of connections."""
    return httpx.create_ssl_context()


def new_client(
    *, connect_timeout: float, read_timeout: float, max_connections: int | None = 100
) -> Client:
    """A client for a run of work (a token count, a list of models, a test run).

    httpx's API over aiohttp's connections (httpx-aiohttp): aiohttp parses HTTP in C, where
    httpcore's h11 and anyio cost about twice the CPU per streamed chunk (README, Benchmark).
    """

    def session() -> aiohttp.ClientSession:
        # Called at the first request, so the session belongs to the loop that uses it.
        connector = aiohttp.TCPConnector(
            limit=max_connections or 0,
            ssl=_tls(),
            # Under the 5 s after which vLLM's server (uvicorn) closes an idle connection, so
            # a connection is never reused just as the server hangs up on it.
            keepalive_timeout=4,
        )
        return aiohttp.ClientSession(connector=connector)

    return httpx.AsyncClient(
        timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
        transport=AiohttpTransport(verify=_tls(), client=session),
        follow_redirects=False,
    )


_SHARED: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Client] = weakref.WeakKeyDictionary()


def shared_client(*, connect_timeout: float, read_timeout: float) -> Client:
    """The client of every answer in this process (one per event loop, for tests' loops).

    Answers outlive the socket that asked for them, so no socket can own their client; no
    connection limit, since each streaming answer holds one connection for its whole length.
    """
    loop = asyncio.get_running_loop()
    client = _SHARED.get(loop)
    if client is None or client.is_closed:
        client = new_client(
            connect_timeout=connect_timeout, read_timeout=read_timeout, max_connections=None
        )
        _SHARED[loop] = client
    return client


async def close_shared_client() -> None:
    """Close this loop's shared client: its loop is ending (a server stopping, a test's end)."""
    client = _SHARED.pop(asyncio.get_running_loop(), None)
    if client is not None:
        await client.aclose()


def _headers(api_key: str, *, accept: str = "application/json") -> dict[str, str]:
    headers = {"Content-Type": "application/json", "Accept": accept}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return headers


async def list_models(*, client: httpx.AsyncClient, base_url: str, api_key: str) -> list[str]:
    """The ids `GET {base}/models` lists."""
    try:
        response = await client.get(f"{base_url}/models", headers=_headers(api_key))
    except _FAILURES as exc:
        raise _transport_error(exc, base_url) from exc
    if response.status_code >= 400:
        raise _status_error(response.status_code, response.content)
    try:
        data = response.json()["data"]
        return [str(item["id"]) for item in data]
    except (ValueError, KeyError, TypeError) as exc:
        raise UpstreamError("The server's list of models was not in the expected format") from exc


def server_root(base_url: str) -> str:
    """Where a server's own routes live (/tokenize, /props): its base URL without /v1."""
    base = base_url.rstrip("/")
    return base.removesuffix("/v1")


async def _post_json(
    url: str, body: dict[str, Any], *, client: httpx.AsyncClient, api_key: str
) -> dict[str, Any]:
    try:
        response = await client.post(url, json=body, headers=_headers(api_key))
    except _FAILURES as exc:
        raise _transport_error(exc, url) from exc
    return _json_object(response)


def _json_object(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 400:
        raise _status_error(response.status_code, response.content)
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise UpstreamError("The server's answer was not in the expected format")
    return data


async def tokenize(
    body: dict[str, Any], *, client: httpx.AsyncClient, base_url: str, api_key: str
) -> dict[str, Any]:
    """POST `{root}/tokenize` (vLLM: `messages`…; llama.cpp: `content`) and return its JSON."""
    return await _post_json(
        f"{server_root(base_url)}/tokenize", body, client=client, api_key=api_key
    )


async def apply_template(
    body: dict[str, Any], *, client: httpx.AsyncClient, base_url: str, api_key: str
) -> dict[str, Any]:
    """llama.cpp's `POST {root}/apply-template`: the chat as the prompt text it becomes."""
    return await _post_json(
        f"{server_root(base_url)}/apply-template", body, client=client, api_key=api_key
    )


async def server_props(*, client: httpx.AsyncClient, base_url: str, api_key: str) -> dict[str, Any]:
    """llama.cpp's `GET {root}/props`: its settings, the context size among them."""
    url = f"{server_root(base_url)}/props"
    try:
        response = await client.get(url, headers=_headers(api_key))
    except _FAILURES as exc:
        raise _transport_error(exc, url) from exc
    return _json_object(response)


async def stream_chat(
    body: dict[str, Any],
    *,
    client: httpx.AsyncClient,
    base_url: str,
    api_key: str,
    on_sent: Callable[[], None] | None = None,
) -> AsyncIterator[Event]:
    """POST a streaming chat completion and yield its events.

    Leaving the loop early (or cancelling the task) closes the HTTP connection, which is how
    the server learns to stop generating. `on_sent` is called once the server has taken the
    request (its response has begun), before any answer: work that can wait may wait for it.
    """
    url = f"{base_url}/chat/completions"
    headers = _headers(api_key, accept="text/event-stream")
    try:
        async with client.stream("POST", url, json=body, headers=headers) as response:
            if on_sent is not None:
                on_sent()
            if response.status_code >= 400:
                raise _status_error(response.status_code, await response.aread())
            splitters: dict[int, ThinkTagSplitter] = {}
            finished: set[int] = set()
            decoder = SSEDecoder()
            done = False
            async for chunk in response.aiter_bytes():
                for data in decoder.feed(chunk):
                    if data == "[DONE]":
                        done = True
                        break
                    for event in chunk_events(parse_json(data), splitters):
                        if isinstance(event, Finish):
                            finished.add(event.choice)
                        yield event
                if done:
                    break
            if not done:
                for data in decoder.close():
                    if data != "[DONE]":
                        for event in chunk_events(parse_json(data), splitters):
                            if isinstance(event, Finish):
                                finished.add(event.choice)
                            yield event
                if not finished:
                    raise UpstreamError(
                        "The model's server closed the connection before the answer was finished"
                    )
    except _FAILURES as exc:
        raise _transport_error(exc, base_url) from exc


_STATUS_WORDS = {
    400: "The model's server refused the request",
    401: "The model's server did not accept the API key",
    403: "The API key is not allowed to do this",
    404: "The model's server could not find what was asked for",
    408: "The model's server timed out",
    413: "The request is too large for the model's server",
    422: "The model's server refused the request",
    429: "The model's server is busy or the rate limit was reached; try again shortly",
}


def _status_error(status: int, body: bytes) -> UpstreamError:
    words = _STATUS_WORDS.get(status)
    if words is None:
        words = "The model's server had a problem" if status >= 500 else "The request failed"
    text = body.decode("utf-8", errors="replace")
    try:
        detail = message_from_json(json.loads(text))
    except ValueError:
        detail = None
    if detail is None:
        detail = text.strip()[:500]
    return UpstreamError(words, status=status, detail=detail)


def _transport_error(exc: Exception, base_url: str) -> UpstreamError:
    # httpx-aiohttp maps aiohttp's errors coarsely (a refused connection becomes a connect
    # timeout) and lets some through unmapped: aiohttp's own error, kept as the cause, says
    # what happened.
    failure = exc if isinstance(exc, aiohttp.ClientError) else exc.__cause__
    if not isinstance(failure, aiohttp.ClientError):
        failure = exc
    if isinstance(failure, aiohttp.ConnectionTimeoutError | httpx.ConnectTimeout):
        return UpstreamError(f"Timed out connecting to the model's server at {base_url}")
    if isinstance(failure, aiohttp.ClientConnectorDNSError):
        return UpstreamError(
            f"Could not find the model's server: the host in {base_url} is unknown"
        )
    if isinstance(failure, aiohttp.ClientConnectorError | httpx.ConnectError):
        return UpstreamError(
            f"Could not connect to the model's server at {base_url}. Is it running?"
        )
    if isinstance(failure, aiohttp.SocketTimeoutError | httpx.ReadTimeout):
        return UpstreamError(
            "The model's server stopped answering (no data before the read timeout)"
        )
    broke_off = aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError
    if isinstance(failure, broke_off | httpx.RemoteProtocolError):
        return UpstreamError(
            "The connection to the model's server broke off in the middle of the answer"
        )
    return UpstreamError(f"Could not talk to the model's server at {base_url}", detail=str(exc))
