"""The prompt a request becomes: messages and tools laid out as Mistral's chat template does,
split by the simulator's pseudo-tokenizer. Usage's prompt_tokens and /tokenize both count it."""

from __future__ import annotations

import json
import re
import zlib
from typing import Any

from simulator.text import json_pieces, text_of

# Mistral's control tokens, with the ids Tekken gives them (the first 1,000 ids are special).
SPECIAL_IDS = {
    "<unk>": 0,
    "<s>": 1,
    "</s>": 2,
    "[INST]": 3,
    "[/INST]": 4,
    "[AVAILABLE_TOOLS]": 5,
    "[/AVAILABLE_TOOLS]": 6,
    "[TOOL_RESULTS]": 7,
    "[/TOOL_RESULTS]": 8,
    "[TOOL_CALLS]": 9,
    "[SYSTEM_PROMPT]": 17,
    "[/SYSTEM_PROMPT]": 18,
    "[ARGS]": 32,
    "[THINK]": 34,
    "[/THINK]": 35,
}
_FIRST_TEXT_ID = 1000
VOCABULARY = 131072

# A word with the whitespace before it is one token: a text has as many as str.split() finds.
_WORD = re.compile(r"\s*\S+")


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def prompt_pieces(
    messages: list[dict[str, Any]],
    tools: list[Any] | None = None,
    *,
    continue_final_message: bool = False,
) -> list[str]:
    """The prompt's tokens as strings: `<s>`, then each message between its control tokens.

    As in mistral-common's v7+ templates, the tools are listed just before the last user
    message; an answer ends with `</s>` unless it is the one being continued.
    """
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    pieces = ["<s>"]
    if tools and last_user < 0:
        pieces += _tools(tools)
    for index, message in enumerate(messages):
        role = message.get("role")
        content = text_of(message.get("content"))
        if role in ("system", "developer"):
            pieces += ["[SYSTEM_PROMPT]", *words(content), "[/SYSTEM_PROMPT]"]
        elif role == "user":
            if tools and index == last_user:
                pieces += _tools(tools)
            pieces += ["[INST]", *words(content), "[/INST]"]
        elif role == "tool":
            pieces += ["[TOOL_RESULTS]", *words(content), "[/TOOL_RESULTS]"]
        else:
            reasoning = text_of(message.get("reasoning"))
            if reasoning:
                pieces += ["[THINK]", *words(reasoning), "[/THINK]"]
            pieces += words(content)
            for call in message.get("tool_calls") or []:
                function = call.get("function") if isinstance(call, dict) else None
                if not isinstance(function, dict):
                    function = {}
                arguments = function.get("arguments")
                if not isinstance(arguments, str):
                    arguments = json.dumps(arguments, ensure_ascii=False)
                pieces += ["[TOOL_CALLS]", *words(str(function.get("name", "")))]
                pieces += ["[ARGS]", *json_pieces(arguments)]
            if not (continue_final_message and index == len(messages) - 1):
                pieces.append("</s>")
    return pieces


def _tools(tools: list[Any]) -> list[str]:
    listed = json.dumps(tools, ensure_ascii=False)
    return ["[AVAILABLE_TOOLS]", *json_pieces(listed), "[/AVAILABLE_TOOLS]"]


def token_id(piece: str) -> int:
    """A made-up but stable id: the same text is always the same token."""
    if piece in SPECIAL_IDS:
        return SPECIAL_IDS[piece]
    span = VOCABULARY - _FIRST_TEXT_ID
    return _FIRST_TEXT_ID + zlib.crc32(piece.encode()) % span
