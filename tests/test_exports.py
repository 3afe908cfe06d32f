"""Export as JSON (a request body) and Markdown; import it back, or any OpenAI request body."""

from __future__ import annotations

import json

import httpx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from playground import exports
from playground.models import Conversation, Message

pytestmark = pytest.mark.django_db

SECRET = "sk-hexgrid-very-secret-key"
CALLS = [
    {
        "id": "call00001",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    }
]


@pytest.fixture
def rich(simulator, make_conversation):
    """Every kind of message and detail a round trip must keep."""
    conversation = make_conversation(
        title="Weather in Paris",
        system_prompt="Be brief.",
        options={"temperature": 0.3, "max_tokens": 200, "stop": ["\n\n", "END"]},
    )
    conversation.add_user_message("What is the weather in Paris?")
    conversation.add_by_hand(role="assistant", content="", tool_calls=CALLS)
    conversation.add_by_hand(
        role="tool", content="18 °C", tool_call_id="call00001", name="get_weather"
    )
    answer = conversation.start_answer(connection="simulator", model="mistralai/Magistral", body={})
    answer.content = "It is **18 °C**."
    answer.content_html = "<p>It is <strong>18 °C</strong>.</p>"
    answer.reasoning = "The tool said 18 °C.\nSo: mild."
    answer.reasoning_ms = 1234.5
    answer.status = Message.Status.STOPPED
    answer.finish_reason = "length"
    answer.usage = {"prompt_tokens": 30, "completion_tokens": 12, "total_tokens": 42}
    answer.time_to_first_token_ms = 88.0
    answer.duration_ms = 900.0
    answer.tokens_per_second = 12.5
    answer.save()
    return conversation


def message_state(conversation: Conversation) -> list[dict]:
    keep = [*exports.EXTRAS, "role", "content", "tool_calls", "tool_call_id", "name"]
    return [{k: getattr(m, k) for k in keep} for m in conversation.path()]


def without_time(data: dict) -> dict:
    data = json.loads(json.dumps(data))
    del data["hexplay"]["exported"]
    return data


def test_export_is_a_request_body_with_the_options_and_model(rich):
    data = exports.export_json(rich)
    assert data["model"] == rich.model
    assert data["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is the weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": CALLS},
        {"role": "tool", "content": "18 °C", "tool_call_id": "call00001", "name": "get_weather"},
        {"role": "assistant", "content": "It is **18 °C**."},
    ]
    assert data["temperature"] == 0.3 and data["stop"] == ["\n\n", "END"]
    assert data["hexplay"]["messages"][4]["reasoning"] == "The tool said 18 °C.\nSo: mild."


def test_exported_json_can_be_posted_as_is(rich, simulator):
    rich.add_user_message("And tomorrow?")  # Mistral models answer a user message, not their own
    body = exports.export_json(rich)
    response = httpx.post(f"{simulator.base_url}/chat/completions", json=body, timeout=10)
    assert response.status_code == 200, response.text


def test_export_then_import_is_lossless(rich, user):
    exported = exports.export_json(rich)
    imported = exports.import_conversation(user, json.loads(json.dumps(exported)))
    assert imported.pk != rich.pk and imported.owner == user
    assert message_state(imported) == message_state(rich)
    assert imported.options == rich.options
    assert (imported.model, imported.system_prompt, imported.title, imported.connection) == (
        rich.model,
        rich.system_prompt,
        rich.title,
        rich.connection,
    )
    assert without_time(exports.export_json(imported)) == without_time(exported)
    # HTML is rendered again from the Markdown (never taken from a file), and stored.
    answer = imported.path()[-1]
    assert answer.content_html == "<p>It is <strong>18 °C</strong>.</p>\n"


def test_a_plain_openai_request_body_imports(simulator, user):
    body = {
        "model": "mistralai/Mistral-Small-3.2-24B-Instruct-2506",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": [{"type": "text", "text": "Hello"}]},
            {"role": "assistant", "content": "Hi.", "reasoning_content": "Greet back."},
            {"role": "user", "content": "Bye"},
        ],
        "temperature": 0.7,
        "max_tokens": 50,
        "stop": "END",
        "vllm_xargs": {"session": "a1"},
        "stream": True,
    }
    conversation = exports.import_conversation(user, body)
    assert conversation.system_prompt == "You are terse."
    assert [(m.role, m.content) for m in conversation.path()] == [
        ("user", "Hello"),
        ("assistant", "Hi."),
        ("user", "Bye"),
    ]
    assert conversation.path()[1].reasoning == "Greet back."
    assert conversation.title == "Hello"
    assert conversation.options["temperature"] == 0.7
    assert conversation.options["max_tokens"] == 50
    assert conversation.options["stop"] == ["END"]
    assert conversation.options["extra_json"] == {"vllm_xargs": {"session": "a1"}}


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ([1, 2], "The JSON must be an object with a messages list"),
        ({"model": "m"}, "messages is missing"),
        ({"messages": {}}, "messages must be a list."),
        ({"messages": []}, "messages is empty"),
        ({"messages": ["hi"]}, "messages[0] must be an object with a role and content."),
        (
            {"messages": [{"role": "user", "content": "a"}, {"role": "bot", "content": "b"}]},
            'messages[1].role must be one of system, user, assistant, tool (is "bot").',
        ),
        ({"messages": [{"content": "a"}]}, "messages[0].role must be one of system, user"),
        ({"messages": [{"role": "user", "content": 3}]}, "messages[0].content must be text"),
        (
            {"messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
            "messages[0].content[0] is a image_url part: only text can be imported.",
        ),
        (
            {"messages": [{"role": "tool", "content": "18"}]},
            "messages[0].tool_call_id is missing",
        ),
        (
            {"messages": [{"role": "assistant", "content": "", "tool_calls": [{"id": "c"}]}]},
            'messages[0].tool_calls[0].type must be "function".',
        ),
        (
            {"messages": [{"role": "user", "content": "a", "tool_calls": CALLS}]},
            "messages[0].tool_calls is only allowed on assistant messages.",
        ),
        ({"model": 3, "messages": [{"role": "user", "content": "a"}]}, "model must be a string."),
        (
            {"messages": [{"role": "user", "content": "a"}], "temperature": "hot"},
            'temperature has a value of the wrong type ("hot").',
        ),
        (
            {"messages": [{"role": "user", "content": "a"}], "hexplay": {"messages": []}},
            "hexplay.messages must be a list with one entry per message (1).",
        ),
        (
            {
                "messages": [{"role": "user", "content": "a"}],
                "hexplay": {"options": {"temperature": 9}},
            },
            "hexplay.options.temperature: Temperature",
        ),
        (
            {"messages": [{"role": "user", "content": "a"}], "hexplay": {"options": {"x": 1}}},
            "hexplay.options.x is not an option HexPlay knows.",
        ),
    ],
)
def test_bad_imports_say_what_is_wrong_and_leave_nothing(simulator, user, data, problem):
    with pytest.raises(exports.ImportRejected) as caught:
        if isinstance(data, dict):
            exports.import_conversation(user, data)
        else:
            exports.parse(json.dumps(data))
    assert problem in str(caught.value)
    assert not Conversation.objects.exists() and not Message.objects.exists()


