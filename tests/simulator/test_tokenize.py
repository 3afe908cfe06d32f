"""The simulator's POST /tokenize: vLLM's shape, the same count as the answer's usage."""

from __future__ import annotations

import httpx
import pytest

from simulator import MAX_MODEL_LEN, Simulator
from tests.simulator.helpers import (
    HI,
    SMALL,
    WEATHER_TOOL,
    assistant_calls,
    chat,
    tool_result,
)

CONVERSATION = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "What is the weather in Paris?"},
    assistant_calls("abcdefghi"),
    tool_result("abcdefghi"),
    {"role": "assistant", "content": "It is 18 °C and sunny in Paris."},
    {"role": "user", "content": "And tomorrow?\n\nPlease answer briefly."},
]


@pytest.fixture
def root(sim) -> str:
    """The server's root, where vLLM serves /tokenize (not under /v1)."""
    return sim.base_url.removesuffix("/v1")


def tokenize(root: str, **body) -> httpx.Response:
    return httpx.post(f"{root}/tokenize", json={"model": SMALL, **body}, timeout=10)


def test_tokenize_answers_in_vllms_shape(root):
    answer = tokenize(root, messages=HI, add_generation_prompt=True).json()

    assert set(answer) == {"count", "max_model_len", "tokens", "token_strs"}
    assert answer["max_model_len"] == MAX_MODEL_LEN
    assert answer["count"] == len(answer["tokens"]) > 0
    assert all(isinstance(token, int) and token >= 0 for token in answer["tokens"])
    assert answer["token_strs"] is None  # only when asked


@pytest.mark.parametrize("tools", [None, [WEATHER_TOOL]])
def test_tokenize_count_is_the_usage_prompt_tokens_of_the_same_chat(root, client, tools):
    extra = {"tools": tools} if tools else {}
    counted = tokenize(root, messages=CONVERSATION, **extra).json()["count"]

    usage = chat(client, model=SMALL, messages=CONVERSATION, **extra).json()["usage"]

    assert counted == usage["prompt_tokens"]


def test_token_strs_lay_the_prompt_out_with_mistrals_control_tokens(root):
    answer = tokenize(
        root, messages=CONVERSATION, tools=[WEATHER_TOOL], return_token_strs=True
    ).json()
    pieces = answer["token_strs"]

    assert len(pieces) == answer["count"]
    assert pieces[:2] == ["<s>", "[SYSTEM_PROMPT]"]
    text = "".join(pieces)
    assert "[SYSTEM_PROMPT]You are terse.[/SYSTEM_PROMPT]" in text
    assert "[TOOL_CALLS]get_weather[ARGS]{}</s>" in text
    assert "[TOOL_RESULTS]18 °C, sunny[/TOOL_RESULTS]" in text
    # The tools are listed just before the last user message, as Mistral's templates do.
    assert text.endswith("[/AVAILABLE_TOOLS][INST]And tomorrow?\n\nPlease answer briefly.[/INST]")
    assert text.index("[AVAILABLE_TOOLS]") > text.index("It is 18")
    assert '"name": "get_weather"' in text


def test_the_same_text_is_always_the_same_token(root):
    first = tokenize(root, messages=HI, return_token_strs=True).json()
    again = tokenize(root, messages=HI, return_token_strs=True).json()

    assert first == again
    assert first["tokens"][:2] == [1, 3]  # <s> [INST], Tekken's ids


def test_a_continued_answer_is_left_open(root):
    messages = [*HI, {"role": "assistant", "content": "The moon"}]
    answer = tokenize(
        root,
        messages=messages,
        add_generation_prompt=False,
        continue_final_message=True,
        return_token_strs=True,
    ).json()

    assert answer["token_strs"][-1] == " moon"


def test_a_plain_prompt_is_counted_with_its_bos(root):
    answer = tokenize(root, prompt="Hello there", return_token_strs=True).json()

    assert answer["token_strs"] == ["<s>", "Hello", " there"]


def test_tokenize_refuses_an_unknown_model_as_vllm_does(root):
    response = tokenize(root, model="no/such-model", messages=HI)

    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "message": "The model `no/such-model` does not exist.",
            "type": "NotFoundError",
            "param": "model",
            "code": 404,
        }
    }


def test_tokenize_refuses_what_vllm_refuses(root):
    both = tokenize(root, messages=HI, add_generation_prompt=True, continue_final_message=True)
    nothing = tokenize(root)

    assert both.status_code == 400 and "Cannot set both" in both.json()["error"]["message"]
    assert nothing.status_code == 400 and "Field required" in nothing.json()["error"]["message"]


def test_tokenize_is_not_behind_the_api_key_nor_in_the_request_log():
    # vLLM's --api-key guards the /v1 routes only.
    with Simulator(api_key="sk-test") as sim:
        root = sim.base_url.removesuffix("/v1")
        response = httpx.post(f"{root}/tokenize", json={"messages": HI}, timeout=10)
        assert response.status_code == 200
        assert sim.requests == []
