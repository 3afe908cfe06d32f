"""One answer, planned before anything is written so that pacing only decides *when* to write."""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import time
from dataclasses import dataclass, field
from typing import Any

from simulator.catalog import MAX_LOGPROBS, MAX_MODEL_LEN, MODELS, REASONING_MODELS, SAMPLING_EPS
from simulator.checks import (
    check_fields,
    check_rendering,
    check_request_model,
    check_sampling,
    served_model,
)
from simulator.errors import ApiError, serving_error
from simulator.prompt import prompt_pieces
from simulator.structured import structured_text
from simulator.text import (
    FALLBACK_WORDS,
    HOOK,
    answer_pieces,
    json_pieces,
    reasoning_pieces,
    text_of,
    topic_words,
)
from simulator.tools import result_pieces, tool_calls, tool_results


@dataclass
class _Choice:
    index: int
    # ("reasoning" | "content", text) or ("tool", call_index, id, name) or ("args", index, text)
    tokens: list[tuple] = field(default_factory=list)
    finish_reason: str | None = None
    stop_reason: str | None = None
    generated: int = 0
    reasoning_tokens: int = 0
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    logprobs: list[dict[str, Any] | None] = field(default_factory=list)


@dataclass
class Plan:
    id: str
    created: int
    model: str
    stream: bool
    role: str
    prompt_tokens: int
    choices: list[_Choice]
    hooks: dict[str, str]
    include_usage: bool = False
    continuous_usage: bool = False
    reasoning_parser: bool = False
    engine_error: ApiError | None = None

    @property
    def completion_tokens(self) -> int:
        return sum(choice.generated for choice in self.choices)

    def usage(self, *, exclude_none: bool) -> dict[str, Any]:
        completion = self.completion_tokens
        usage: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "total_tokens": self.prompt_tokens + completion,
            "completion_tokens": completion,
        }
        details = None
        if self.reasoning_parser:
            details = {"reasoning_tokens": sum(c.reasoning_tokens for c in self.choices)}
        if not exclude_none:
            usage["prompt_tokens_details"] = None
        if details is not None or not exclude_none:
            usage["completion_tokens_details"] = details
        return usage


