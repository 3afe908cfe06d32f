"""The code view's snippets post exactly the body HexPlay posts: run with bash, curl and Node."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import types
from contextlib import contextmanager, nullcontext
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from playground import curl, options
from playground.connections import Connection
from playground.stream import build_body
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


@contextmanager
def fake_sdk(name: str, module: types.ModuleType):
    with mock.patch.dict(sys.modules, {name: module}):
        yield


def sent_by_openai_snippet(source: str) -> dict:
    calls = []

    class Completions:
        def create(self, **arguments):
            calls.append(arguments)
            return []

    class OpenAI:
        def __init__(self, *, base_url: str, api_key: str) -> None:
            assert base_url == "http://sim/v1" and api_key == "k"
            self.chat = types.SimpleNamespace(completions=Completions())

    with (
        fake_sdk("openai", types.SimpleNamespace(OpenAI=OpenAI)),
        mock.patch.dict(os.environ, {"MISTRAL_BASE_URL": "http://sim/v1", "HEXGRID_API_KEY": "k"}),
    ):
        exec(compile(source, "snippet.py", "exec"), {})
    (arguments,) = calls
    # The SDK posts its named arguments with extra_body merged in.
    return {k: v for k, v in arguments.items() if k != "extra_body"} | arguments.get(
        "extra_body", {}
    )


def sent_by_mistral_snippet(source: str) -> dict:
    calls = []

    class Chat:
        def stream(self, **arguments):
            calls.append({**arguments, "stream": True})
            return nullcontext(())  # a stream of no events

        def complete(self, **arguments):
            calls.append(arguments)
            return types.SimpleNamespace(
                choices=[types.SimpleNamespace(message=types.SimpleNamespace(content=""))]
            )

    class Mistral:
        def __init__(self, *, api_key: str, server_url: str) -> None:
            assert server_url == "https://api.mistral.ai" and api_key == "k"
            self.chat = Chat()

        def __enter__(self):
            return self

        def __exit__(self, *exc_info):
            return None

    with (
        fake_sdk("mistralai", types.SimpleNamespace(Mistral=Mistral)),
        mock.patch.dict(
            os.environ, {"MISTRAL_BASE_URL": "https://api.mistral.ai/v1", "MISTRAL_API_KEY": "k"}
        ),
    ):
        exec(compile(source, "snippet.py", "exec"), {})
    (arguments,) = calls
    return arguments


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_the_python_snippet_passes_the_same_body_to_its_sdk(simulator, conversation, data):
    target = data.draw(st.sampled_from(list(options.TARGETS)))
    connection = connection_for(simulator, target)
    body = body_for(
        conversation, connection, data.draw(option_texts(target)), data.draw(typed_text)
    )
    if target == options.MISTRAL:
        source = curl.mistral_python(body, target=target, with_key=True)
        assert sent_by_mistral_snippet(source) == body
    else:
        source = curl.openai_python(body, target=target, with_key=True)
        assert sent_by_openai_snippet(source) == body


def test_vllm_extras_go_in_extra_body_and_openai_fields_are_named(simulator, conversation):
    connection = connection_for(simulator, options.VLLM)
    body = body_for(conversation, connection, {"temperature": "0.5", "top_k": "40"})
    source = curl.openai_python(body, target=options.VLLM, with_key=True)
    assert "    temperature=0.5,\n" in source
    assert 'extra_body={\n        "top_k": 40,\n    },' in source
