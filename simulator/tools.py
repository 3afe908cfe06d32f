"""Tool calls: which tools an answer calls and with what arguments, and answers to their results."""

from __future__ import annotations

import json
import random
import re
from typing import Any

from simulator.structured import example
from simulator.text import ALNUM, HOOK, Pieces, answer_pieces, text_of


def tool_calls(
    body: dict[str, Any], hooks: dict[str, str], last_user: str, rng: random.Random, topic: list
) -> list[dict[str, Any]]:
    """The calls of one answer: what tool_choice forces, or the tools the message asks for.

    required and a named tool call in every answer, even right after tool results, as vLLM's
    grammar makes them; auto calls the tools the last user message plainly asks for (their
    name, or a word of it such as "weather" for get_current_weather), and never right after
    tool results, which it answers in words. parallel_tool_calls false keeps the first call.
    """
    functions = [
        tool["function"]
        for tool in body.get("tools") or []
        if isinstance(tool, dict)
        and isinstance(tool.get("function"), dict)
        and isinstance(tool["function"].get("name"), str)
    ]
    choice = body.get("tool_choice")
    if not functions or choice in (None, "none"):
        return []
    after_results = body["messages"][-1].get("role") == "tool"
    asked = [f for f in functions if _asks_for(f["name"], last_user)]
    if isinstance(choice, dict):
        chosen = [next(f for f in functions if f["name"] == choice["function"]["name"])]
    elif choice == "required" or ("tool-call" in hooks and not after_results):
        chosen = asked or functions[:1]
    elif after_results:
        return []
    else:
        chosen = asked
    if body.get("parallel_tool_calls") is False:
        chosen = chosen[:1]
    # Arguments take the message's names (Paris, Oslo) first: they are what tools look up.
    names = _proper_nouns(HOOK.sub(" ", last_user))
    calls = []
    for function in chosen:
        parameters = function.get("parameters") or {"type": "object"}
        arguments = example(parameters, rng, names or topic)
        calls.append(
            {
                # Mistral's parser makes 9-character alphanumeric ids.
                "id": "".join(rng.choice(ALNUM) for _ in range(9)),
                "type": "function",
                "function": {"name": function["name"], "arguments": json.dumps(arguments)},
            }
        )
    return calls


# Words of tool names too common to show that a message asks for that tool.
_GENERIC_NAME_WORDS = {
    "get", "set", "current", "fetch", "find", "lookup", "look", "list", "info", "data", "tool",
    "call", "run", "make", "the", "for", "and", "by", "of", "to", "from", "new", "all",
}  # fmt: skip


def _asks_for(name: str, text: str) -> bool:
    """Whether `text` plainly asks for the tool called `name` (its name or a telling word)."""
    if name in text:
        return True
    words = {w.lower() for w in re.split(r"[_\-\s]+|(?<=[a-z])(?=[A-Z])", name)}
    telling = {w for w in words if len(w) >= 3 and w not in _GENERIC_NAME_WORDS}
    said = {w.lower().rstrip("s") for w in re.findall(r"[A-Za-z]+", text)}
    return any(w.rstrip("s") in said for w in telling)


def _proper_nouns(text: str) -> list[str]:
    """Capitalised words that do not start a sentence, such as Paris in "What about Paris?"."""
    found = []
    for sentence in re.split(r"[.!?]+\s*", text):
        words = re.findall(r"[A-Za-z][A-Za-z'-]*", sentence)
        found += [word for word in words[1:] if word[0].isupper() and word != "I"]
    return list(dict.fromkeys(found))


def tool_results(messages: list[Any]) -> list[tuple[str, str]]:
    """(tool name, result) of the tool messages that end the conversation, in their order."""
    results: list[tuple[str, str]] = []
    for message in reversed(messages):
        if not isinstance(message, dict) or message.get("role") != "tool":
            break
        results.append((message.get("name") or "", text_of(message.get("content"))))
    results.reverse()
    if not results:
        return []
    # Results without a name are named by the call they answer.
    calls = next(
        (m.get("tool_calls") or [] for m in reversed(messages) if m.get("role") == "assistant"),
        [],
    )
    names = {c.get("id"): (c.get("function") or {}).get("name", "") for c in calls}
    answers = messages[len(messages) - len(results) :]
    return [
        (name or names.get(answer.get("tool_call_id"), "") or "the tool", text)
        for (name, text), answer in zip(results, answers, strict=True)
    ]


def result_pieces(rng: random.Random, results: list[tuple[str, str]], topic: list) -> list[str]:
    """An answer that uses the tool results: each quoted, then a sentence or two more."""
    out = Pieces()
    for name, text in results:
        shown = " ".join(text.split())
        if len(shown) > 300:
            shown = shown[:300].rsplit(" ", 1)[0] + "…"
        for word in f"According to {name}: {shown}".split():
            out.word(word)
        out.raw(".\n\n" if not shown.endswith((".", "!", "?", "…")) else "\n\n")
    pieces = out.pieces + answer_pieces(rng, topic, code=False, target=12)
    return pieces
