"""What goes on the wire: vLLM's bodies as dicts, its stream chunks as pre-built strings."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from simulator.catalog import MAX_MODEL_LEN, MODELS, SYSTEM_FINGERPRINT
from simulator.checks import check_rendering, served_model
from simulator.errors import field_error, status_error, validation_error, validator_error
from simulator.plan import Plan
from simulator.prompt import prompt_pieces, token_id, words


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def completion_body(plan: Plan, include_reasoning: bool) -> dict[str, Any]:
    choices = []
    for choice in plan.choices:
        content = "".join(t[1] for t in choice.tokens if t[0] == "content")
        reasoning = "".join(t[1] for t in choice.tokens if t[0] == "reasoning")
        has_content = any(t[0] == "content" for t in choice.tokens)
        message: dict[str, Any] = {
            "role": plan.role,
            "content": content if has_content or not (reasoning or choice.tool_calls) else None,
            "refusal": None,
            "annotations": None,
            "audio": None,
            "function_call": None,
        }
        if choice.tool_calls:
            message["tool_calls"] = choice.tool_calls
        message["reasoning"] = reasoning if reasoning and include_reasoning else None
        logprobs = [entry for entry in choice.logprobs if entry is not None]
        choices.append(
            {
                "index": choice.index,
                "message": message,
                "logprobs": {"content": logprobs} if choice.logprobs else None,
                "finish_reason": choice.finish_reason,
                "stop_reason": choice.stop_reason,
                "token_ids": None,
                "routed_experts": None,
                "weight_versions": None,
            }
        )
    return {
        "id": plan.id,
        "object": "chat.completion",
        "created": plan.created,
        "model": plan.model,
        "choices": choices,
        "service_tier": None,
        "system_fingerprint": SYSTEM_FINGERPRINT,
        "usage": plan.usage(exclude_none=False),
        "prompt_logprobs": None,
        "prompt_token_ids": None,
        "prompt_text": None,
        "kv_transfer_params": None,
        "ec_transfer_params": None,
        "metrics": None,
    }


# How the writer paces a frame: not at all, as the first token, or as any later chunk.
NOW, FIRST, NEXT = 0, 1, 2
# A frame: (pacing, bytes, counts as a chunk, the content or reasoning text it carries or "").
Frame = tuple[int, bytes, int, str]


def _frame(text: str) -> bytes:
    """One SSE event as one HTTP/1.1 chunk, ready for a single sendall()."""
    data = text.encode()
    return b"%x\r\n%b\r\n" % (len(data), data)


def stream_frames(
    plan: Plan, include_reasoning: bool, whole_tool_calls: bool = False
) -> list[Frame]:
    """Every frame of the answer as (pacing, bytes, counts as a chunk, text it carries)."""
    if plan.engine_error is not None:
        return [
            (NOW, _frame(f"data: {dumps(plan.engine_error.payload())}\n\n"), 1, ""),
            (NOW, _frame("data: [DONE]\n\n"), 0, ""),
        ]
    hooks = plan.hooks
    head = (
        f'data: {{"id":{dumps(plan.id)},"object":"chat.completion.chunk",'
        f'"created":{plan.created},"model":{dumps(plan.model)},"choices":[{{"index":'
    )
    prompt = plan.prompt_tokens

    def usage(done: int) -> str:
        if not plan.continuous_usage:
            return ""
        return (
            f',"usage":{{"prompt_tokens":{prompt},"total_tokens":{prompt + done},'
            f'"completion_tokens":{done}}}'
        )

    per_choice: list[list[Frame]] = []
    for choice in plan.choices:
        i = choice.index
        frames = [
            (
                NOW,
                _frame(
                    f'{head}{i},"delta":{{"role":{dumps(plan.role)},"content":""}},'
                    f'"logprobs":null,"finish_reason":null}}]{usage(0)},'
                    '"prompt_token_ids":null,"prompt_text":null}\n\n'
                ),
                1,
                "",
            )
        ]
        tokens = choice.tokens
        if not include_reasoning:
            tokens = [t for t in tokens if t[0] != "reasoning"]
        logprobs = choice.logprobs if include_reasoning else []
        if whole_tool_calls:
            tokens, logprobs = _whole_tool_calls(tokens, logprobs)
        deltas = [_delta(token) for token in tokens]
        texts = [_text(token) for token in tokens]
        lps = [
            dumps({"content": [logprobs[k]]}) if k < len(logprobs) and logprobs[k] else "null"
            for k in range(len(tokens))
        ] if logprobs else ["null"] * len(tokens)  # fmt: skip
        truncated = "no-done" in hooks or "stream-error" in hooks
        # A cut answer (length, stop string) sends its last piece with the finish reason.
        last_rides = choice.finish_reason in ("length",) or choice.stop_reason is not None
        body_count = len(deltas) - (1 if last_rides and deltas and not truncated else 0)
        if "stream-error" in hooks:
            body_count = min(body_count, 3)
        done = len(choice.tokens) - len(tokens)  # hidden reasoning tokens still count
        for k in range(body_count):
            done += 1
            frames.append(
                (
                    FIRST if k == 0 else NEXT,
                    _frame(
                        f'{head}{i},"delta":{deltas[k]},"logprobs":{lps[k]},'
                        f'"finish_reason":null,"token_ids":null}}]{usage(done)},'
                        '"kv_transfer_params":null}\n\n'
                    ),
                    1,
                    texts[k],
                )
            )
        if truncated:
            per_choice.append(frames)
            continue
        delta = deltas[-1] if body_count < len(deltas) else "{}"
        lp = lps[-1] if body_count < len(deltas) else "null"
        text = texts[-1] if body_count < len(deltas) else ""
        fingerprint = "" if plan.include_usage else f',"system_fingerprint":"{SYSTEM_FINGERPRINT}"'
        frames.append(
            (
                FIRST if body_count == 0 else NEXT,
                _frame(
                    f'{head}{i},"delta":{delta},"logprobs":{lp},'
                    f'"finish_reason":{dumps(choice.finish_reason)},'
                    f'"stop_reason":{dumps(choice.stop_reason)},'
                    f'"token_ids":null,"weight_versions":null}}]{usage(choice.generated)}'
                    f'{fingerprint},"kv_transfer_params":null}}\n\n'
                ),
                1,
                text,
            )
        )
        per_choice.append(frames)

    # Choices advance together, one step each, as the engine batches them.
    frames: list[Frame] = []
    longest = max((len(f) for f in per_choice), default=0)
    for step in range(longest):
        for choice_frames in per_choice:
            if step < len(choice_frames):
                pace, data, counted, text = choice_frames[step]
                if frames and pace == FIRST and any(p != NOW for p, _, _, _ in frames):
                    pace = NEXT
                frames.append((pace, data, counted, text))

    if "stream-error" in hooks:
        error = status_error(500, "The simulator was asked to fail in the middle of the stream")
        frames.append((NEXT, _frame(f"data: {dumps(error.payload())}\n\n"), 1, ""))
        frames.append((NOW, _frame("data: [DONE]\n\n"), 0, ""))
    elif "no-done" not in hooks:
        if plan.include_usage:
            usage_chunk = {
                "id": plan.id,
                "object": "chat.completion.chunk",
                "created": plan.created,
                "model": plan.model,
                "choices": [],
                "usage": plan.usage(exclude_none=True),
                "system_fingerprint": SYSTEM_FINGERPRINT,
            }
            frames.append((NOW, _frame(f"data: {dumps(usage_chunk)}\n\n"), 1, ""))
        frames.append((NOW, _frame("data: [DONE]\n\n"), 0, ""))

    if "keepalive" in hooks:
        comment = _frame(": keep-alive\n\n")
        with_comments: list[Frame] = [(NOW, comment, 0, "")]
        for k, item in enumerate(frames):
            with_comments.append(item)
            if k % 2 == 1 and k < len(frames) - 1:
                with_comments.append((NOW, comment, 0, ""))
        frames = with_comments
    return frames


def _whole_tool_calls(tokens: list[tuple], logprobs: list) -> tuple[list[tuple], list]:
    """The tokens with each call's arguments folded into the token that names it."""
    arguments: dict[int, str] = {}
    for token in tokens:
        if token[0] == "args":
            arguments[token[1]] = arguments.get(token[1], "") + token[2]
    kept = [k for k, token in enumerate(tokens) if token[0] != "args"]
    folded = [
        (*tokens[k], arguments.get(tokens[k][1], "")) if tokens[k][0] == "tool" else tokens[k]
        for k in kept
    ]
    return folded, [logprobs[k] for k in kept if k < len(logprobs)]


