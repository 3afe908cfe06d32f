"""The token count of the next request: per dialect, against real servers, and its view."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from django.conf import settings

from playground import refusals, upstream
from playground.models import Conversation, UpstreamConnection
from playground.upstream.connections import Connection
from tests.conftest import MISTRAL_SMALL
from tests.servers import free_port
from tests.test_localmodel import local_model  # noqa: F401 (a fixture: the real llama.cpp)
from workbench import tokens

HELLO = [{"role": "user", "content": "Tell me about tides and the moon"}]


def connection_to(base_url: str, dialect: str = "vllm", **fields) -> Connection:
    return Connection(
        slug="test",
        name=fields.pop("name", "Test server"),
        base_url=base_url,
        dialect=dialect,
        default_model=MISTRAL_SMALL,
        **fields,
    )


async def count(body: dict, connection: Connection, **kwargs) -> tokens.Tally:
    kwargs.setdefault("timeout", 5.0)
    async with upstream.new_client(connect_timeout=5, read_timeout=5) as client:
        return await tokens.count(body, connection, client=client, **kwargs)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield listener.getsockname()[1]
    listener.close()


# ---- The client, per dialect ----------------------------------------------------------------


def test_the_servers_root_is_the_base_url_without_v1():
    assert upstream.server_root("http://10.0.0.5:8000/v1") == "http://10.0.0.5:8000"
    assert upstream.server_root("http://10.0.0.5:8000/v1/") == "http://10.0.0.5:8000"
    assert upstream.server_root("https://proxy.test/vllm/v1") == "https://proxy.test/vllm"


async def test_vllm_count_is_the_servers_own(simulator_server):
    body = {"model": MISTRAL_SMALL, "messages": HELLO, "max_completion_tokens": 500}

    tally = await count(body, connection_to(simulator_server.base_url))

    assert tally.state == "counted"
    assert tally.prompt_tokens == 10  # 7 words between <s> [INST] … [/INST]
    assert tally.context_length == 32768
    assert tally.answer_tokens == 500 and tally.fits and tally.warning == ""
    assert tally.pieces is None


async def test_vllm_count_agrees_with_the_answers_usage(simulator_server):
    body = {
        "model": MISTRAL_SMALL,
        "messages": [{"role": "system", "content": "Be brief."}, *HELLO],
        "tools": [{"type": "function", "function": {"name": "get_time", "parameters": {}}}],
    }
    tally = await count(body, connection_to(simulator_server.base_url))

    async with httpx.AsyncClient() as client:
        answer = await client.post(f"{simulator_server.base_url}/chat/completions", json=body)

    assert tally.prompt_tokens == answer.json()["usage"]["prompt_tokens"]


async def test_vllm_pieces_show_the_templates_control_tokens(simulator_server):
    body = {"model": MISTRAL_SMALL, "messages": [{"role": "system", "content": "Be brief."}]}
    body["messages"] += HELLO

    tally = await count(body, connection_to(simulator_server.base_url), with_pieces=True)

    special = [piece.text for piece in tally.pieces if piece.special]
    assert special == ["<s>", "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]", "[INST]", "[/INST]"]
    assert "".join(piece.text for piece in tally.pieces).startswith("<s>[SYSTEM_PROMPT]Be brief.")
    assert tally.pieces_total == tally.prompt_tokens


async def test_the_count_is_asked_at_the_servers_root_with_the_connections_key():
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"count": 3, "max_model_len": 8192, "tokens": [1, 2, 3]})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        tally = await tokens.count(
            {"model": "m", "messages": HELLO},
            connection_to("http://upstream.test/v1", api_key="sk-1"),
            client=client,
            timeout=2,
        )

    assert (tally.prompt_tokens, tally.context_length) == (3, 8192)
    assert str(seen[0].url) == "http://upstream.test/tokenize"
    assert seen[0].headers["authorization"] == "Bearer sk-1"


def test_vllm_request_asks_for_exactly_the_next_prompt():
    body = {
        "model": "m",
        "messages": HELLO,
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "temperature": 0.2,
        "max_completion_tokens": 10,
        "stream": True,
    }

    assert tokens.vllm_request(body, with_pieces=True) == {
        "model": "m",
        "messages": HELLO,
        "add_generation_prompt": True,
        "tools": body["tools"],
        "return_token_strs": True,
    }
    continued = {"model": "m", "messages": HELLO, "continue_final_message": True}
    continued["add_generation_prompt"] = False
    assert tokens.vllm_request(continued)["continue_final_message"] is True
    assert tokens.vllm_request(continued)["add_generation_prompt"] is False


def test_tokens_spelled_as_letters_show_as_the_spaces_they_are():
    assert tokens._piece("Ġhello") == tokens.Piece(" hello", special=False)
    assert tokens._piece("▁world") == tokens.Piece(" world", special=False)
    assert tokens._piece("<|im_start|>") == tokens.Piece("<|im_start|>", special=True)
    assert tokens._piece("[AVAILABLE_TOOLS]").special and not tokens._piece("[1]").special


async def test_mistrals_api_has_no_token_count():
    connection = connection_to("https://api.mistral.ai/v1", "mistral", name="Mistral")

    tally = await count({"model": "m", "messages": HELLO}, connection)

    assert tally.state == "unavailable"
    assert "not available for this server" in tally.reason


async def test_a_failing_tokenizer_makes_the_count_unknown():
    def fail(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"error": {"message": "engine dead", "code": 500}})

    async with httpx.AsyncClient(transport=httpx.MockTransport(fail)) as client:
        tally = await tokens.count(
            {"model": "m", "messages": HELLO, "max_tokens": 5},
            connection_to("http://upstream.test/v1"),
            client=client,
            timeout=2,
        )

    assert tally.state == "unknown" and tally.prompt_tokens is None
    assert tally.reason == "The server's tokenizer refused (HTTP 500): engine dead"
    assert tally.fits and tally.warning == ""


async def test_a_server_that_is_down_makes_the_count_unknown():
    tally = await count({"messages": HELLO}, connection_to(f"http://127.0.0.1:{free_port()}/v1"))

    assert tally.state == "unknown"
    assert tally.reason == "The server's tokenizer could not be reached."


async def test_a_hanging_tokenizer_makes_the_count_unknown_quickly(silent_port):
    started = time.monotonic()

    tally = await count(
        {"messages": HELLO}, connection_to(f"http://127.0.0.1:{silent_port}/v1"), timeout=0.3
    )

    assert time.monotonic() - started < 1.5
    assert tally.state == "unknown"
    assert tally.reason in (
        "The server did not count within 0.3 s.",
        "The server's tokenizer could not be reached.",  # httpx's own read timeout came first
    )


@pytest.mark.localmodel
async def test_llamacpp_count_agrees_with_the_answers_usage(local_model):  # noqa: F811
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi!"}]
    body = {"model": settings.LOCAL_MODEL_NAME, "messages": messages, "max_tokens": 2}
    connection = connection_to(local_model.base_url, "llamacpp")

    tally = await count(body, connection, with_pieces=True)
    async with httpx.AsyncClient(timeout=30) as client:
        answer = await client.post(f"{local_model.base_url}/chat/completions", json=body)

    assert tally.state == "counted"
    assert tally.prompt_tokens == answer.json()["usage"]["prompt_tokens"]
    assert tally.context_length == 4096  # its n_ctx, from GET /props
    assert tally.answer_tokens == 2
    # SmolLM2's ChatML template, as the tokenizer splits it.
    assert [piece.text for piece in tally.pieces if piece.special][:2] == [
        "<|im_start|>",
        "<|im_end|>",
    ]
    assert "".join(p.text for p in tally.pieces).startswith("<|im_start|>system\nBe brief.")
    assert len(tally.pieces) == tally.prompt_tokens


@pytest.mark.localmodel
async def test_llamacpp_says_when_the_prompt_does_not_fit(local_model):  # noqa: F811
    body = {"messages": [{"role": "user", "content": "tide " * 5000}]}

    tally = await count(body, connection_to(local_model.base_url, "llamacpp"))

    assert tally.state == "counted" and not tally.fits
    assert re.fullmatch(
        r"[\d,]+ tokens of conversation do not fit the model's 4,096: shorten it\.", tally.warning
    )


# ---- When it does not fit, and a refusal in the same words ----------------------------------


def test_the_warning_says_what_does_not_fit_and_what_to_do():
    tally = tokens.Tally("counted", prompt_tokens=31200, context_length=32768, answer_tokens=2000)

    assert not tally.fits
    assert tally.warning == (
        "31,200 tokens of conversation plus 2,000 for the answer do not fit the model's "
        "32,768: shorten it or lower Max tokens."
    )
    assert tally.prompt_percent + tally.answer_percent == 100
    assert tally.used == 32768


def test_without_max_tokens_the_answer_gets_the_rest_of_the_context():
    tally = tokens.Tally("counted", prompt_tokens=8192, context_length=32768)

    assert tally.fits and tally.answer_room == 24576
    assert tally.summary == (
        "8,192 tokens of conversation + up to 24,576 for the answer (the rest of the context), "
        "of the model's 32,768"
    )
    assert tally.prompt_percent == 25 and tally.answer_percent == 75


async def test_an_upstream_context_refusal_is_said_as_the_count_says_it(simulator_server):
    body = {
        "model": MISTRAL_SMALL,
        "messages": [{"role": "user", "content": "tide " * 31197}],
        "max_completion_tokens": 2000,
        "stream": True,
    }
    connection = connection_to(simulator_server.base_url)
    tally = await count(body, connection)

    async with httpx.AsyncClient() as client:
        with pytest.raises(upstream.UpstreamError) as refused:
            async for _ in upstream.stream_chat(
                body, client=client, base_url=connection.base_url, api_key=""
            ):
                pass
    explained = refusals.explain(refused.value, "vllm")

    assert tally.prompt_tokens == 31200
    assert tally.warning == (
        "31,200 tokens of conversation plus 2,000 for the answer do not fit the model's "
        "32,768: shorten it or lower Max tokens."
    )
    assert explained.startswith(tally.warning + " The model's server refused the request")


@pytest.mark.parametrize(
    ("detail", "said"),
    [
        (
            "request (5031 tokens) exceeds the available context size (4096 tokens), try "
            "increasing it",
            "5,031 tokens of conversation do not fit the model's 4,096: shorten it.",
        ),
        (
            "This model's maximum context length is 32768 tokens. However, your prompt contains "
            "40000 input tokens. Please reduce the length of the input prompt.",
            "40,000 tokens of conversation do not fit the model's 32,768: shorten it.",
        ),
        (
            "This model's maximum context length is 32768 tokens. However, you requested 33200 "
            "tokens (31200 in the messages, 2000 in the completion). Please reduce the length of "
            "the messages or completion.",
            "31,200 tokens of conversation plus 2,000 for the answer do not fit the model's "
            "32,768: shorten it or lower Max tokens.",
        ),
    ],
)
def test_other_servers_context_refusals_are_said_the_same_way(detail, said):
    error = upstream.UpstreamError("The model's server refused the request", status=400)
    error.detail = detail

    assert refusals.explain(error, "vllm").startswith(said + " The model's server refused")


# ---- The view -----------------------------------------------------------------------------


def count_in(page: str) -> int:
    return int(re.search(r"([\d,]+) tokens of conversation", page).group(1).replace(",", ""))


def get_count(client, conversation, **params):
    return client.get(
        f"/conversations/{conversation.pk}/tokens/", params, headers={"HX-Request": "true"}
    )


@pytest.mark.django_db
def test_the_count_is_of_the_next_request_with_the_message_being_typed(
    logged_in, simulator, make_conversation
):
    conversation = make_conversation(system_prompt="Be brief.")

    before = get_count(logged_in, conversation)
    typing = get_count(logged_in, conversation, message="Three more words")

    assert before.status_code == typing.status_code == 200
    page = typing.content.decode()
    assert count_in(page) == count_in(before.content.decode()) + 5  # [INST] words [/INST]
    assert "with what you are typing" in page
    assert 'role="meter"' in page and 'aria-valuemax="32768"' in page
    # A fragment that replaces the count does not count again as it lands.
    assert "load," not in page
    assert simulator.requests == []  # counting sends no chat request


@pytest.mark.django_db
def test_the_count_warns_when_prompt_and_max_tokens_do_not_fit(
    logged_in, simulator, make_conversation
):
    conversation = make_conversation(options={"max_tokens": 32760})

    page = get_count(logged_in, conversation, message="one two three four five six").content
    page = page.decode()

    assert (
        '<p class="token-count__warning warning" role="status">9 tokens of conversation plus '
        "32,760 for the answer do not fit the model&#x27;s 32,768: shorten it or lower Max "
        "tokens.</p>" in page
    )
    assert "token-bar--over" in page


@pytest.mark.django_db
def test_what_the_model_sees_is_shown_on_request(logged_in, simulator, make_conversation):
    conversation = make_conversation(system_prompt="Be brief.")

    hidden = get_count(logged_in, conversation).content.decode()
    shown = get_count(logged_in, conversation, pieces="1", message="Hi").content.decode()

    assert "What the model sees" in hidden and 'id="token-pieces"' not in hidden
    assert '<span class="token token--special">[SYSTEM_PROMPT]</span>' in shown
    assert '<span class="token token--special">[INST]</span><span class="token">Hi</span>' in shown
    assert "Hide what the model sees" in shown
    # While shown, the refreshes (which include this field) keep asking for the pieces.
    assert '<input type="hidden" id="token-pieces-wanted" name="pieces" value="1">' in shown
    assert 'id="token-pieces-wanted"' not in hidden


@pytest.mark.django_db
def test_after_an_answer_the_count_is_of_the_next_send(logged_in, simulator, make_conversation):
    conversation = make_conversation()
    question = conversation.add_user_message("Why is the sea salty?")
    answer = conversation.messages.create(parent=question, role="assistant", content="Rivers.")
    conversation.show_version(answer)

    empty = get_count(logged_in, conversation).content.decode()
    typing = get_count(logged_in, conversation, message="And why?").content.decode()

    # <s> [INST] 5 words [/INST] Rivers. </s>, and the person's turn still to write.
    assert count_in(empty) == 10 + 2
    assert count_in(typing) == 10 + 4


@pytest.mark.django_db
def test_an_empty_conversation_has_nothing_to_count(logged_in, simulator, make_conversation):
    page = get_count(logged_in, make_conversation()).content.decode()

    assert "Nothing to count yet" in page and "Token count unknown" not in page


@pytest.mark.django_db
def test_another_persons_conversation_is_not_found(
    client, other_user, simulator, make_conversation
):
    conversation = make_conversation()
    client.force_login(other_user)

    assert get_count(client, conversation).status_code == 404


@pytest.mark.django_db
def test_the_count_needs_a_log_in(client, simulator, make_conversation):
    response = get_count(client, make_conversation())

    assert response.status_code == 302 and response.url.startswith("/login/")


@pytest.mark.django_db
def test_the_count_never_shows_the_api_key(logged_in, user, simulator):
    UpstreamConnection.objects.create(
        slug="keyed",
        name="Keyed",
        base_url=simulator.base_url,
        api_key="sk-very-secret",
        default_model=MISTRAL_SMALL,
    )
    conversation = Conversation.objects.create(
        owner=user, connection="keyed", model=MISTRAL_SMALL, system_prompt="Be brief."
    )

    for params in ({}, {"pieces": "1"}):
        page = get_count(logged_in, conversation, **params).content.decode()
        assert count_in(page) > 0
        assert "sk-very-secret" not in page


@pytest.mark.django_db
def test_a_mistral_connection_says_the_count_is_not_available(logged_in, user, simulator):
    UpstreamConnection.objects.create(
        slug="mistral", name="Mistral", base_url="https://api.mistral.ai/v1", dialect="mistral"
    )
    conversation = Conversation.objects.create(owner=user, connection="mistral", model="m")

    page = get_count(logged_in, conversation).content.decode()

    assert "Token count not available for this server" in page
    assert 'role="meter"' not in page


@pytest.mark.django_db
def test_a_server_that_hangs_leaves_the_count_unknown_not_the_page(
    logged_in, user, simulator, silent_port, settings
):
    settings.TOKENIZE_TIMEOUT = 0.3
    UpstreamConnection.objects.create(
        slug="hangs",
        name="Hangs",
        base_url=f"http://127.0.0.1:{silent_port}/v1",
        default_model=MISTRAL_SMALL,
    )
    conversation = Conversation.objects.create(owner=user, connection="hangs", model=MISTRAL_SMALL)
    started = time.monotonic()

    response = get_count(logged_in, conversation, message="Hello")

    assert time.monotonic() - started < 1.5
    assert response.status_code == 200
    assert "Token count unknown." in response.content.decode()


@pytest.mark.django_db
def test_the_conversation_page_counts_once_it_is_shown(logged_in, simulator, make_conversation):
    conversation = make_conversation()

    page = logged_in.get(f"/conversations/{conversation.pk}/").content.decode()

    assert page.count('id="token-count"') == 1
    assert f'hx-get="/conversations/{conversation.pk}/tokens/"' in page
    assert 'hx-trigger="load, input changed delay:600ms from:#id_message' in page
    assert 'hx-sync="this:replace"' in page


@pytest.mark.django_db
def test_without_javascript_the_count_is_a_page_of_its_own(logged_in, simulator, make_conversation):
    conversation = make_conversation(title="Tides", system_prompt="Be brief.")

    page = logged_in.get(f"/conversations/{conversation.pk}/tokens/?pieces=1").content.decode()

    assert "<title>Prompt size · Tides · HexPlay</title>" in page
    assert "Back to the conversation" in page
    assert '<span class="token token--special">&lt;s&gt;</span>' in page
