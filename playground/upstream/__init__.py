"""Where answers come from: the HTTP client of OpenAI-compatible servers, the connections staff
configure, and the local llama.cpp process. `client` is the only module that imports httpx
(and aiohttp, its transport).

The client's public names are re-exported here, so callers write `upstream.stream_chat(...)`.
"""

from playground.upstream.client import (
    Client,
    apply_template,
    close_shared_client,
    list_models,
    new_client,
    server_props,
    server_root,
    shared_client,
    stream_chat,
    tokenize,
)
from playground.upstream.events import (
    ContentDelta,
    Event,
    Finish,
    LogprobsDelta,
    ReasoningDelta,
    RoleDelta,
    ToolCallDelta,
    UpstreamError,
    Usage,
)
from playground.upstream.sse import SSEDecoder, ThinkTagSplitter

__all__ = [
    "Client",
    "ContentDelta",
    "Event",
    "Finish",
    "LogprobsDelta",
    "ReasoningDelta",
    "RoleDelta",
    "SSEDecoder",
    "ThinkTagSplitter",
    "ToolCallDelta",
    "UpstreamError",
    "Usage",
    "apply_template",
    "close_shared_client",
    "list_models",
    "new_client",
    "server_props",
    "server_root",
    "shared_client",
    "stream_chat",
    "tokenize",
]