def _text(token: tuple) -> str:
    """The content or reasoning text that a token carries; "" for the pieces of a tool call."""
    return token[1] if token[0] in ("content", "reasoning") else ""


def _delta(token: tuple) -> str:
    kind = token[0]
    if kind == "content":
        return f'{{"content":{dumps(token[1])}}}'
    if kind == "reasoning":
        return f'{{"reasoning":{dumps(token[1])}}}'
    if kind == "tool" and len(token) == 5:
        return (
            f'{{"tool_calls":[{{"id":{dumps(token[2])},"type":"function","index":{token[1]},'
            f'"function":{{"name":{dumps(token[3])},"arguments":{dumps(token[4])}}}}}]}}'
        )
    if kind == "tool":
        return (
            f'{{"tool_calls":[{{"id":{dumps(token[2])},"type":"function","index":{token[1]},'
            f'"function":{{"name":{dumps(token[3])}}}}}]}}'
        )
    return f'{{"tool_calls":[{{"index":{token[1]},"function":{{"arguments":{dumps(token[2])}}}}}]}}'


def models_body() -> dict[str, Any]:
    now = int(time.time())
    return {
        "object": "list",
        "data": [
            {
                "id": model,
                "object": "model",
                "created": now,
                "owned_by": "vllm",
                "root": model,
                "parent": None,
                "max_model_len": MAX_MODEL_LEN,
                "permission": [
                    {
                        "id": f"modelperm-{os.urandom(8).hex()}",
                        "object": "model_permission",
                        "created": now,
                        "allow_create_engine": False,
                        "allow_sampling": True,
                        "allow_logprobs": True,
                        "allow_search_indices": False,
                        "allow_view": True,
                        "allow_fine_tuning": False,
                        "organization": "*",
                        "group": None,
                        "is_blocking": False,
                    }
                ],
            }
            for model in MODELS
        ],
    }


