"""What the simulator answers, in vLLM's shapes: models, bodies, stream chunks and usage."""

from __future__ import annotations

from simulator import MAX_MODEL_LEN, MODELS, REASONING_MODELS
from tests.simulator.helpers import SMALL, chat, chunks, content_of, deltas, finishes, stream


def test_models_list_has_vllms_shape(client):
    body = client.get("/models").json()
    assert body["object"] == "list"
    assert [card["id"] for card in body["data"]] == MODELS
    card = body["data"][0]
    assert card["object"] == "model" and card["owned_by"] == "vllm"
    assert card["root"] == card["id"] and card["parent"] is None
    assert card["max_model_len"] == MAX_MODEL_LEN
    assert card["permission"][0]["object"] == "model_permission"
    assert set(REASONING_MODELS) < set(MODELS)


def test_answer_without_streaming_has_vllms_shape_with_null_fields(client):
    body = chat(client).json()
    assert body["id"].startswith("chatcmpl-") and len(body["id"]) == len("chatcmpl-") + 16
    assert body["object"] == "chat.completion" and body["model"] == SMALL
    assert body["system_fingerprint"].startswith("vllm-0.33.0")
    for key in (
        "service_tier",
        "prompt_logprobs",
        "prompt_token_ids",
        "kv_transfer_params",
        "metrics",
    ):
        assert key in body and body[key] is None
    choice = body["choices"][0]
    assert choice["finish_reason"] == "stop" and choice["stop_reason"] is None
    assert choice["logprobs"] is None and choice["token_ids"] is None
    message = choice["message"]
    assert message["role"] == "assistant" and message["content"]
    assert message["reasoning"] is None and message["refusal"] is None
    assert "tool_calls" not in message
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    # The prompt's 7 words between <s> [INST] … [/INST], as /tokenize counts them.
    assert usage["prompt_tokens"] == 10
    assert 40 <= usage["completion_tokens"] <= 100
    assert usage["prompt_tokens_details"] is None and usage["completion_tokens_details"] is None


def test_stream_starts_with_a_role_chunk_and_ends_with_done(client):
    events = stream(client)
    first = events[0]
    assert first["object"] == "chat.completion.chunk" and first["id"].startswith("chatcmpl-")
    assert first["choices"] == [
        {
            "index": 0,
            "delta": {"role": "assistant", "content": ""},
            "logprobs": None,
            "finish_reason": None,
        }
    ]
    assert events[-1] == "[DONE]"
    last = events[-2]["choices"][0]
    assert last["finish_reason"] == "stop" and last["stop_reason"] is None and last["delta"] == {}
    assert "usage" not in events[-2] and events[-2]["system_fingerprint"].startswith("vllm-")
    assert all(len(c["choices"]) == 1 for c in chunks(events))
    assert len({c["id"] for c in chunks(events)}) == 1
    assert len(deltas(events, "content")) > 40


def test_include_usage_adds_a_last_chunk_with_empty_choices(client):
    events = stream(client, stream_options={"include_usage": True})
    usage_chunk = events[-2]
    assert usage_chunk["choices"] == [] and events[-1] == "[DONE]"
    content_chunks = len(deltas(events, "content")) - 1  # the role chunk's ""
    # The end-of-sequence token counts, as in vLLM.
    assert usage_chunk["usage"]["completion_tokens"] == content_chunks + 1
    assert "prompt_tokens_details" not in usage_chunk["usage"]
    assert "system_fingerprint" not in events[-3]


def test_continuous_usage_stats_put_running_usage_on_every_chunk(client):
    events = stream(client, stream_options={"include_usage": True, "continuous_usage_stats": True})
    running = [c["usage"]["completion_tokens"] for c in chunks(events)]
    assert running[0] == 0 and running == sorted(running)
    assert running[-1] == events[-2]["usage"]["completion_tokens"]


def test_request_id_names_the_completion(client):
    assert chat(client, request_id="abc123").json()["id"] == "chatcmpl-abc123"


def test_stream_error_hook_sends_an_error_event_after_some_text(client, sim):
    events = stream(client, messages=[{"role": "user", "content": "Hi [[sim:stream-error]]"}])
    assert 1 <= len(deltas(events, "content")) - 1 <= 3
    assert (
        events[-2]["error"]["code"] == 500 and events[-2]["error"]["type"] == "InternalServerError"
    )
    assert events[-1] == "[DONE]" and finishes(events) == {}
    assert sim.requests[-1].status == 200


def test_no_done_hook_ends_without_finish_or_done(client):
    events = stream(client, messages=[{"role": "user", "content": "Hi [[sim:no-done]]"}])
    assert content_of(events) and finishes(events) == {} and "[DONE]" not in events


def test_keepalive_hook_interleaves_comment_lines(client):
    events = stream(client, messages=[{"role": "user", "content": "Hi [[sim:keepalive]]"}])
    assert events[0] == ": keep-alive" and events.count(": keep-alive") > 10
    assert events[-1] == "[DONE]" and content_of(events)
