"""What the next request's prompt costs, counted by the server's own tokenizer, per dialect.

vLLM counts a chat in one `POST /tokenize`; llama.cpp turns it into its prompt text with
`POST /apply-template`, then counts that with `POST /tokenize` and says its context size in
`GET /props`; Mistral's hosted API has no tokenizer endpoint. A failing or slow tokenizer makes
the count unknown and nothing else: it never holds up typing or sending.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any, Literal

from playground import options, refusals, upstream
from playground.models import Conversation
from playground.stream import build_body
from playground.upstream.connections import Connection

# A long conversation is tens of thousands of tokens: past this many, only the first are drawn.
MAX_PIECES = 20_000
# Control tokens of chat templates: Mistral's [INST], [/SYSTEM_PROMPT]…, <s> and </s>,
# ChatML's <|im_start|>, Llama's <|eot_id|>.
_SPECIAL = re.compile(r"\[/?[A-Z][A-Z_]*\]|</?s>|<unk>|<pad>|<\|[^|\s]+\|>")
# Byte-level BPE (GPT-2 style) and SentencePiece spell spaces and line breaks as letters.
_SPELLED = str.maketrans({"Ġ": " ", "Ċ": "\n", "ĉ": "\t", "▁": " "})

Counter = Literal["vllm", "llamacpp"]


@dataclass(frozen=True)
class Piece:
    """One token of the prompt as the tokenizer splits it."""

    text: str
    special: bool


@dataclass(frozen=True)
class Tally:
    """The next request's size against the model's context, as the page shows it."""

    state: Literal["counted", "unknown", "unavailable", "empty"]
    prompt_tokens: int | None = None
    context_length: int | None = None
    # Max tokens as the request asks; None: as many as the context leaves (the server's default).
    answer_tokens: int | None = None
    pieces: list[Piece] | None = None
    pieces_total: int = 0
    reason: str = ""

    @property
    def answer_room(self) -> int:
        """The tokens the answer is given: what it asks for, or the rest of the context."""
        if self.answer_tokens is not None:
            return self.answer_tokens
        if self.prompt_tokens is None or self.context_length is None:
            return 0
        return max(self.context_length - self.prompt_tokens, 0)

    @property
    def fits(self) -> bool:
        if self.prompt_tokens is None or not self.context_length:
            return True
        if self.answer_tokens:
            return self.prompt_tokens + self.answer_tokens <= self.context_length
        # With no Max tokens the server leaves the answer the rest, which must be one at least.
        return self.prompt_tokens < self.context_length

    @property
    def warning(self) -> str:
        if self.fits or self.prompt_tokens is None or self.context_length is None:
            return ""
        return refusals.too_long(self.prompt_tokens, self.answer_tokens, self.context_length)

    @property
    def used(self) -> int:
        """Prompt and answer together, as the bar fills (at most the whole context)."""
        total = (self.prompt_tokens or 0) + self.answer_room
        return min(total, self.context_length) if self.context_length else total

    @property
    def prompt_percent(self) -> float:
        if not self.context_length or self.prompt_tokens is None:
            return 0.0
        return round(min(self.prompt_tokens / self.context_length, 1.0) * 100, 2)

    @property
    def answer_percent(self) -> float:
        """The answer's part of the bar: what is left of the context after the prompt, at most."""
        if not self.context_length:
            return 0.0
        left = max(self.context_length - (self.prompt_tokens or 0), 0)
        return round(min(self.answer_room, left) / self.context_length * 100, 2)

    @property
    def summary(self) -> str:
        """The count in words: the bar's text equivalent."""
        if self.prompt_tokens is None:
            return ""
        prompt = f"{self.prompt_tokens:,} tokens of conversation"
        if self.answer_tokens is not None:
            answer = f"{self.answer_tokens:,} for the answer (Max tokens)"
        else:
            answer = f"up to {self.answer_room:,} for the answer (the rest of the context)"
        if self.context_length is None:
            return f"{prompt}; the server does not say its context length"
        return f"{prompt} + {answer}, of the model's {self.context_length:,}"


def next_request(conversation: Conversation, connection: Connection, typing: str) -> dict[str, Any]:
    """Exactly the body the next Send posts, with the message being typed.

    After an answer, with nothing typed yet, the Send still ends the request with the person's
    turn: it is counted empty (the template's markers around it), as servers refuse a chat
    that ends with an answer unless it is being continued.
    """
    body = build_body(conversation, connection, typing=typing)
    messages = body.get("messages") or []
    ends_with_answer = bool(messages) and messages[-1].get("role") == "assistant"
    if ends_with_answer and not body.get("continue_final_message"):
        body["messages"] = [*messages, {"role": "user", "content": ""}]
    return body


def answer_tokens(body: dict[str, Any]) -> int | None:
    """The answer's length limit the request sets, under any of the servers' names."""
    for name in ("max_completion_tokens", "max_tokens", "n_predict"):
        value = body.get(name)
        # llama.cpp's n_predict -1 means no limit.
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return None


def counter_of(connection: Connection | None) -> Counter | None:
    """Which tokenizer endpoint the connection's server has (None: it has none)."""
    if connection is None:
        return None
    target = options.target_of(connection.dialect)
    if target == options.VLLM:
        return "vllm"
    if target == options.LLAMACPP:
        return "llamacpp"
    return None