def tokenize_body(body: dict[str, Any]) -> dict[str, Any]:
    """vLLM's `POST /tokenize` answer: a chat (`messages`, `tools`) or a plain `prompt`.

    The chat is laid out and counted exactly as a chat completion's usage counts its prompt.
    """
    if not isinstance(body.get("messages"), list) and not isinstance(body.get("prompt"), str):
        raise validation_error(
            [field_error("missing", "body.messages", "Field required", body)], "messages"
        )
    if body.get("continue_final_message") and body.get("add_generation_prompt"):
        raise validator_error(
            body, "Cannot set both `continue_final_message` and `add_generation_prompt` to True."
        )
    served_model(body)
    if isinstance(body.get("messages"), list):
        # Chat requests default to add_generation_prompt true; checked as a chat request is.
        checked = {"add_generation_prompt": True, **body}
        check_rendering(checked, body["messages"])
        pieces = prompt_pieces(
            body["messages"],
            body.get("tools"),
            continue_final_message=bool(body.get("continue_final_message")),
        )
    else:
        pieces = words(body["prompt"])
        if body.get("add_special_tokens", True):
            pieces.insert(0, "<s>")
    return {
        "count": len(pieces),
        "max_model_len": MAX_MODEL_LEN,
        "tokens": [token_id(piece) for piece in pieces],
        "token_strs": pieces if body.get("return_token_strs") else None,
    }
