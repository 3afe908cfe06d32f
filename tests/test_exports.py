"""Export as JSON (a request body) and Markdown; import it back, or any OpenAI request body."""

from __future__ import annotations

import json

import httpx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from playground import exports, imports, tools
from playground.markdown import render_markdown
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
    keep = [*imports.EXTRAS, "role", "content", "tool_calls", "tool_call_id", "name"]
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
    answer = data["hexplay"]["tree"][3]
    assert answer["reasoning"] == "The tool said 18 °C.\nSo: mild." and answer["parent"] == 2
    assert data["hexplay"]["format"] == 2 and data["hexplay"]["current"] == 3


def test_exported_json_can_be_posted_as_is(rich, simulator):
    rich.add_user_message("And tomorrow?")  # Mistral models answer a user message, not their own
    body = exports.export_json(rich)
    response = httpx.post(f"{simulator.base_url}/chat/completions", json=body, timeout=10)
    assert response.status_code == 200, response.text


def test_export_then_import_is_lossless(rich, user):
    exported = exports.export_json(rich)
    imported = imports.import_conversation(user, json.loads(json.dumps(exported)))
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
    conversation = imports.import_conversation(user, body)
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
    with pytest.raises(imports.ImportRejected) as caught:
        if isinstance(data, dict):
            imports.import_conversation(user, data)
        else:
            imports.parse(json.dumps(data))
    assert problem in str(caught.value)
    assert not Conversation.objects.exists() and not Message.objects.exists()


def test_an_import_that_fails_half_way_is_rolled_back(rich, user, monkeypatch):
    exported = exports.export_json(rich)
    exported["hexplay"]["title"] = ""

    def broken(self, title):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Conversation, "rename", broken)
    with pytest.raises(RuntimeError):
        imports.import_conversation(user, exported)
    assert Conversation.objects.count() == 1 and Message.objects.count() == 4


def test_invalid_json_is_named(simulator):
    with pytest.raises(imports.ImportRejected, match=r"not valid JSON: .* \(line 1, column 2\)"):
        imports.parse("{oops")


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


# ---- The whole tree: versions, candidates, token odds (format 2) ------------------------------


def token(text: str, logprob: float, other: str, other_logprob: float) -> dict:
    """One of vLLM's `logprobs.content` entries, with the one other token it weighed."""
    chosen = {"token": text, "logprob": logprob, "bytes": list(text.encode())}
    weighed = {"token": other, "logprob": other_logprob, "bytes": list(other.encode())}
    return {**chosen, "top_logprobs": [chosen, weighed]}


WEATHER_TOOL = tools.openai_tool(
    "get_weather",
    "The weather of a city now.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    False,
)


@pytest.fixture
def tree(simulator, make_conversation):
    """A poem asked for, answered with n=3 and logprobs, regenerated, then a failed retry; the
    question edited into one that uses a tool; and the second candidate on screen."""
    conversation = make_conversation(
        title="Poems",
        system_prompt="Write short poems.",
        options={"n": 3, "temperature": 0.8, "logprobs": True, "top_logprobs": 2},
    )
    question = conversation.add_user_message("Write a poem about the sea")
    body = {**exports.export_json(conversation), "stream": True}
    del body["hexplay"]
    first = conversation.start_answer(connection="simulator", model=conversation.model, body=body)
    candidates = [first] + [
        Message(conversation=conversation, parent=question, candidate_of=first, candidate_index=i)
        for i in (1, 2)
    ]
    for answer, text in zip(
        candidates, ["Waves\nand *salt*", "Blue on\nblue", "Gulls"], strict=True
    ):
        answer.role, answer.content = "assistant", text
        answer.content_html = render_markdown(text)
        answer.reasoning = f"Candidate {answer.candidate_index}: keep it short."
        answer.status, answer.finish_reason = Message.Status.COMPLETE, "stop"
        answer.connection, answer.model, answer.request_body = "simulator", first.model, body
        answer.logprobs = [
            token(text[:3], -0.1, "Sea", -2.5),
            token(text[3:], -0.7, "!", -1.25),
        ]
        answer.usage = {"prompt_tokens": 20, "completion_tokens": 9, "total_tokens": 29}
        answer.time_to_first_token_ms = 80.0 + answer.candidate_index
        answer.duration_ms, answer.tokens_per_second = 400.5, 25.0
        answer.save()
    conversation.rewind_for_new_answer()  # Regenerate
    again = conversation.start_answer(connection="simulator", model=first.model, body=body)
    again.content, again.content_html = "Once more: the sea", "<p>Once more: the sea</p>\n"
    again.status, again.usage = Message.Status.COMPLETE, {"completion_tokens": 4, "estimated": True}
    again.save()
    conversation.rewind_for_new_answer()  # Retry, which failed
    failed = conversation.start_answer(connection="simulator", model=first.model, body=body)
    failed.status, failed.error = Message.Status.ERROR, "The server is busy: try again."
    failed.save()
    # The question edited: a new version, answered with a tool call, its result and an answer.
    conversation.add_user_message("What is the weather at sea?", replacing=question)
    calling = conversation.add_by_hand(
        role="assistant", content="", tool_calls=CALLS, reasoning="Ask."
    )
    calling.request_body = {"model": first.model, "messages": [], "tools": [WEATHER_TOOL]}
    calling.save()
    conversation.add_by_hand(
        role="tool", content="18 °C", tool_call_id="call00001", name="get_weather"
    )
    conversation.add_by_hand(role="assistant", content="Mild: **18 °C**.")
    conversation.show_version(candidates[1])
    return conversation


