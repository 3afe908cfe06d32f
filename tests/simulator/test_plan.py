"""What an answer holds: reasoning, max and min tokens, stop strings, seeds, n and logprobs."""

from __future__ import annotations

from simulator import REASONING_MODELS
from tests.simulator.helpers import (
    MAGISTRAL,
    SMALL,
    chat,
    chunks,
    content_of,
    deltas,
    finishes,
    stream,
)


def test_reasoning_model_streams_reasoning_before_content(client):
    events = stream(client, model=MAGISTRAL, stream_options={"include_usage": True})
    kinds = [
        next(iter(c["choices"][0]["delta"])) for c in chunks(events)[1:] if c["choices"][0]["delta"]
    ]
    assert kinds[0] == "reasoning" and "content" in kinds
    assert kinds == sorted(kinds, key=lambda kind: kind != "reasoning")
    reasoning = deltas(events, "reasoning")
    assert 18 <= len(reasoning) <= 45
    assert events[-2]["usage"]["completion_tokens_details"] == {"reasoning_tokens": len(reasoning)}


def test_reasoning_model_answers_with_a_reasoning_field(client):
    body = chat(client, model=REASONING_MODELS[1]).json()
    message = body["choices"][0]["message"]
    assert message["reasoning"].startswith("Okay, the user is asking about tides")
    assert message["content"]
    assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0


def test_include_reasoning_false_drops_the_reasoning(client):
    events = stream(client, model=MAGISTRAL, include_reasoning=False)
    assert deltas(events, "reasoning") == [] and content_of(events)
    assert (
        chat(client, model=MAGISTRAL, include_reasoning=False).json()["choices"][0]["message"][
            "reasoning"
        ]
        is None
    )


def test_reasoning_effort_none_turns_thinking_off(client):
    body = chat(client, model=MAGISTRAL, reasoning_effort="none").json()
    assert body["choices"][0]["message"]["reasoning"] is None
    assert body["usage"]["completion_tokens_details"] == {"reasoning_tokens": 0}
    assert chat(client, model=MAGISTRAL, reasoning_effort="high").json()["choices"][0]["message"][
        "reasoning"
    ]


def test_max_tokens_ends_with_length_after_exactly_that_many_tokens(client):
    full = chat(client, seed=3).json()["choices"][0]["message"]["content"]
    body = chat(client, seed=3, max_tokens=5).json()
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 5
    short = body["choices"][0]["message"]["content"]
    assert full.startswith(short) and short != full

    events = stream(client, seed=3, max_completion_tokens=5, stream_options={"include_usage": True})
    assert len(deltas(events, "content")) == 1 + 5  # the last piece rides on the finish chunk
    assert content_of(events) == short
    assert finishes(events)[0]["finish_reason"] == "length"
    assert finishes(events)[0]["delta"] == {"content": deltas(events, "content")[-1]}
    assert events[-2]["usage"]["completion_tokens"] == 5


def test_max_tokens_counts_the_reasoning_too(client):
    message = chat(client, model=MAGISTRAL, max_tokens=4).json()["choices"][0]["message"]
    assert message["content"] is None and len(message["reasoning"].split()) == 4


def test_stop_string_cuts_the_answer_before_it(client):
    full = chat(client, seed=5).json()["choices"][0]["message"]["content"]
    word = full.split()[6].strip(".,*")
    choice = chat(client, seed=5, stop=["zzz", word]).json()["choices"][0]
    assert choice["message"]["content"] == full[: full.index(word)]
    assert choice["finish_reason"] == "stop" and choice["stop_reason"] == word

    kept = chat(client, seed=5, stop=word, include_stop_str_in_output=True).json()["choices"][0]
    assert kept["message"]["content"] == full[: full.index(word) + len(word)]

    events = stream(client, seed=5, stop=[word])
    assert content_of(events) == full[: full.index(word)]
    assert finishes(events)[0]["stop_reason"] == word


def test_n_2_streams_two_interleaved_choices(client):
    events = stream(client, n=2, seed=4, stream_options={"include_usage": True})
    indexes = [c["choices"][0]["index"] for c in chunks(events)]
    assert set(indexes) == {0, 1}
    assert indexes[:2] == [0, 1]  # both role chunks come first
    assert indexes != sorted(indexes)
    assert set(finishes(events)) == {0, 1}
    assert content_of(events, 0) != content_of(events, 1)
    body = chat(client, n=2, seed=4).json()
    assert [c["message"]["content"] for c in body["choices"]] == [
        content_of(events, i) for i in (0, 1)
    ]
    pieces = [len(deltas(events, "content", i)) - 1 for i in (0, 1)]  # minus the role chunk's ""
    assert body["usage"]["completion_tokens"] == sum(pieces) + 2  # and each end-of-sequence token


