"""The local llama.cpp server, started as `make run` starts it, answering over real HTTP."""

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from playground.upstream.localmodel import LocalModelProcess
from tests.servers import free_port

pytestmark = pytest.mark.localmodel


@pytest.fixture(scope="module")
def local_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalModelProcess]:
    if not settings.LOCAL_MODEL_FILE.is_file():
        pytest.skip(f"{settings.LOCAL_MODEL_FILE} is missing: `make test` downloads it")
    model = LocalModelProcess(
        settings.LOCAL_MODEL_FILE,
        port=free_port(),
        model_name=settings.LOCAL_MODEL_NAME,
        log_file=tmp_path_factory.mktemp("localmodel") / "server.log",
    )
    with model:
        yield model


def test_models_lists_the_local_model(local_model: LocalModelProcess) -> None:
    response = httpx.get(f"{local_model.base_url}/models")

    assert response.status_code == 200
    assert [m["id"] for m in response.json()["data"]] == [settings.LOCAL_MODEL_NAME]


def test_streamed_chat_sends_content_deltas_then_usage(local_model: LocalModelProcess) -> None:
    body = {
        "model": settings.LOCAL_MODEL_NAME,
        "messages": [{"role": "user", "content": "Say hello."}],
        "max_tokens": 16,
        "seed": 1,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with httpx.stream("POST", f"{local_model.base_url}/chat/completions", json=body) as response:
        assert response.status_code == 200
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]

    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    choices = [c["choices"][0] for c in chunks if c["choices"]]
    assert [c["delta"]["content"] for c in choices if c["delta"].get("content")]
    assert [c["finish_reason"] for c in choices if c["finish_reason"]] in (["stop"], ["length"])
    # With include_usage the last chunk carries the usage and no choices.
    assert chunks[-1]["choices"] == []
    usage = chunks[-1]["usage"]
    assert usage["prompt_tokens"] > 0
    assert 0 < usage["completion_tokens"] <= 16
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_start_shows_the_server_log_when_the_model_cannot_load(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a model" * 100)
    model = LocalModelProcess(broken, port=free_port(), log_file=tmp_path / "server.log")

    with pytest.raises(RuntimeError, match="exited with code") as error:
        model.start()

    assert "failed to load model" in str(error.value)


@pytest.mark.django_db(transaction=True)
async def test_local_model_answers_through_the_playground_and_the_answer_is_stored(
    local_model: LocalModelProcess, user, settings
) -> None:
    from asgiref.sync import sync_to_async

    from playground.models import Conversation
    from tests.conftest import ANSWER_DONE, open_socket, receive_until

    settings.MISTRAL_BASE_URL = ""
    settings.SIMULATOR_ENABLED = False
    settings.LOCAL_MODEL_ENABLED = True
    settings.LOCAL_MODEL_URL = local_model.base_url
    conversation = await Conversation.objects.acreate(
        owner=user, connection="local", model=settings.LOCAL_MODEL_NAME
    )
    socket, connected = await open_socket(conversation.pk, user)
    assert connected
    await socket.send_json_to({"message": "Name three colours."})
    fragments = await receive_until(socket, ANSWER_DONE, timeout=60)
    await socket.disconnect()

    answer = await sync_to_async(conversation.messages.get)(role="assistant")
    assert answer.status == "complete", answer.error
    assert answer.content.strip()
    assert answer.finish_reason in {"stop", "length"}
    assert answer.usage["prompt_tokens"] > 0 and answer.usage["completion_tokens"] > 0
    assert answer.tokens_per_second is None or answer.tokens_per_second > 0
    assert answer.time_to_first_token_ms > 0
    # The words arrived as deltas, not only in the final render.
    assert sum(f'"{answer.dom_id}-content"' in f for f in fragments if f.startswith("{")) >= 2