NOT_COMPARED = {"id", "conversation", "parent", "candidate_of", "created"}


def addresses(messages: list[Message]) -> dict[int, tuple[int, ...]]:
    """Each message's place in the tree: its version number at each level from the root."""
    replies: dict[int | None, list[Message]] = {}
    for message in sorted(messages, key=lambda m: (m.created, m.pk)):
        replies.setdefault(message.parent_id, []).append(message)
    found, stack = {}, [(m, (i,)) for i, m in enumerate(replies.get(None, []))]
    while stack:
        message, address = stack.pop()
        found[message.pk] = address
        stack += [(m, (*address, i)) for i, m in enumerate(replies.get(message.pk, []))]
    return found


def whole_tree(conversation: Conversation) -> dict:
    """Every message field by field, by its place in the tree, links and the one on screen."""
    conversation.refresh_from_db()
    messages = list(conversation.messages.all())
    place = addresses(messages)
    assert len(place) == len(messages)  # every message is reachable from a first one
    rows = {}
    for message in messages:
        row = {
            f.attname: getattr(message, f.attname)
            for f in Message._meta.concrete_fields
            if f.name not in NOT_COMPARED
        }
        row["request_body"] = {k: v for k, v in message.request_body.items() if k != "messages"}
        row["candidate_of"] = place.get(message.candidate_of_id)
        rows[place[message.pk]] = row
    return {"messages": rows, "current": place[conversation.current_id]}


def on_screen(conversation: Conversation) -> list[tuple]:
    return [
        (m.role, m.content, m.version_number, m.version_count, len(m.candidates))
        for m in conversation.path()
    ]


def round_trip(conversation: Conversation, owner) -> tuple[dict, Conversation]:
    exported = json.loads(json.dumps(exports.export_json(conversation)))
    return exported, imports.import_conversation(owner, json.loads(json.dumps(exported)))


def test_export_then_import_keeps_every_version_candidate_and_token_odds(tree, user):
    exported, imported = round_trip(tree, user)

    assert whole_tree(imported) == whole_tree(tree)
    assert len(exported["hexplay"]["tree"]) == Message.objects.filter(conversation=tree).count()
    assert (
        on_screen(imported)
        == on_screen(tree)
        == [
            ("user", "Write a poem about the sea", 1, 2, 0),
            ("assistant", "Blue on\nblue", 2, 5, 3),
        ]
    )
    assert without_time(exports.export_json(imported)) == without_time(exported)
    # What the page shows of them comes back too: the candidates and each token's odds.
    answer = imported.path()[-1]
    assert [c.text for c in answer.candidates] == ["Waves\nand *salt*", "Blue on\nblue", "Gulls"]
    assert [v.percent for v in answer.token_views] == ["90%", "50%"]
    imported.show_version(imported.messages.get(content="Mild: **18 °C**."))
    assert [m.role for m in imported.path()] == ["user", "assistant", "tool", "assistant"]
    calling = imported.path()[1]
    assert calling.tool_calls == CALLS and calling.reasoning == "Ask."
    # Its arguments are still checked against the tool it was offered.
    assert calling.tool_call_cards[0]["error"] == "" and "tools" in calling.request_body


def test_the_body_of_a_tree_export_is_the_branch_on_screen_and_can_be_posted(tree, simulator):
    tree.add_user_message("And one about rivers")  # a Mistral model answers a user message
    body = exports.export_json(tree)
    assert [m["content"] for m in body["messages"]] == [
        "Write short poems.",
        "Write a poem about the sea",
        "Blue on\nblue",
        "And one about rivers",
    ]
    assert body["n"] == 3 and body["logprobs"] is True
    plain = {k: v for k, v in body.items() if k != "hexplay"}
    response = httpx.post(f"{simulator.base_url}/chat/completions", json=plain, timeout=10)
    assert response.status_code == 200, response.text
    assert body["stream"] is True and '"index":2' in response.text  # the third candidate