async def count(
    body: dict[str, Any],
    connection: Connection | None,
    *,
    client: upstream.Client,
    timeout: float,
    with_pieces: bool = False,
) -> Tally:
    """The server's count of `body`'s prompt (`stream.build_body`), never raising.

    `timeout` bounds the whole count, all its requests together.
    """
    counter = counter_of(connection)
    if connection is None:
        return Tally("unavailable", reason="No connection is configured.")
    if counter is None:
        return Tally(
            "unavailable",
            reason="Token count not available for this server: "
            f"{connection.name} has no tokenizer endpoint.",
        )
    if not body.get("messages"):
        return Tally("empty", reason="Nothing to count yet: write a message or a system prompt.")
    limit = answer_tokens(body)
    try:
        async with asyncio.timeout(timeout):
            if counter == "vllm":
                tokens, context, strings = await _count_vllm(body, connection, client, with_pieces)
            else:
                tokens, context, strings = await _count_llamacpp(
                    body, connection, client, with_pieces
                )
    except TimeoutError:
        return Tally(
            "unknown", answer_tokens=limit, reason=f"The server did not count within {timeout:g} s."
        )
    except upstream.UpstreamError as exc:
        return Tally("unknown", answer_tokens=limit, reason=_why(exc))
    pieces = None if strings is None else [_piece(text) for text in strings[:MAX_PIECES]]
    return Tally(
        "counted",
        prompt_tokens=tokens,
        context_length=context,
        answer_tokens=limit,
        pieces=pieces,
        pieces_total=len(strings or []),
    )


def vllm_request(body: dict[str, Any], *, with_pieces: bool = False) -> dict[str, Any]:
    """vLLM's /tokenize request for the chat request `body`: the prompt it will render."""
    request: dict[str, Any] = {
        "model": body.get("model"),
        "messages": body.get("messages", []),
        "add_generation_prompt": body.get("add_generation_prompt", True),
    }
    if body.get("tools"):
        request["tools"] = body["tools"]
    # The options that change the rendered prompt go as the chat request sends them.
    for name in ("continue_final_message", "add_special_tokens", "chat_template_kwargs"):
        if name in body:
            request[name] = body[name]
    if with_pieces:
        request["return_token_strs"] = True
    return request


def llamacpp_template_request(body: dict[str, Any]) -> dict[str, Any]:
    """llama.cpp's /apply-template request: the messages (and tools) as the chat sends them."""
    request: dict[str, Any] = {"messages": body.get("messages", [])}
    if body.get("tools"):
        request["tools"] = body["tools"]
    return request


async def _count_vllm(
    body: dict[str, Any], connection: Connection, client: upstream.Client, with_pieces: bool
) -> tuple[int, int | None, list[str] | None]:
    answer = await upstream.tokenize(
        vllm_request(body, with_pieces=with_pieces),
        client=client,
        base_url=connection.base_url,
        api_key=connection.api_key,
    )
    try:
        tokens = int(answer["count"])
        context = answer.get("max_model_len")
        strings = answer.get("token_strs") if with_pieces else None
        return tokens, int(context) if context else None, _strings(strings)
    except (KeyError, TypeError, ValueError) as exc:
        raise upstream.UpstreamError("The server's token count was not in vLLM's shape") from exc


async def _count_llamacpp(
    body: dict[str, Any], connection: Connection, client: upstream.Client, with_pieces: bool
) -> tuple[int, int | None, list[str] | None]:
    where = {"client": client, "base_url": connection.base_url, "api_key": connection.api_key}

    template = await upstream.apply_template(llamacpp_template_request(body), **where)
    # add_special: the chat completion tokenizes its prompt so (a BOS, for models that add one).
    request = {"content": template.get("prompt", ""), "add_special": True}
    if with_pieces:
        request["with_pieces"] = True
    tokenized = await upstream.tokenize(request, **where)
    props = await upstream.server_props(**where)
    try:
        tokens = tokenized["tokens"]
        generation = props.get("default_generation_settings") or {}
        context = generation.get("n_ctx") or props.get("n_ctx")
        strings = [_llamacpp_piece(token) for token in tokens] if with_pieces else None
        return len(tokens), int(context) if context else None, strings
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise upstream.UpstreamError(
            "The server's token count was not in llama.cpp's shape"
        ) from exc


def _strings(value: Any) -> list[str] | None:
    if value is None:
        return None
    return [str(item) for item in value]


def _llamacpp_piece(token: dict[str, Any]) -> str:
    piece = token["piece"]
    if isinstance(piece, list):  # bytes that are not UTF-8 on their own: part of a character
        return "".join(f"\\x{byte:02x}" for byte in piece)
    return str(piece)


def _piece(text: str) -> Piece:
    if _SPECIAL.fullmatch(text):
        return Piece(text, special=True)
    return Piece(text.translate(_SPELLED), special=False)


def _why(error: upstream.UpstreamError) -> str:
    """Why the count is unknown, in a few words; the server's own when it gave some."""
    if error.status is None:
        return "The server's tokenizer could not be reached."
    detail = f": {error.detail[:200]}" if error.detail else ""
    return f"The server's tokenizer refused (HTTP {error.status}){detail}"