def plan_answer(body: dict[str, Any], headers: dict[str, str]) -> Plan:
    check_request_model(body)
    values = check_fields(body)

    model = served_model(body)

    messages = body["messages"]
    check_rendering(body, messages)
    # The same count /tokenize gives for these messages and tools, control tokens included.
    prompt_tokens = len(
        prompt_pieces(
            messages,
            body.get("tools"),
            continue_final_message=bool(body.get("continue_final_message")),
        )
    )

    if values["max_completion_tokens"] is not None:
        requested, requested_param = values["max_completion_tokens"], "max_completion_tokens"
    else:
        requested, requested_param = values["max_tokens"], "max_tokens"
    if requested is not None and requested > MAX_MODEL_LEN:
        raise serving_error(
            f"{requested_param}={requested}cannot be greater than "
            f"max_model_len=max_total_tokens={MAX_MODEL_LEN}. Please request fewer output tokens.",
            requested_param,
            requested,
        )
    max_input = MAX_MODEL_LEN - (requested or 0)
    if prompt_tokens > max_input:
        raise serving_error(
            f"You passed {prompt_tokens} input tokens and requested {requested or 0} output "
            f"tokens. However, the model's context length is only {MAX_MODEL_LEN} tokens, "
            f"resulting in a maximum input length of {max_input} tokens. "
            "Please reduce the length of the input prompt.",
            "input_tokens",
            prompt_tokens,
        )
    max_tokens = MAX_MODEL_LEN - prompt_tokens
    if requested is not None:
        max_tokens = min(max_tokens, requested)
    check_sampling(values, max_tokens)

    last_user = next(
        (text_of(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), ""
    )
    hooks = {name: value or "" for name, value in HOOK.findall(last_user)}
    stream = bool(body.get("stream"))
    stream_options = body.get("stream_options") or {}
    include_usage = stream and bool(stream_options.get("include_usage"))
    request_id = headers.get("x-request-id") or body.get("request_id") or os.urandom(8).hex()
    add_generation_prompt = body.get("add_generation_prompt", True)
    plan = Plan(
        id=f"chatcmpl-{request_id}",
        created=int(time.time()),
        model=model,
        stream=stream,
        role="assistant" if add_generation_prompt else messages[-1]["role"],
        prompt_tokens=prompt_tokens,
        choices=[],
        hooks=hooks,
        include_usage=include_usage,
        continuous_usage=include_usage and bool(stream_options.get("continuous_usage_stats")),
        reasoning_parser=model in REASONING_MODELS and "think-tags" not in hooks,
    )

    # The engine validates logprob limits only once generation starts: a streaming client
    # already has its 200 and gets the error as an event.
    top_logprobs = body.get("top_logprobs") or 0
    if body.get("logprobs"):
        wanted = (32768 if "7B" in model else 131072) if top_logprobs == -1 else top_logprobs
        if wanted > MAX_LOGPROBS:
            plan.engine_error = serving_error(
                f"Requested sample logprobs of {wanted}, which is greater than max allowed: "
                f"{MAX_LOGPROBS}",
                "logprobs",
                wanted,
            )
            return plan

    base = _answer_seed(model, messages, values)
    n = values["n"] or 1
    for index in range(n):
        plan.choices.append(
            _generate(
                body,
                values,
                hooks,
                last_user,
                rng=random.Random(base + index),
                index=index,
                reasoning_parser=plan.reasoning_parser,
                max_tokens=max_tokens,
            )
        )
    return plan


def _answer_seed(model: str, messages: list[Any], values: dict[str, Any]) -> int:
    """Where the answer's random numbers start: fixed by a seed or by greedy decoding, else fresh.

    As in vLLM, a request without a seed samples anew, so Regenerate gives another answer;
    temperature 0 is greedy and gives the same answer every time, whatever the seed.
    """
    temperature = 1.0 if values["temperature"] is None else values["temperature"]
    greedy = temperature < SAMPLING_EPS
    seed = None if greedy or values["seed"] == -1 else values["seed"]
    if seed is None and not greedy:
        return int.from_bytes(os.urandom(8), "big")
    key = json.dumps([model, messages, seed], sort_keys=True, default=str).encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")


def _generate(
    body: dict[str, Any],
    values: dict[str, Any],
    hooks: dict[str, str],
    last_user: str,
    *,
    rng: random.Random,
    index: int,
    reasoning_parser: bool,
    max_tokens: int,
) -> _Choice:
    choice = _Choice(index=index)
    topic = topic_words(HOOK.sub(" ", last_user))
    model = body.get("model") or MODELS[0]

    thinking: list[str] = []
    thinks = model in REASONING_MODELS or "think-tags" in hooks
    if thinks and body.get("reasoning_effort") != "none":
        thinking = reasoning_pieces(rng, topic)
        budget = values["thinking_token_budget"]
        if reasoning_parser and budget is not None and budget >= 0:
            thinking = thinking[:budget]

    calls = tool_calls(body, hooks, last_user, rng, topic)
    min_tokens = values["min_tokens"] or 0
    if calls:
        answer: list[str] = []
    elif (structured := structured_text(body, rng, topic)) is not None:
        answer = json_pieces(structured)
    else:
        if "say" in hooks:  # exactly this text, three characters a chunk
            said = hooks["say"]
            answer = [said[i : i + 3] for i in range(0, len(said), 3)]
        elif "tokens" in hooks and hooks["tokens"].isdigit():
            count = int(hooks["tokens"])
            answer = answer_pieces(rng, topic, code=False, target=count)[:count]
        elif results := tool_results(body["messages"]):
            answer = result_pieces(rng, results, topic)
        else:
            target = rng.randint(1900, 2100) if "long" in hooks else rng.randint(40, 80)
            wants_code = re.search(r"\bcode", last_user, re.I) is not None
            answer = answer_pieces(rng, topic, code=wants_code, target=target)
        # The end-of-sequence token is suppressed until min_tokens, and for good by ignore_eos.
        wanted = max_tokens if body.get("ignore_eos") else min_tokens
        if len(answer) < wanted:
            answer += ["\n\n", *answer_pieces(rng, topic, code=False, target=wanted)]
        answer = _without_words(answer, body.get("bad_words") or [], rng)

    tokens: list[tuple] = []
    if "think-tags" in hooks:
        if thinking:
            pieces = ["[TH", "INK]", *thinking, "[/TH", "INK]"]
            tokens += [("content", piece) for piece in pieces]
    else:
        tokens += [("reasoning", piece) for piece in thinking]
    tokens += [("content", piece) for piece in answer]
    for call_index, call in enumerate(calls):
        tokens.append(("tool", call_index, call["id"], call["function"]["name"]))
        tokens += [("args", call_index, p) for p in json_pieces(call["function"]["arguments"])]

    natural_end = len(tokens)
    include_stop = bool(body.get("include_stop_str_in_output"))
    stop_at = _find_stop(tokens, values["stop"], include_stop, after=min_tokens - 1)
    if stop_at is not None and stop_at[0] < max_tokens:
        cut, stop_string, kept = stop_at
        tokens = kept
        choice.generated = cut + 1
        choice.finish_reason, choice.stop_reason = "stop", stop_string
    elif natural_end >= max_tokens:
        tokens = tokens[:max_tokens]
        choice.generated = max_tokens
        choice.finish_reason = "length"
    else:
        choice.generated = natural_end + 1  # the end-of-sequence token
        named = isinstance(body.get("tool_choice"), dict)
        choice.finish_reason = "tool_calls" if calls and not named else "stop"
    choice.tokens = tokens
    choice.reasoning_tokens = min(len(thinking), choice.generated) if reasoning_parser else 0

    # Only the calls whose name made it out before a cut are returned.
    emitted = {token[1] for token in tokens if token[0] == "tool"}
    arguments: dict[int, str] = {}
    for token in tokens:
        if token[0] == "args":
            arguments[token[1]] = arguments.get(token[1], "") + token[2]
    choice.tool_calls = [
        {**call, "function": {**call["function"], "arguments": arguments.get(i, "")}}
        for i, call in enumerate(calls)
        if i in emitted
    ]

    if body.get("logprobs") and body.get("include_reasoning", True) is not False:
        top = max(body.get("top_logprobs") or 0, 0)
        choice.logprobs = [_logprob(token, rng, top) for token in tokens]
    return choice


def _find_stop(
    tokens: list[tuple], stops: list[str], include: bool, *, after: int = -1
) -> tuple[int, str, list[tuple]] | None:
    """(index of the token that completed a stop string, the string, the tokens cut there).

    Tokens up to index `after` cannot stop the answer (min_tokens).
    """
    if not stops:
        return None
    text = {"reasoning": "", "content": ""}
    longest = max(len(s) for s in stops)
    for i, token in enumerate(tokens):
        kind = token[0]
        if kind not in text:
            continue
        before = len(text[kind])
        text[kind] += token[1]
        if i <= after:
            continue
        # vLLM checks each stop string in order over the newly added text.
        for stop in stops:
            found = text[kind].find(stop, max(0, before - longest + 1))
            if found == -1:
                continue
            end = found + len(stop) if include else found
            kept, offset = [], 0
            for earlier in tokens[:i] + [token]:
                if earlier[0] != kind:
                    kept.append(earlier)
                    continue
                piece = earlier[1][: max(0, end - offset)]
                offset += len(earlier[1])
                if piece:
                    kept.append((kind, piece))
            return i, stop, kept
    return None


def _without_words(pieces: list[str], banned: list[str], rng: random.Random) -> list[str]:
    """The pieces with every banned single word swapped for another (bad_words)."""
    words = {word.strip().lower() for word in banned if word.strip()}
    if not words:
        return pieces
    spare = [w for w in FALLBACK_WORDS if w not in words] or ["thing"]
    kept = []
    for piece in pieces:
        core = piece.strip().strip(".,:;!?*")
        if core.lower() in words:
            piece = piece.replace(core, rng.choice(spare), 1)
        kept.append(piece)
    return kept


def _logprob(token: tuple, rng: random.Random, top: int) -> dict[str, Any] | None:
    if token[0] not in ("reasoning", "content"):
        return None
    value = round(-rng.random() * 1.5, 4)
    # vLLM lists the sampled token first among the alternatives.
    alternatives = [(token[1], value)] + [
        (" " + rng.choice(FALLBACK_WORDS), round(value - rank - rng.random(), 4))
        for rank in range(1, top)
    ]
    return {
        "token": token[1],
        "logprob": value,
        "bytes": list(token[1].encode()),
        "top_logprobs": [
            {"token": text, "logprob": logprob, "bytes": list(text.encode())}
            for text, logprob in alternatives[:top]
        ],
    }