def test_a_tree_reordered_by_hand_round_trips(rich, user):
    for answer in rich.messages.filter(role="assistant"):
        answer.render()  # as rendered when it ended, which the import does again
        answer.save()
    path = rich.path()
    rich.move(path[0], up=False)  # now a reply is older than the message it follows
    rich.add_user_message("Edited", replacing=rich.path()[0])
    rich.show_version(rich.messages.get(role="tool"))
    _, imported = round_trip(rich, user)
    assert whole_tree(imported) == whole_tree(rich)
    assert on_screen(imported) == on_screen(rich)


def test_a_format_1_file_still_imports(simulator, user):
    old = {
        "model": "mistralai/Magistral-Small-2509",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello **you**."},
        ],
        "temperature": 0.3,
        "hexplay": {
            "format": 1,
            "title": "Old file",
            "connection": "simulator",
            "system_prompt": "Be brief.",
            "options": {"temperature": 0.3},
            "messages": [
                {"system_prompt": True},
                {},
                {"reasoning": "Greet.", "status": "stopped", "usage": {"completion_tokens": 3}},
            ],
        },
    }
    conversation = imports.import_conversation(user, old)
    answer = conversation.path()[-1]
    assert [(m.role, m.content) for m in conversation.path()] == [
        ("user", "Hi"),
        ("assistant", "Hello **you**."),
    ]
    assert (answer.reasoning, answer.status, answer.usage) == (
        "Greet.",
        "stopped",
        {"completion_tokens": 3},
    )
    assert conversation.system_prompt == "Be brief." and conversation.title == "Old file"
    assert answer.content_html == "<p>Hello <strong>you</strong>.</p>\n"


def tree_file(*nodes: dict, current=0, **hexplay) -> dict:
    return {
        "messages": [{"role": "user", "content": "a"}],
        "hexplay": {"format": 2, "tree": list(nodes), "current": current, **hexplay},
    }


USER = {"parent": None, "role": "user", "content": "a"}
ANSWER = {"parent": 0, "role": "assistant", "content": "b"}


