"""The code view's snippets post exactly the body HexPlay posts: run with bash, curl and Node."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from playground import curl, options
from playground.stream import build_body
from playground.upstream.connections import Connection
from tests.conftest import MISTRAL_SMALL
from tests.test_options import option_texts

pytestmark = pytest.mark.django_db

NODE = shutil.which("node")
TRICKY = "It's \"quoted\", costs $HOME `date` \\ back\nslash, 100% ünïcödé 🦜 and 'single' quotes"
# Text a person might type: quotes, shell syntax, line breaks and any Unicode but surrogates.
typed_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=60
) | st.sampled_from([TRICKY, "'", "'''", "$(echo hi)", "\\'", "it's"])


def connection_for(simulator, target: str) -> Connection:
    return Connection(
        slug="simulator",
        name="Simulator",
        base_url=simulator.base_url,
        dialect=target,
        default_model=MISTRAL_SMALL,
    )


def run(command: list[str], simulator, **env: str) -> subprocess.CompletedProcess:
    environment = {"PATH": os.environ["PATH"], "MISTRAL_BASE_URL": simulator.base_url, **env}
    return subprocess.run(command, env=environment, capture_output=True, text=True, timeout=20)


def last_body(simulator) -> dict:
    return simulator.requests[-1].body


def body_for(conversation, connection, texts: dict[str, str], typing: str = "") -> dict:
    target = options.target_of(connection.dialect)
    conversation.options = options.update({}, texts, target)
    conversation.save(update_fields=["options"])
    return build_body(conversation, connection, typing=typing)


@pytest.fixture
def conversation(make_conversation):
    conversation = make_conversation(system_prompt="You're terse; don't 'hedge'.")
    conversation.add_user_message("What's 2 + 2? Say it 'plainly'.")
    return conversation


def test_the_curl_command_posts_the_exact_body_even_with_quotes_in_the_content(
    simulator, conversation
):
    connection = connection_for(simulator, options.VLLM)
    body = body_for(
        conversation,
        connection,
        {"temperature": "0.3", "stop": "it's\nEND", "seed": "42", "logprobs": "true"},
        typing=TRICKY,
    )
    command = curl.curl_command(body, target=options.VLLM, with_key=True)
    assert command.startswith('curl -N -X POST "$MISTRAL_BASE_URL/chat/completions" \\\n')
    assert '-H "Authorization: Bearer $HEXGRID_API_KEY"' in command

    result = run(["bash", "-c", command], simulator, HEXGRID_API_KEY="test-key")

    assert result.returncode == 0, result.stderr
    assert last_body(simulator) == body
    assert simulator.requests[-1].headers["authorization"] == "Bearer test-key"
    assert "data: [DONE]" in result.stdout


def test_the_mistral_target_reads_its_own_key_variable(simulator, conversation):
    connection = connection_for(simulator, options.MISTRAL)
    body = body_for(conversation, connection, {"seed": "7", "safe_prompt": "true"})
    assert body["random_seed"] == 7 and "stream_options" not in body
    command = curl.curl_command(body, target=options.MISTRAL, with_key=True)
    assert '-H "Authorization: Bearer $MISTRAL_API_KEY"' in command
    result = run(["bash", "-c", command], simulator, MISTRAL_API_KEY="mistral-key")
    assert result.returncode == 0, result.stderr
    assert last_body(simulator) == body
    assert simulator.requests[-1].headers["authorization"] == "Bearer mistral-key"


def test_no_snippet_ever_contains_the_key(simulator, conversation):
    body = body_for(conversation, connection_for(simulator, options.VLLM), {})
    shown = curl.snippets(
        body, target=options.VLLM, base_url="http://ada:pw@10.0.0.5:8000/v1", with_key=True
    )
    everything = "\n".join([shown.setup, shown.curl, shown.python, shown.javascript])
    assert "pw" not in everything and "ada" not in everything
    assert "export MISTRAL_BASE_URL='http://10.0.0.5:8000/v1'" in shown.setup


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_the_curl_command_reproduces_the_body_for_any_options(simulator, conversation, data):
    target = data.draw(st.sampled_from(list(options.TARGETS)))
    texts = data.draw(option_texts(target))
    texts.pop("n", None)  # many candidates only slow the simulator down
    conversation.system_prompt = data.draw(typed_text)
    connection = connection_for(simulator, target)
    body = body_for(conversation, connection, texts, typing=data.draw(typed_text))
    with_key = data.draw(st.booleans())
    command = curl.curl_command(body, target=target, with_key=with_key)

    result = run(["bash", "-c", command], simulator, HEXGRID_API_KEY="k", MISTRAL_API_KEY="k")

    assert result.returncode == 0, result.stderr
    assert last_body(simulator) == body


@pytest.mark.skipif(NODE is None, reason="Node is not installed")
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_the_javascript_posts_the_same_body(simulator, conversation, data, tmp_path_factory):
    target = data.draw(st.sampled_from(list(options.TARGETS)))
    texts = data.draw(option_texts(target))
    texts.pop("n", None)
    connection = connection_for(simulator, target)
    body = body_for(conversation, connection, texts, typing=data.draw(typed_text))
    script = tmp_path_factory.mktemp("js") / "request.mjs"
    script.write_text(curl.javascript_fetch(body, target=target, with_key=True))

    result = run([NODE, str(script)], simulator, HEXGRID_API_KEY="k", MISTRAL_API_KEY="k")

    assert last_body(simulator) == body
    # It prints the answer, or the server's refusal.
    assert result.returncode == 0 or "Error: 400" in result.stderr, result.stderr


def run_python_snippet(source: str, simulator, tmp_path) -> subprocess.CompletedProcess:
    """The snippet, unchanged, run with the real SDK against the simulator."""
    script = tmp_path / "snippet.py"
    script.write_text(source)
    return run([sys.executable, str(script)], simulator, HEXGRID_API_KEY="k", MISTRAL_API_KEY="k")


def python_snippet(body: dict, target: str) -> str:
    return curl.python(body, target=target, with_key=True)


def assert_python_posts(body: dict, target: str, simulator, tmp_path) -> str:
    simulator.requests.clear()
    result = run_python_snippet(python_snippet(body, target), simulator, tmp_path)
    assert len(simulator.requests) == 1, result.stderr
    assert last_body(simulator) == body
    assert result.returncode == 0, result.stderr
    return result.stdout


SPREAD = {
    options.VLLM: [
        {"tool_choice": "required", "n": "2", "logprobs": "true", "top_logprobs": "2"},
        {"response_format": "json_schema", "json_schema_name": "person", "seed": "3"},
        {"stop": "it's\nEND", "seed": "42", "top_k": "40", "temperature": "0.4"},
    ],
    options.MISTRAL: [
        {"tool_choice": "any", "n": "2", "parallel_tool_calls": "false"},
        {"response_format": "json_schema", "json_schema_name": "person", "seed": "3"},
        {"stop": "it's\nEND", "seed": "42", "safe_prompt": "true", "temperature": "0.4"},
    ],
    options.LLAMACPP: [
        {"n": "2", "logprobs": "true", "seed": "5"},
        {"response_format": "json_schema", "json_schema_name": "person"},
        {"stop": "it's\nEND", "seed": "42", "top_k": "40", "mirostat": "2"},
    ],
}
CASES = [
    (target, texts, streaming)
    for target, spread in SPREAD.items()
    for texts in spread
    # mistralai's chat.complete always posts "stream": false, which a body without it lacks;
    # HexPlay's bodies always stream, so the Mistral snippet only ever calls chat.stream.
    for streaming in ([True] if target == options.MISTRAL else [True, False])
]


@pytest.mark.parametrize(("target", "texts", "streaming"), CASES)
def test_the_python_snippet_posts_the_curl_body_with_the_real_sdk(
    simulator, conversation, user, tmp_path, target, texts, streaming
):
    from tests.test_conversation_tools import weather_tool

    # Mistral's API streams each tool call whole; its SDK refuses vLLM's name-first deltas.
    simulator.mistral_api = target == options.MISTRAL
    if "tool_choice" in texts:
        conversation.tools.add(weather_tool(user))
        conversation.add_user_message("The weather? [[sim:tool-call]]")
    if "json_schema_name" in texts:
        texts = {**texts, "json_schema": '{"type": "object", "properties": {"a": {}}}'}
    connection = connection_for(simulator, target)
    body = body_for(conversation, connection, texts)
    if not streaming:  # HexPlay always streams; the snippets can also complete
        body = {k: v for k, v in body.items() if k not in ("stream", "stream_options")}
    assert_python_posts(body, target, simulator, tmp_path)
    assert simulator.requests[-1].completed


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_the_python_snippet_posts_the_same_body_for_any_options(
    simulator, conversation, data, tmp_path_factory
):
    target = data.draw(st.sampled_from(list(options.TARGETS)))
    texts = data.draw(option_texts(target))
    texts.pop("n", None)
    connection = connection_for(simulator, target)
    body = body_for(conversation, connection, texts, data.draw(typed_text))
    simulator.requests.clear()
    source = python_snippet(body, target)
    result = run_python_snippet(source, simulator, tmp_path_factory.mktemp("py"))
    if not simulator.requests and "from mistralai" in source:
        # mistralai checks the types of the fields it names before posting: Extra JSON can give
        # one the wrong type (the server would refuse it too). Nothing else may stop the post.
        extra = json.loads(texts.get("extra_json") or "{}")
        assert set(extra) & curl.MISTRAL_SDK_FIELDS, result.stderr
        assert "ValidationError" in result.stderr, result.stderr
        return
    if "from mistralai" in source and not options.check(texts, target).ok:
        # HexPlay refuses to send these (say, a json_schema with no schema); mistralai's models
        # may reshape such a body, the openai SDK never does.
        return
    # The server may refuse the options; the SDK still posted exactly the body.
    assert last_body(simulator) == body


def test_extra_fields_the_mistral_sdk_cannot_send_go_through_the_openai_sdk(
    simulator, conversation, tmp_path
):
    connection = connection_for(simulator, options.MISTRAL)
    body = body_for(conversation, connection, {"extra_json": '{"user_tag": "qa"}', "seed": "1"})
    source = python_snippet(body, options.MISTRAL)
    assert "from openai import OpenAI" in source
    assert "cannot send user_tag" in source
    setup = curl.setup(body, target=options.MISTRAL, base_url="http://h/v1", with_key=True)
    assert 'pip install "openai>=3,<4"' in setup
    assert_python_posts(body, options.MISTRAL, simulator, tmp_path)


def test_the_fields_the_python_snippets_name_are_those_the_sdks_take():
    import inspect

    from mistralai.client import Mistral
    from openai import OpenAI

    chat = Mistral(api_key="k").chat
    client_only = {"retries", "server_url", "timeout_ms", "http_headers"}
    for method in (chat.stream, chat.complete):
        assert set(inspect.signature(method).parameters) - client_only == curl.MISTRAL_SDK_FIELDS
    create = OpenAI(api_key="k", base_url="http://h/v1").chat.completions.create
    client_only = {"extra_headers", "extra_query", "extra_body", "timeout"}
    assert set(inspect.signature(create).parameters) - client_only == curl.OPENAI_SDK_FIELDS


def test_setup_pins_the_sdk_the_python_snippet_imports():
    body = {"model": "m", "messages": []}
    mistral = curl.setup(body, target=options.MISTRAL, base_url="http://h/v1", with_key=True)
    vllm = curl.setup(body, target=options.VLLM, base_url="http://h/v1", with_key=False)
    assert 'pip install "mistralai>=3,<4"' in mistral
    assert 'pip install "openai>=3,<4"' in vllm
    source = curl.mistral_python({"model": "m", "messages": []}, target=options.MISTRAL, with_key=1)
    assert "from mistralai.client import Mistral" in source


def test_vllm_extras_go_in_extra_body_and_openai_fields_are_named(simulator, conversation):
    connection = connection_for(simulator, options.VLLM)
    body = body_for(conversation, connection, {"temperature": "0.5", "top_k": "40"})
    source = curl.openai_python(body, target=options.VLLM, with_key=True)
    assert "    temperature=0.5,\n" in source
    assert 'extra_body={\n        "top_k": 40,\n    },' in source


def test_a_server_other_than_hexgrid_is_named_by_its_url_so_the_command_runs_as_copied(
    simulator, conversation, tmp_path
):
    connection = connection_for(simulator, options.VLLM)
    body = body_for(conversation, connection, {"temperature": "0.5"})
    hexgrid = curl.snippets(body, target=options.VLLM, base_url=simulator.base_url, with_key=True)
    assert '"$MISTRAL_BASE_URL/chat/completions"' in hexgrid.curl
    assert hexgrid.setup.startswith("export MISTRAL_BASE_URL=")

    own = curl.snippets(
        body, target=options.VLLM, base_url=simulator.base_url, with_key=False, literal_url=True
    )
    assert "MISTRAL_BASE_URL" not in own.curl + own.python + own.javascript + own.setup
    # Run with nothing in the environment: each posts the body to the simulator.
    for command in (
        ["bash", "-c", own.curl],
        [sys.executable, "-c", own.python],
    ):
        simulator.requests.clear()
        result = subprocess.run(command, capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        assert last_body(simulator) == body