def test_an_import_that_fails_half_way_is_rolled_back(rich, user, monkeypatch):
    exported = exports.export_json(rich)
    exported["hexplay"]["title"] = ""

    def broken(self, title):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Conversation, "rename", broken)
    with pytest.raises(RuntimeError):
        exports.import_conversation(user, exported)
    assert Conversation.objects.count() == 1 and Message.objects.count() == 4


def test_invalid_json_is_named(simulator):
    with pytest.raises(exports.ImportRejected, match=r"not valid JSON: .* \(line 1, column 2\)"):
        exports.parse("{oops")


def test_downloads_are_attachments(logged_in, rich):
    response = logged_in.get(f"/conversations/{rich.pk}/export.json")
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert (
        response["Content-Disposition"] == f'attachment; filename="weather-in-paris-{rich.pk}.json"'
    )
    assert json.loads(response.content)["hexplay"]["title"] == "Weather in Paris"
    response = logged_in.get(f"/conversations/{rich.pk}/export.md")
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["Content-Disposition"].endswith(f'filename="weather-in-paris-{rich.pk}.md"')


def test_markdown_export_is_readable_with_reasoning_folded(rich):
    text = exports.export_markdown(rich)
    assert text.startswith("# Weather in Paris\n")
    assert "## System prompt\n\nBe brief." in text
    assert "## User\n\nWhat is the weather in Paris?" in text
    assert "<details>\n<summary>Reasoning · 1.2 s</summary>\n\nThe tool said 18 °C." in text
    assert 'Calls `get_weather` (`call00001`) with:\n\n```json\n{"city": "Paris"}\n```' in text
    assert "## Tool result (`get_weather`, call `call00001`)\n\n18 °C" in text
    assert "It is **18 °C**." in text and "*Stopped before the end.*" in text
    assert "`temperature`: `0.3`" in text


def test_exports_never_contain_the_api_key(logged_in, rich, settings, simulator):
    settings.MISTRAL_BASE_URL = simulator.base_url
    settings.HEXGRID_API_KEY = SECRET
    rich.connection = "hexgrid"
    rich.save()
    for kind in ["json", "md"]:
        response = logged_in.get(f"/conversations/{rich.pk}/export.{kind}")
        assert response.status_code == 200 and SECRET.encode() not in response.content


def test_import_page_takes_a_file_or_pasted_json(logged_in, rich, user):
    page = logged_in.get("/import/").content.decode()
    assert '<label for="id_file">JSON file</label>' in page
    assert '<label for="id_text">Or paste the JSON</label>' in page
    exported = logged_in.get(f"/conversations/{rich.pk}/export.json").content
    upload = SimpleUploadedFile("chat.json", exported, content_type="application/json")
    response = logged_in.post("/import/", {"file": upload})
    copy = Conversation.objects.exclude(pk=rich.pk).get()
    assert response.status_code == 302 and response.url == f"/conversations/{copy.pk}/"
    assert message_state(copy) == message_state(rich)
    response = logged_in.post(
        "/import/", {"text": '{"messages": [{"role": "user", "content": "Hi"}]}'}
    )
    assert response.status_code == 302
    assert Conversation.objects.filter(owner=user).count() == 3


def test_import_page_shows_the_problem_and_keeps_the_text(logged_in, simulator):
    text = '{"messages": [{"role": "user", "content": "a"}, {"role": "robot", "content": "b"}]}'
    response = logged_in.post("/import/", {"text": text})
    page = response.content.decode()
    assert response.status_code == 422
    assert "Nothing was imported." in page
    assert "messages[1].role must be one of system, user, assistant, tool" in page
    assert "&quot;robot&quot;" in page  # what was pasted is still there to fix
    assert logged_in.post("/import/", {}).status_code == 422
    assert not Conversation.objects.exists()


def test_import_needs_a_log_in(client):
    assert client.get("/import/").url.startswith("/login/")