def test_html_in_a_file_is_ignored_and_candidates_may_point_forward(simulator, user):
    data = tree_file(
        USER,
        {**ANSWER, "candidate_of": 2, "candidate_index": 1, "content_html": "<script>x</script>"},
        {**ANSWER, "content": "<b>c</b>"},
        current=1,
    )
    conversation = imports.import_conversation(user, data)
    second, first = conversation.messages.filter(role="assistant").order_by("id")
    assert second.candidate_of == first and second.candidate_index == 1
    assert (
        second.content_html == "<p>b</p>\n"
        and first.content_html == "<p>&lt;b&gt;c&lt;/b&gt;</p>\n"
    )
    assert len(conversation.path()[-1].candidates) == 2


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (
            tree_file(USER, hexplay_format=None) | {"hexplay": {"format": 3}},
            "format 3, from a newer",
        ),
        ({"messages": [], "hexplay": {"format": 2}}, "hexplay.tree is missing or not a list"),
        (tree_file(current=None) | {"messages": []}, "messages is empty"),
        (tree_file("a"), "hexplay.tree[0] must be an object with a role and content."),
        (tree_file({**USER, "parent": 0}), "hexplay.tree[0].parent must be null"),
        (
            tree_file(USER, {**ANSWER, "parent": 1}),
            "hexplay.tree[1].parent must be the position of an earlier message in hexplay.tree "
            "(0 to 0), or null",
        ),
        (tree_file(USER, {**ANSWER, "parent": True}), "hexplay.tree[1].parent must be"),
        (tree_file({**USER, "role": "bot"}), "hexplay.tree[0].role must be one of system, user"),
        (tree_file({**USER, "content": ["a"]}), "hexplay.tree[0].content must be a string."),
        (tree_file({**USER, "model": "m" * 201}), "model is longer than 200 characters."),
        (tree_file({**USER, "status": "streaming"}), "hexplay.tree[0].status must be one of"),
        (tree_file({**USER, "duration_ms": "9"}), "hexplay.tree[0].duration_ms must be a number."),
        (tree_file({**USER, "duration_ms": -1}), "duration_ms cannot be negative."),
        (tree_file({**USER, "tool_calls": CALLS}), "tool_calls is only allowed on assistant"),
        (
            tree_file(USER, {**ANSWER, "tool_calls": [{"id": "c", "type": "x"}]}),
            'hexplay.tree[1].tool_calls[0].type must be "function".',
        ),
        (
            tree_file(USER, {"parent": 0, "role": "tool", "content": "18"}),
            "hexplay.tree[1].tool_call_id is missing",
        ),
        (
            tree_file(USER, {**ANSWER, "usage": {"completion_tokens": "9"}}),
            "usage.completion_tokens",
        ),
        (tree_file(USER, {**ANSWER, "logprobs": {"content": []}}), "logprobs must be a list"),
        (
            tree_file(USER, {**ANSWER, "logprobs": [{"token": "b", "logprob": "low"}]}),
            "hexplay.tree[1].logprobs[0].logprob must be a number.",
        ),
        (
            tree_file(USER, {**ANSWER, "logprobs": [token("b", -1, "c", -2)] + [{"logprob": 0}]}),
            "hexplay.tree[1].logprobs[1] must be an object with a token",
        ),
        (tree_file(USER, {**ANSWER, "request_body": {"n": "3"}}), "request_body.n must be a whole"),
        (
            tree_file(USER, {**ANSWER, "request_body": {"tools": [{"type": "function"}]}}),
            "hexplay.tree[1].request_body.tools: ",
        ),
        (
            tree_file(USER, {**ANSWER, "candidate_of": 0, "candidate_index": 1}),
            "hexplay.tree[1].candidate_of must be the position of another answer",
        ),
        (
            tree_file(USER, {**ANSWER, "candidate_of": 1, "candidate_index": 1}),
            "hexplay.tree[1].candidate_of must be the position of another answer",
        ),
        (
            tree_file(USER, ANSWER, {**ANSWER, "candidate_of": 1}),
            "hexplay.tree[2].candidate_index must be a whole number from 1 to 32767.",
        ),
        (tree_file(USER, current=1), "hexplay.current must be the position of a message"),
        (tree_file(USER, current="0"), "hexplay.current must be the position of a message"),
    ],
)
def test_bad_trees_say_what_is_wrong_and_leave_nothing(simulator, user, data, problem):
    with pytest.raises(imports.ImportRejected) as caught:
        imports.import_conversation(user, data)
    assert problem in str(caught.value)
    assert not Conversation.objects.exists() and not Message.objects.exists()


def test_a_number_that_is_not_finite_is_refused(simulator, user):
    data = imports.parse(json.dumps(tree_file({**USER, "duration_ms": float("nan")})))
    with pytest.raises(imports.ImportRejected, match=r"tree\[0\]\.duration_ms must be a number"):
        imports.import_conversation(user, data)


# ---- Markdown keeps single line breaks ------------------------------------------------------


POEM = "Roses are red,\nviolets are blue.\n\nSecond verse\nends here."
CODE = "Run:\n```python\nx = 1\ny = 2\n```\nDone\nnow."


@pytest.mark.parametrize("breaks", [False, True])
def test_markdown_export_keeps_the_lines_of_a_poem_whatever_the_renderer(
    simulator, make_conversation, breaks
):
    from markdown_it import MarkdownIt

    conversation = make_conversation(system_prompt="One\ntwo")
    conversation.add_user_message(POEM)
    conversation.add_by_hand(role="assistant", content=CODE, reasoning="Think\nagain")
    text = exports.export_markdown(conversation)
    html = MarkdownIt("commonmark", {"breaks": breaks}).render(text)

    assert "<p>Roses are red,<br />\nviolets are blue.</p>" in html
    assert "<p>Second verse<br />\nends here.</p>" in html
    assert "<p>One<br />\ntwo</p>" in html and "<p>Think<br />\nagain</p>" in html
    # Code keeps its lines as they were, without spaces added.
    assert '<pre><code class="language-python">x = 1\ny = 2\n</code></pre>' in html
    assert "```python\nx = 1\ny = 2\n```\nDone  \nnow." in text
    assert "<p>Done<br />\nnow.</p>" in html


def test_a_code_block_left_open_is_closed_so_the_next_heading_stays_one(
    simulator, make_conversation
):
    conversation = make_conversation()
    conversation.add_user_message("Code please")
    conversation.add_by_hand(role="assistant", content="Here:\n~~~~\nlet a = 1;")
    conversation.add_user_message("Thanks\nagain")
    text = exports.export_markdown(conversation)
    assert "~~~~\nlet a = 1;\n~~~~\n\n## User\n\nThanks  \nagain\n" in text
