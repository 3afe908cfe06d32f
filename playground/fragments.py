"""The HTML the websocket sends: the page's own partials, so a message's markup exists once."""

from __future__ import annotations

import json
from typing import Any

from django.template.loader import render_to_string

from playground import outputs
from playground.models import Conversation, Message, latest
from playground.stream import Piece

_PAGE = "playground/conversation.html"


def append_message(message: Message) -> str:
    n = int((message.request_body or {}).get("n") or 1)
    if message.status == Message.Status.STREAMING and n > 1:
        # Empty columns for the candidates to stream into, side by side.
        message.candidates = [outputs.Candidate(index) for index in range(n)]
    return render_to_string(f"{_PAGE}#append_message", {"message": message})


def replace_message(message: Message) -> str:
    """The finished answer, in place of the streaming one (it is the last on screen)."""
    message.is_last = True
    message.load_versions()
    # Worked out when the streaming message was first drawn, before any call had arrived.
    for stale in ("tool_call_cards", "result_boxes"):
        message.__dict__.pop(stale, None)
    message.load_candidates()
    # With no hx-swap-oob attribute the ws extension swaps the element with the same id whole.
    return render_to_string(f"{_PAGE}#message", {"message": message})


def messages_list(conversation: Conversation, path: list[Message] | None = None) -> str:
    """The whole branch on screen, after an edit changed what follows."""
    path = conversation.path() if path is None else path
    context = {"conversation": conversation} | latest(path)
    return render_to_string(f"{_PAGE}#messages_list", context)


def rejoined(conversation: Conversation, answer_pk: int, shown: dict[str, Any]) -> list[str]:
    """The branch with the answer streaming as far as it has arrived (`live.Shown`), for a
    socket that opens mid-answer; the live frames carry on from there."""
    path = conversation.path()
    answer = next((m for m in path if m.pk == answer_pk), None)
    if answer is None:  # not on the branch shown (another version is)
        return []
    answer.content, answer.reasoning = shown["content"], shown["reasoning"]
    # Drawn as they were while streaming, so their arguments keep growing in place.
    so_far = [Piece("reasoning_done", shown["reasoning_time"])] if shown["reasoning_time"] else []
    for index, name, arguments in shown["tool_calls"]:
        so_far.append(Piece("tool_call", name, index))
        if arguments:
            so_far.append(Piece("tool_arguments", arguments, index))
    listing = messages_list(conversation, path) + composer_buttons(busy=True)
    return [listing, *pieces(answer, so_far)]


# Pieces of text appended to an element of the streaming message, by the element's id suffix.
_TEXT_TARGETS = {
    "content": "content",
    "reasoning": "reasoning-text",
    "candidate": "candidate-{index}-content",
    "tool_arguments": "call-{index}",
}


def pieces(message: Message, batch: list[Piece]) -> list[str]:
    """The socket messages for a batch of pieces, in order.

    Text is the bulk of an answer, paid for per chunk: it goes as a small JSON frame,
    `{"append": [[element id, text], ...], "n": deltas}`, that the page appends as text nodes
    (so no byte of it is parsed as HTML, and there is no template render here or fragment
    swap there).
    A tool call's card and the end of the reasoning are markup: the page's own partial.
    """
    frames: list[str] = []
    appends: list[list[str]] = []
    # How many deltas the frame holds, for the page's tokens-per-second while it streams.
    counted = sum(piece.kind in _TEXT_TARGETS for piece in batch)
    for piece in merge(batch):
        suffix = _TEXT_TARGETS.get(piece.kind)
        if suffix is not None:
            appends.append([f"{message.dom_id}-{suffix.format(index=piece.index)}", piece.text])
            continue
        if appends:
            frames.append(json.dumps({"append": appends, "n": counted}, ensure_ascii=False))
            appends, counted = [], 0
        frames.append(render_to_string(f"{_PAGE}#pieces", {"message": message, "pieces": [piece]}))
    if appends:
        frames.append(json.dumps({"append": appends, "n": counted}, ensure_ascii=False))
    return frames


def retitle(conversation: Conversation) -> str:
    """The heading and the sidebar entry, once the first message has named the conversation."""
    return render_to_string(f"{_PAGE}#retitle", {"conversation": conversation})


_ENDED = {
    Message.Status.COMPLETE: "The answer is complete.",
    Message.Status.STOPPED: "The answer was stopped.",
    Message.Status.ERROR: "The answer failed: the reason is under it.",
}


def composer_buttons(*, busy: bool, ended: str = "") -> str:
    """Send and Stop for an answer starting (busy) or ended (`ended`: its status), with the
    screen readers' announcement of it."""
    said = "Answering…" if busy else _ENDED.get(ended, "")
    return render_to_string(f"{_PAGE}#composer_buttons", {"busy": busy}) + render_to_string(
        f"{_PAGE}#answer_status", {"said": said}
    )


def notice(text: str = "", *, retry: bool = False) -> str:
    """A message above the composer; `retry` offers to ask again once the cause is fixed."""
    return render_to_string(f"{_PAGE}#notice", {"text": text, "retry": retry})


def merge(batch: list[Piece]) -> list[Piece]:
    """Neighbouring pieces of one kind become one, so the page does one swap for them."""
    merged: list[Piece] = []
    for piece in batch:
        last = merged[-1] if merged else None
        if (
            last is not None
            and (last.kind, last.index) == (piece.kind, piece.index)
            and piece.kind in ("content", "reasoning", "tool_arguments", "candidate")
        ):
            merged[-1] = Piece(piece.kind, last.text + piece.text, piece.index)
        else:
            merged.append(piece)
    return merged
