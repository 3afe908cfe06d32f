"""The upstream client: SSE parsing byte by byte, typed events and error mapping."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from playground import upstream
from playground.upstream import (
    ContentDelta,
    Finish,
    ReasoningDelta,
    RoleDelta,
    SSEDecoder,
    ThinkTagSplitter,
    ToolCallDelta,
    UpstreamError,
    Usage,
)
from tests.servers import free_port

BASE = "http://upstream.test/v1"


def chunk(delta: dict, *, index: int = 0, finish: str | None = None) -> dict:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "choices": [{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def sse(*payloads: object, done: bool = True, newline: str = "\n") -> bytes:
    events = [f"data: {json.dumps(p)}{newline}{newline}" for p in payloads]
    if done:
        events.append(f"data: [DONE]{newline}{newline}")
    return "".join(events).encode()


def transport_for(
    body: bytes, *, status: int = 200, pieces: int | None = None
) -> httpx.MockTransport:
    """Answers every request with `body`, cut into `pieces`-byte network reads when given."""

    class Body(httpx.AsyncByteStream):
        async def __aiter__(self):
            size = pieces or len(body) or 1
            for start in range(0, len(body), size):
                yield body[start : start + size]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, stream=Body(), headers={"content-type": "text/event-stream"})

    return httpx.MockTransport(handler)


async def collect(body: bytes, **kwargs) -> list[upstream.Event]:
    async with httpx.AsyncClient(transport=transport_for(body, **kwargs)) as client:
        return [
            event
            async for event in upstream.stream_chat(
                {"model": "m", "messages": []}, client=client, base_url=BASE, api_key=""
            )
        ]


STREAM = sse(
    chunk({"role": "assistant", "content": ""}),
    chunk({"reasoning": "Let me think"}),
    chunk({"content": "Héllo"}),
    chunk({"content": " wörld ✓"}),
    chunk({}, finish="stop"),
    {"id": "chatcmpl-1", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}},
)
EXPECTED = [
    RoleDelta(0, "assistant"),
    ReasoningDelta(0, "Let me think"),
    ContentDelta(0, "Héllo"),
    ContentDelta(0, " wörld ✓"),
    Finish(0, "stop"),
    Usage({"prompt_tokens": 3, "completion_tokens": 2}),
]


async def test_stream_yields_typed_events_in_order():
    assert await collect(STREAM) == EXPECTED


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64])
async def test_events_survive_any_split_across_network_reads(size):
    # One byte at a time also splits the multi-byte UTF-8 characters.
    assert await collect(STREAM, pieces=size) == EXPECTED


@pytest.mark.parametrize("size", [1, 5, None])
async def test_crlf_line_endings_are_understood(size):
    body = sse(chunk({"content": "Hi"}), chunk({}, finish="stop"), newline="\r\n")
    assert await collect(body, pieces=size) == [ContentDelta(0, "Hi"), Finish(0, "stop")]


async def test_keep_alive_comments_are_ignored():
    body = b": keep-alive\n\n" + sse(chunk({"content": "a"}), done=False) + b": ping\n\n"
    body += sse(chunk({}, finish="stop"))
    assert await collect(body) == [ContentDelta(0, "a"), Finish(0, "stop")]


def test_several_data_lines_form_one_event():
    decoder = SSEDecoder()
    assert list(decoder.feed(b'data: {"a":\ndata: 1}\n\n')) == ['{"a":\n1}']


def test_cr_only_line_endings_split_across_reads():
    decoder = SSEDecoder()
    events = (
        list(decoder.feed(b"data: one\r"))
        + list(decoder.feed(b"\r"))
        + list(decoder.feed(b"data: two\r\r"))
    )
    assert events == ["one", "two"]


async def test_reasoning_content_of_older_vllm_is_reasoning_too():
    body = sse(chunk({"reasoning_content": "old name"}), chunk({}, finish="stop"))
    assert await collect(body) == [ReasoningDelta(0, "old name"), Finish(0, "stop")]


async def test_error_sent_inside_the_stream_becomes_an_upstream_error_after_the_text():
    body = sse(
        chunk({"content": "partial"}),
        {
            "error": {
                "message": "Requested sample logprobs of 50",
                "type": "BadRequestError",
                "code": 400,
            }
        },
    )
    seen = []
    with pytest.raises(UpstreamError) as caught:
        async with httpx.AsyncClient(transport=transport_for(body)) as client:
            async for event in upstream.stream_chat({}, client=client, base_url=BASE, api_key=""):
                seen.append(event)
    assert seen == [ContentDelta(0, "partial")]
    assert caught.value.status == 400
    assert "Requested sample logprobs of 50" in str(caught.value)


async def test_stream_that_ends_after_the_finish_but_without_done_is_complete():
    body = sse(chunk({"content": "ok"}), chunk({}, finish="stop"), done=False)
    assert await collect(body) == [ContentDelta(0, "ok"), Finish(0, "stop")]


async def test_stream_cut_off_before_any_finish_is_an_error():
    body = sse(chunk({"content": "half an ans"}), done=False)
    with pytest.raises(UpstreamError, match="before the answer was finished"):
        await collect(body)


async def test_last_event_without_trailing_blank_line_is_still_read():
    body = b'data: {"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"stop"}]}'
    assert await collect(body) == [ContentDelta(0, "x"), Finish(0, "stop")]


async def test_malformed_json_is_a_clear_error():
    with pytest.raises(UpstreamError, match="not JSON"):
        await collect(b"data: {not json\n\n")


async def test_tool_call_fragments_are_passed_on_by_index():
    body = sse(
        chunk(
            {
                "tool_calls": [
                    {
                        "id": "aB3dE5gH7",
                        "type": "function",
                        "index": 0,
                        "function": {"name": "get_weather"},
                    }
                ]
            }
        ),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": "Pa'}}]}),
        chunk({}, finish="tool_calls"),
    )
    assert await collect(body) == [
        ToolCallDelta(0, 0, "aB3dE5gH7", "get_weather", ""),
        ToolCallDelta(0, 0, None, None, '{"city": "Pa'),
        Finish(0, "tool_calls"),
    ]


async def test_mistral_thinking_chunks_become_reasoning_and_usage_on_last_chunk_is_read():
    last = chunk({"content": " there"}, finish="stop")
    last["usage"] = {"prompt_tokens": 5, "completion_tokens": 4}
    body = sse(
        chunk({"content": [{"type": "thinking", "thinking": [{"type": "text", "text": "hmm"}]}]}),
        chunk({"content": [{"type": "text", "text": "Hi"}]}),
        last,
    )
    assert await collect(body) == [
        ReasoningDelta(0, "hmm"),
        ContentDelta(0, "Hi"),
        ContentDelta(0, " there"),
        Finish(0, "stop"),
        Usage({"prompt_tokens": 5, "completion_tokens": 4}),
    ]


@pytest.mark.parametrize(
    ("pieces", "reasoning", "answer"),
    [
        (["[THINK]plan it[/THINK]The answer"], "plan it", "The answer"),
        (["[TH", "INK]pl", "an it[/TH", "INK]", "The ", "answer"], "plan it", "The answer"),
        (["<think>", "plan it", "</think>\n\nThe answer"], "plan it", "The answer"),
        (["<", "think>plan it</", "think>The answer"], "plan it", "The answer"),
        (["The answer mentions <think> tags"], "", "The answer mentions <think> tags"),
        (["<b>bold</b> answer"], "", "<b>bold</b> answer"),
    ],
)
def test_think_markers_in_content_are_split_into_reasoning(pieces, reasoning, answer):
    splitter = ThinkTagSplitter()
    out = [part for piece in pieces for part in splitter.feed(piece)] + splitter.flush()
    assert "".join(text for is_reasoning, text in out if is_reasoning) == reasoning
    assert "".join(text for is_reasoning, text in out if not is_reasoning) == answer


async def test_think_markers_arrive_as_reasoning_events():
    body = sse(
        chunk({"content": "[THINK]why"}),
        chunk({"content": "[/THINK]Because"}),
        chunk({}, finish="stop"),
    )
    assert await collect(body) == [
        ReasoningDelta(0, "why"),
        ContentDelta(0, "Because"),
        Finish(0, "stop"),
    ]


@pytest.mark.parametrize(
    ("status", "body", "words", "detail"),
    [
        (
            400,
            {
                "error": {
                    "message": "temperature must be in [0, 2]",
                    "type": "BadRequestError",
                    "code": 400,
                }
            },
            "refused the request",
            "temperature must be in [0, 2]",
        ),
        (401, {"error": "Unauthorized"}, "did not accept the API key", "Unauthorized"),
        (
            404,
            {"error": {"message": "The model `x` does not exist.", "code": 404}},
            "could not find",
            "The model `x` does not exist.",
        ),
        (
            422,
            {
                "object": "error",
                "message": {
                    "detail": [{"loc": ["body", "seed"], "msg": "Extra inputs are not permitted"}]
                },
            },
            "refused the request",
            "seed: Extra inputs are not permitted",
        ),
        (
            422,
            {
                "detail": [
                    {
                        "loc": ["body", "max_completion_tokens"],
                        "msg": "Extra inputs are not permitted",
                    }
                ]
            },
            "refused the request",
            "max_completion_tokens: Extra inputs are not permitted",
        ),
        (503, "upstream connect error", "had a problem", "upstream connect error"),
    ],
)
async def test_error_answers_carry_status_and_the_servers_own_message(status, body, words, detail):
    raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    with pytest.raises(UpstreamError) as caught:
        await collect(raw, status=status)
    assert caught.value.status == status
    assert words in caught.value.message
    assert caught.value.detail == detail


async def test_refused_connection_is_explained_in_plain_words():
    async with httpx.AsyncClient() as client:
        with pytest.raises(UpstreamError, match="Could not connect .* Is it running"):
            async for _ in upstream.stream_chat(
                {}, client=client, base_url="http://127.0.0.1:9/v1", api_key=""
            ):
                pass


async def test_api_key_is_sent_as_bearer_only_when_set():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"object": "list", "data": [{"id": "a"}, {"id": "b"}]})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        assert await upstream.list_models(client=client, base_url=BASE, api_key="sk-1") == [
            "a",
            "b",
        ]
        await upstream.list_models(client=client, base_url=BASE, api_key="")
    assert seen[0].headers["authorization"] == "Bearer sk-1"
    assert "authorization" not in seen[1].headers
    assert seen[0].url == "http://upstream.test/v1/models"


HEADERS = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
)
FIRST_WORDS = sse(chunk({"content": "Half"}), done=False)


async def stream_from_raw_server(
    answer: bytes, *, stall: bool = False, read_timeout: float = 5
) -> list:
    """stream_chat through HexPlay's client against a TCP server on loopback that reads the
    request, writes `answer`, then hangs up (or first stalls for longer than the timeout)."""

    async def serve(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(answer)
        await writer.drain()
        if stall:
            await asyncio.sleep(read_timeout * 4)
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    seen = []
    try:
        async with upstream.new_client(connect_timeout=5, read_timeout=read_timeout) as client:
            async for event in upstream.stream_chat(
                {"model": "m", "messages": []},
                client=client,
                base_url=f"http://127.0.0.1:{port}/v1",
                api_key="",
            ):
                seen.append(event)
    finally:
        server.close()
    return seen


def chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


async def test_a_server_that_stops_sending_is_a_read_timeout_in_plain_words():
    answer = HEADERS + chunked(FIRST_WORDS)
    with pytest.raises(UpstreamError, match="stopped answering .*read timeout"):
        await stream_from_raw_server(answer, stall=True, read_timeout=0.3)


async def test_a_connection_cut_in_the_middle_of_the_answer_says_it_broke_off():
    # Half of an HTTP chunk, then the server hangs up.
    answer = HEADERS + chunked(FIRST_WORDS)[:-8]
    with pytest.raises(UpstreamError, match="broke off in the middle of the answer"):
        await stream_from_raw_server(answer)


async def test_a_server_that_hangs_up_without_answering_says_it_broke_off():
    with pytest.raises(UpstreamError, match="broke off"):
        await stream_from_raw_server(b"")


async def test_nothing_listening_is_could_not_connect_through_hexplays_client():
    port = free_port()
    async with upstream.new_client(connect_timeout=5, read_timeout=5) as client:
        with pytest.raises(UpstreamError, match="Could not connect .* Is it running"):
            await upstream.list_models(
                client=client, base_url=f"http://127.0.0.1:{port}/v1", api_key=""
            )