def test_same_seed_gives_the_same_answer_and_another_seed_another(client):
    def answer(**extra) -> str:
        return chat(client, **extra).json()["choices"][0]["message"]["content"]

    assert answer(seed=1) == answer(seed=1)
    assert answer(seed=1) != answer(seed=2)
    assert answer(seed=1) != answer(seed=1, messages=[{"role": "user", "content": "Else"}])
    assert content_of(stream(client, seed=1)) == answer(seed=1)


def test_without_a_seed_each_request_samples_a_new_answer(client):
    def answer(**extra) -> str:
        return chat(client, **extra).json()["choices"][0]["message"]["content"]

    assert answer() != answer()
    assert answer(seed=-1) != answer(seed=-1)  # vLLM reads -1 as no seed
    assert answer(temperature=0.7) != answer(temperature=0.7)
    # Hooks that fix the length fix it for every sample: only the words change.
    sixty = [{"role": "user", "content": "Tell me about tides [[sim:tokens=60]]"}]
    first, second = chat(client, messages=sixty).json(), chat(client, messages=sixty).json()
    assert first["choices"][0]["message"]["content"] != second["choices"][0]["message"]["content"]
    assert first["usage"]["completion_tokens"] == second["usage"]["completion_tokens"] == 61


def test_temperature_0_is_greedy_and_gives_the_same_answer_whatever_the_seed(client):
    def answer(**extra) -> str:
        return chat(client, temperature=0, **extra).json()["choices"][0]["message"]["content"]

    assert answer() == answer() == answer(seed=1) == answer(seed=2)
    assert content_of(stream(client, temperature=0)) == answer()


def test_a_request_that_mentions_code_gets_a_python_block(client):
    content = chat(client, messages=[{"role": "user", "content": "Show me code"}]).json()
    assert "```python\n" in content["choices"][0]["message"]["content"]


def test_logprobs_come_with_each_token(client):
    choice = chat(client, logprobs=True, top_logprobs=2).json()["choices"][0]
    entry = choice["logprobs"]["content"][0]
    assert entry["bytes"] == list(entry["token"].encode()) and len(entry["top_logprobs"]) == 2
    events = stream(client, logprobs=True)
    assert all(c["choices"][0]["logprobs"]["content"] for c in chunks(events)[1:-1])


def test_think_tags_hook_puts_split_markers_in_the_content(client):
    events = stream(
        client, model=MAGISTRAL, messages=[{"role": "user", "content": "Hi [[sim:think-tags]]"}]
    )
    pieces = deltas(events, "content")[1:]
    assert pieces[:2] == ["[TH", "INK]"] and "[/TH" in pieces
    assert pieces[pieces.index("[/TH") + 1] == "INK]"
    assert deltas(events, "reasoning") == []
    body = chat(
        client, model=MAGISTRAL, messages=[{"role": "user", "content": "Hi [[sim:think-tags]]"}]
    ).json()
    content = body["choices"][0]["message"]["content"]
    assert content.startswith("[THINK]Okay, the user") and "[/THINK]" in content
    assert body["choices"][0]["message"]["reasoning"] is None
    assert body["usage"]["completion_tokens_details"] is None


def test_long_hook_answers_about_two_thousand_tokens(client):
    usage = chat(client, messages=[{"role": "user", "content": "Go [[sim:long]]"}]).json()["usage"]
    assert 1900 <= usage["completion_tokens"] <= 2200


def test_tokens_hook_sends_exactly_that_many_content_tokens(client):
    events = stream(
        client,
        messages=[{"role": "user", "content": "Go [[sim:tokens=17]]"}],
        stream_options={"include_usage": True},
    )
    assert len(deltas(events, "content")) - 1 == 17
    assert events[-2]["usage"]["completion_tokens"] == 18  # and the end-of-sequence token


def test_ignore_eos_writes_until_max_tokens(client):
    body = chat(client, model=SMALL, ignore_eos=True, max_tokens=300).json()
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 300


def test_min_tokens_holds_the_end_and_stop_texts_back(client):
    short = chat(client, model=SMALL, messages=[{"role": "user", "content": "Hi [[sim:tokens=5]]"}])
    assert short.json()["usage"]["completion_tokens"] == 6
    held = chat(
        client,
        model=SMALL,
        seed=1,  # without one the text varies, and may hold no stop text after the 40th token
        min_tokens=40,
        stop=["."],
        messages=[{"role": "user", "content": "Hi [[sim:tokens=5]]"}],
    ).json()
    assert held["usage"]["completion_tokens"] >= 40
    assert held["choices"][0]["stop_reason"] == "."


def test_bad_words_never_appear_in_the_answer(client):
    free = chat(client, model=SMALL, seed=3).json()["choices"][0]["message"]["content"]
    assert "tides" in free
    banned = chat(client, model=SMALL, seed=3, bad_words=["tides"]).json()
    assert "tides" not in banned["choices"][0]["message"]["content"]
