"""Tools in a conversation: attached from the library, their options, the turns, the flow."""

from __future__ import annotations

import json
import re

import pytest
from asgiref.sync import sync_to_async
from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from playground import curl, exports, imports, options
from playground.models import (
    Conversation,
    Message,
    ToolDefinition,
    new_tool_call_id,
    tool_turns_problem,
)
from playground.options import LLAMACPP, MISTRAL, VLLM
from playground.stream import build_body
from playground.upstream.connections import get_connection
from tests.conftest import ANSWER_DONE, appended_text, open_socket, receive_until
from tests.test_curl import assert_python_posts, connection_for, run

WEATHER_PARAMETERS = {
    "type": "object",
    "properties": {
        "location": {"type": "string", "description": "City and country"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["location"],
}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "The weather where the user is.",
        "parameters": WEATHER_PARAMETERS,
    },
}
NAMED = options.named_tool_choice("get_current_weather")
HX = {"HTTP_HX_REQUEST": "true"}


def weather_tool(owner, **fields) -> ToolDefinition:
    return ToolDefinition.objects.create(
        owner=owner,
        name="get_current_weather",
        description="The weather where the user is.",
        parameters=WEATHER_PARAMETERS,
        **fields,
    )


def time_tool(owner) -> ToolDefinition:
    parameters = {"type": "object", "properties": {"city": {"type": "string"}}}
    return ToolDefinition.objects.create(owner=owner, name="get_time", parameters=parameters)


def errors_of(target: str, tools=None, messages=None, **typed: str) -> dict[str, str]:
    return options.check(typed, target, messages=messages, tools=tools).errors


def body_of(target: str, tools=None, messages=None, **typed: str) -> dict:
    checked = options.check(typed, target, messages=messages, tools=tools)
    assert checked.ok, checked.errors
    return checked.body_fields()


# ---- The registry: tools, tool_choice, parallel_tool_calls ------------------------------------


def test_the_attached_tools_are_the_bodys_tools_and_no_tools_means_no_key():
    assert body_of(VLLM, tools=[WEATHER])["tools"] == [WEATHER]
    # vLLM refuses `tools: []`.
    assert "tools" not in body_of(VLLM, tools=[])
    assert "tools" not in body_of(VLLM)


@pytest.mark.parametrize(
    ("typed", "tools", "error"),
    [
        ({"tool_choice": "auto"}, None, "Attach a tool first, or set Tool choice to none."),
        ({"tool_choice": "required"}, None, "Attach a tool first, or set Tool choice to none."),
        (
            {"tool_choice": "function:get_current_weather"},
            None,
            "Attach a tool first, or set Tool choice to none.",
        ),
        (
            {"tool_choice": "function:get_time"},
            [WEATHER],
            "Tool choice names get_time, which is not attached: tick it under Tools, or choose "
            "another.",
        ),
        (
            {"tool_choice": "any"},
            [WEATHER],
            "Tool choice any is the Mistral API's word for required: choose required.",
        ),
        ({"tool_choice": "always"}, [WEATHER], "Tool choice must be one of: auto, none, required"),
    ]
    + [
        (
            {
                "tool_choice": "function:get_current_weather",
                "structured_outputs": kind,
                f"structured_{kind}": value,
            },
            [WEATHER],
            "A named Tool choice already constrains the answer to that tool's arguments: use it "
            f"or Structured output {kind}, not both.",
        )
        for kind, value in [("json", '{"type": "object"}'), ("regex", "[a-z]+"), ("choice", "a")]
    ],
)
def test_tool_choice_follows_vllms_rules_in_plain_words(typed, tools, error):
    assert errors_of(VLLM, tools, **typed)["tool_choice"].startswith(error)


@pytest.mark.parametrize("field", ["tools", "tool_choice", "parallel_tool_calls"])
def test_extra_json_cannot_override_the_tool_fields(field):
    extra = json.dumps({field: "auto"})
    assert errors_of(VLLM, [WEATHER], extra_json=extra)["extra_json"].startswith(
        f"{field} has its own place"
    )


def test_the_choices_vllm_accepts_are_sent_as_its_wire_shape():
    assert body_of(VLLM, tool_choice="none")["tool_choice"] == "none"  # no tools needed
    named = body_of(VLLM, [WEATHER], tool_choice="function:get_current_weather")
    assert named["tool_choice"] == {"type": "function", "function": {"name": "get_current_weather"}}
    assert body_of(VLLM, [WEATHER], parallel_tool_calls="false")["parallel_tool_calls"] is False
    # Named structured output of another kind than json/regex/choice is vLLM's own business.
    assert body_of(VLLM, [WEATHER], tool_choice="required", structured_outputs="json_object")


def test_any_is_offered_on_mistrals_api_only_and_llamacpp_gets_no_tools():
    assert body_of(MISTRAL, [WEATHER], tool_choice="any")["tool_choice"] == "any"
    assert "any" not in options.BY_KEY["tool_choice"].choices_for(VLLM)
    keys = {option.key for option in options.options_for(LLAMACPP)}
    assert not {"tools", "tool_choice", "parallel_tool_calls"} & keys
    # llama.cpp's local model would answer in text: the tools are never sent to it.
    assert "tools" not in options.check({}, LLAMACPP, tools=[WEATHER]).body_fields()


@pytest.mark.parametrize("choice", ["required", "function:get_current_weather"])
def test_a_forcing_choice_becomes_auto_right_after_tool_results(choice):
    results = [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": "", "tool_calls": []},
        {"role": "tool", "tool_call_id": "aB3dE5gH7", "content": "18 °C"},
    ]
    checked = options.check({"tool_choice": choice}, VLLM, messages=results, tools=[WEATHER])
    assert checked.body_fields()["tool_choice"] == "auto"
    assert checked.texts["tool_choice"] == choice  # the panel keeps what the person chose
    again = options.check({"tool_choice": choice}, VLLM, messages=results[:1], tools=[WEATHER])
    assert again.body_fields()["tool_choice"] != "auto"


# ---- Tool turns on the wire -------------------------------------------------------------------


def call(call_id: str, name: str = "get_current_weather") -> dict:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": "{}"}}


def result(call_id: str) -> dict:
    return {"role": "tool", "tool_call_id": call_id, "content": "18 °C"}


USER = {"role": "user", "content": "Weather in Paris and time in Oslo?"}
TWO_CALLS = {
    "role": "assistant",
    "content": "",
    "tool_calls": [call("aaaaaaaa1"), call("bbbbbbbb2")],
}


@pytest.mark.parametrize(
    ("messages", "problem"),
    [
        ([USER, TWO_CALLS, result("aaaaaaaa1"), result("bbbbbbbb2")], None),
        ([USER, TWO_CALLS, result("bbbbbbbb2"), result("aaaaaaaa1")], None),
        ([USER, TWO_CALLS], None),  # waiting: nothing is sent from here but the results
        (
            [USER, TWO_CALLS, result("aaaaaaaa1"), USER],
            "The model is waiting for the result of get_current_weather",
        ),
        ([USER, TWO_CALLS, USER], "The model is waiting for the result of get_current_weather"),
        ([USER, result("aaaaaaaa1")], "does not answer a call of the answer just before it"),
        (
            [USER, TWO_CALLS, result("aaaaaaaa1"), result("aaaaaaaa1")],
            "Call aaaaaaaa1 has two tool results",
        ),
    ],
)
def test_tool_turns_are_checked_in_the_order_mistral_common_requires(messages, problem):
    found = tool_turns_problem(messages)
    assert (found is None) if problem is None else problem in found


def test_hexplays_tool_call_ids_are_nine_letters_or_digits():
    ids = {new_tool_call_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(re.fullmatch(r"[A-Za-z0-9]{9}", i) for i in ids)


@pytest.mark.django_db
def test_an_answer_with_calls_goes_upstream_with_empty_content_then_its_results_in_order(
    simulator, make_conversation
):
    conversation = make_conversation()
    conversation.add_user_message("Weather in Paris and time in Oslo?")
    conversation.append_branch(
        [
            {"role": "assistant", "content": "", "tool_calls": TWO_CALLS["tool_calls"]},
            {"role": "tool", "tool_call_id": "aaaaaaaa1", "name": "get_current_weather",
             "content": "18 °C"},
            {"role": "tool", "tool_call_id": "bbbbbbbb2", "name": "get_current_weather",
             "content": "14:05"},
        ]
    )  # fmt: skip
    sent = conversation.upstream_messages()
    # HexGrid's guide and vLLM's own adapters send "" (mistral-common reads it as no text).
    assert sent[1] == {"role": "assistant", "content": "", "tool_calls": TWO_CALLS["tool_calls"]}
    assert [(m["role"], m.get("tool_call_id")) for m in sent[2:]] == [
        ("tool", "aaaaaaaa1"),
        ("tool", "bbbbbbbb2"),
    ]


# ---- Attaching tools in the side panel --------------------------------------------------------


@pytest.mark.django_db
def test_the_panel_lists_only_your_tools_with_a_link_to_define_more(
    logged_in, user, other_user, simulator, make_conversation
):
    weather_tool(user)
    ToolDefinition.objects.create(owner=other_user, name="read_their_mail")
    conversation = make_conversation()
    page = logged_in.get(conversation.get_absolute_url()).content.decode()
    assert '<legend>Tools · <code class="api-name">tools</code></legend>' in page
    assert "get_current_weather(location, unit?)" in page and "read_their_mail" not in page
    assert 'href="/tools/">Define more tools</a>' in page
    assert 'id="id_opt-tool_choice"' in page and 'id="id_opt-parallel_tool_calls"' in page


@pytest.mark.django_db
def test_ticking_a_tool_attaches_it_and_offers_it_as_a_tool_choice(
    logged_in, user, simulator, make_conversation
):
    tool = weather_tool(user)
    conversation = make_conversation()
    url = f"/conversations/{conversation.pk}/options/"
    posted = {"shown_target": "vllm", "tools_shown": "1", "attached_tools": [str(tool.pk)]}
    response = logged_in.post(url, {**posted, "opt-tool_choice": "required"}, **HX)
    text = response.content.decode()
    assert list(conversation.tools.all()) == [tool]
    # The Tools group comes back drawn again, out of band, with the tool to choose by name.
    assert '<details id="options-group-tools" class="option-group" open hx-swap-oob="true">' in text
    assert (
        '<option value="function:get_current_weather">get_current_weather (always call it)' in text
    )
    assert (
        "&quot;tools&quot;: [" in text and "&quot;tool_choice&quot;: &quot;required&quot;" in text
    )

    # Ticking nothing (the list was on screen) detaches; the group is drawn again.
    response = logged_in.post(url, {"shown_target": "vllm", "tools_shown": "1"}, **HX)
    assert not conversation.tools.exists()
    assert "Attach a tool first, or set Tool choice to none." in response.content.decode()


@pytest.mark.django_db
def test_a_duplicate_keeps_the_attached_tools(user, make_conversation):
    conversation = make_conversation()
    conversation.tools.add(weather_tool(user))
    assert list(conversation.duplicate().tools.all()) == list(conversation.tools.all())


@pytest.mark.django_db
def test_someone_elses_tool_cannot_be_attached(
    logged_in, user, other_user, simulator, make_conversation
):
    theirs = ToolDefinition.objects.create(owner=other_user, name="read_their_mail")
    conversation = make_conversation()
    response = logged_in.post(
        f"/conversations/{conversation.pk}/options/",
        {"shown_target": "vllm", "tools_shown": "1", "attached_tools": [str(theirs.pk)]},
        **HX,
    )
    assert response.status_code == 404
    assert not conversation.tools.exists()
    with pytest.raises(ToolDefinition.DoesNotExist):
        conversation.attach_tools([theirs.pk])


@pytest.mark.django_db
def test_without_javascript_the_options_form_attaches_tools(
    logged_in, user, simulator, make_conversation
):
    tool = weather_tool(user)
    conversation = make_conversation()
    response = logged_in.post(
        f"/conversations/{conversation.pk}/options/",
        {"shown_target": "vllm", "tools_shown": "1", "attached_tools": str(tool.pk)},
    )
    assert response.status_code == 302
    assert list(conversation.tools.all()) == [tool]


@pytest.mark.django_db
def test_the_local_model_says_plainly_that_it_gets_no_tools(
    logged_in, user, simulator, make_conversation, settings
):
    settings.LOCAL_MODEL_ENABLED = True
    conversation = make_conversation()
    conversation.tools.add(weather_tool(user))
    conversation.connection = "local"
    conversation.save()
    page = logged_in.get(conversation.get_absolute_url()).content.decode()
    assert "does not use tools (SmolLM2 would answer in plain text)" in page
    assert 'name="attached_tools"' not in page
    assert "&quot;tools&quot;" not in page.split('id="code-view"')[1]


# ---- Canned results --------------------------------------------------------------------------


def waiting_for(conversation, *names: str) -> Message:
    conversation.add_user_message("Weather?")
    calls = [call(new_tool_call_id(), name) for name in names]
    conversation.append_branch(
        [{"role": "assistant", "content": "", "tool_calls": calls, "finish_reason": "tool_calls"}]
    )
    return conversation.path()[-1]


@pytest.mark.django_db
def test_result_boxes_are_prefilled_with_the_canned_result_in_one_query(
    logged_in, user, simulator, make_conversation
):
    conversation = make_conversation()
    conversation.tools.add(weather_tool(user, canned_result='{"temperature": 18}'), time_tool(user))
    waiting_for(conversation, "get_current_weather", "get_time", "get_current_weather")
    with CaptureQueriesContext(db) as queries:
        page = logged_in.get(conversation.get_absolute_url()).content.decode()
    assert page.count('name="result:') == 3
    assert page.count(">{&quot;temperature&quot;: 18}</textarea>") == 2
    assert "Send is refused for now. The model is waiting for the result of" in page
    reads = '"playground_tooldefinition"."canned_result" AS "canned_result"'
    assert len([q for q in queries if reads in q["sql"]]) == 1


# ---- Hand-written turns ----------------------------------------------------------------------


def hand(client, conversation, **data):
    return client.post(f"/conversations/{conversation.pk}/messages/add/", data, **HX)


@pytest.mark.django_db
def test_a_hand_written_call_without_an_id_gets_one_mistral_accepts(
    logged_in, simulator, make_conversation
):
    conversation = make_conversation()
    conversation.add_user_message("Weather?")
    written = [{"type": "function", "function": {"name": "get_current_weather", "arguments": "{}"}}]
    hand(logged_in, conversation, role="assistant", content="", tool_calls=json.dumps(written))
    conversation.refresh_from_db()
    (made,) = conversation.path()[-1].tool_calls
    assert re.fullmatch(r"[A-Za-z0-9]{9}", made["id"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("connection", "refused"), [("simulator", True), ("mistral", True), ("local", False)]
)
def test_hand_typed_ids_must_be_nine_letters_or_digits_for_mistral_models(
    logged_in, simulator, make_conversation, settings, connection, refused
):
    from playground.models import UpstreamConnection

    settings.LOCAL_MODEL_ENABLED = True
    UpstreamConnection.objects.create(
        slug="mistral", name="Mistral", base_url="https://api.mistral.ai/v1", dialect="mistral"
    )
    conversation = make_conversation()
    conversation.connection = connection
    conversation.save()
    conversation.add_user_message("Weather?")
    calls = json.dumps([call("call_1")])
    response = hand(logged_in, conversation, role="assistant", content="", tool_calls=calls)
    rule = "Tool call ids must be 9 letters or digits for Mistral models (e.g. aB3dE5gH7): call_1"
    assert (rule in response.content.decode()) is refused
    response = hand(logged_in, conversation, role="tool", content="18", tool_call_id="call_1")
    assert (rule in response.content.decode()) is refused
    assert conversation.messages.count() == (1 if refused else 3)


@pytest.mark.django_db
def test_results_out_of_order_are_refused_before_anything_is_sent(
    logged_in, simulator, make_conversation
):
    from playground import turns

    conversation = make_conversation()
    waiting_for(conversation, "get_current_weather")
    with pytest.raises(turns.TurnRejected, match="waiting for the result of get_current_weather"):
        turns.accept_user_message(conversation, {"message": "Never mind"})
    assert conversation.messages.count() == 2
    conversation.add_by_hand(role="tool", content="18", tool_call_id="zzzzzzzz9")
    with pytest.raises(turns.TurnRejected, match="Nothing was sent. The tool result for call"):
        turns.prepare_answer(conversation)
    assert simulator.requests == []


# ---- The whole flow, through the websocket, against the simulator ----------------------------


async def ask(socket, text: str) -> list[str]:
    await socket.send_json_to({"message": text})
    return await receive_until(socket, ANSWER_DONE)


async def submit(socket, answer: Message, results: dict[str, str]) -> list[str]:
    data = {"action": "tool_results"}
    for tool_call in answer.tool_calls:
        data[f"result:{tool_call['id']}"] = results[tool_call["function"]["name"]]
    await socket.send_json_to(data)
    return await receive_until(socket, ANSWER_DONE)


async def last_message(conversation: Conversation) -> Message:
    await conversation.arefresh_from_db()
    return await sync_to_async(lambda: conversation.path()[-1])()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("choice", [None, "auto", "required", NAMED])
async def test_ask_see_the_call_stream_in_submit_the_result_get_the_answer(
    simulator, user, make_conversation, choice
):
    stored = {} if choice is None else {"tool_choice": choice}
    conversation = await sync_to_async(make_conversation)(options=stored)
    await sync_to_async(lambda: conversation.tools.add(weather_tool(user)))()
    socket, _ = await open_socket(conversation.pk, user)

    fragments = await ask(socket, "What is the weather in Paris?")
    answer = await last_message(conversation)
    (made,) = answer.tool_calls
    assert made["function"]["name"] == "get_current_weather"
    assert json.loads(made["function"]["arguments"])["location"] == "Paris"
    asked = simulator.requests[-1].body
    assert asked["tools"] == [await sync_to_async(lambda: conversation.tools.get().as_openai())()]
    # The card arrives while streaming: its name first, then the arguments in pieces.
    streamed = "".join(fragments)
    assert "Calls <code>get_current_weather</code>" in streamed
    arguments = appended_text(fragments, f"{answer.dom_id}-call-0")
    assert json.loads(arguments) == json.loads(made["function"]["arguments"])
    # Finished: the card checked and pretty-printed, and a box for the result.
    assert '<form ws-send class="tool-results">' in fragments[-1]
    assert f'name="result:{made["id"]}"' in fragments[-1]
    assert "&quot;location&quot;: &quot;Paris&quot;" in fragments[-1]

    fragments = await submit(socket, answer, {"get_current_weather": "18 °C and sunny"})
    await socket.disconnect()
    final = await last_message(conversation)
    assert final.role == "assistant" and final.status == "complete" and not final.tool_calls
    assert "18 °C and sunny" in final.content
    continued = simulator.requests[-1].body
    assert [m["role"] for m in continued["messages"]] == ["user", "assistant", "tool"]
    # A forcing choice would make the model call again instead of answering.
    assert continued.get("tool_choice", "auto") == "auto"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("parallel", "count"), [(None, 2), (True, 2), (False, 1)])
async def test_parallel_tool_calls_decide_how_many_calls_one_answer_makes(
    simulator, user, make_conversation, parallel, count
):
    stored = {} if parallel is None else {"parallel_tool_calls": parallel}
    conversation = await sync_to_async(make_conversation)(options=stored)
    await sync_to_async(lambda: conversation.tools.add(weather_tool(user), time_tool(user)))()
    socket, _ = await open_socket(conversation.pk, user)

    await ask(socket, "What is the weather in Paris and the time in Oslo?")
    answer = await last_message(conversation)
    names = [c["function"]["name"] for c in answer.tool_calls]
    assert names == ["get_current_weather", "get_time"][:count]
    cards = await sync_to_async(lambda: answer.tool_call_cards)()
    assert [card["error"] for card in cards] == [""] * count

    results = {"get_current_weather": "18 °C", "get_time": "14:05"}
    await submit(socket, answer, results)
    await socket.disconnect()
    final = await last_message(conversation)
    for name in names:
        assert results[name] in final.content


@pytest.mark.django_db(transaction=True)
async def test_tools_ticked_on_screen_go_with_the_message_even_before_the_autosave(
    simulator, user, make_conversation
):
    conversation = await sync_to_async(make_conversation)()
    weather, clock = await sync_to_async(lambda: (weather_tool(user), time_tool(user)))()
    socket, _ = await open_socket(conversation.pk, user)
    # The websocket's JSON: one ticked box is a string, several a list.
    ticked = {"shown_target": "vllm", "tools_shown": "1", "attached_tools": str(weather.pk)}
    await socket.send_json_to({"message": "Hi", **ticked})
    await receive_until(socket, ANSWER_DONE)
    assert [t["function"]["name"] for t in simulator.requests[-1].body["tools"]] == [
        "get_current_weather"
    ]
    both = {**ticked, "attached_tools": [str(weather.pk), str(clock.pk)]}
    await socket.send_json_to({"message": "Hi again", **both})
    await receive_until(socket, ANSWER_DONE)
    await socket.disconnect()
    assert len(simulator.requests[-1].body["tools"]) == 2


@pytest.mark.django_db(transaction=True)
async def test_a_new_message_while_calls_wait_is_refused(simulator, user, make_conversation):
    conversation = await sync_to_async(make_conversation)(options={"tool_choice": "required"})
    await sync_to_async(lambda: conversation.tools.add(weather_tool(user)))()
    socket, _ = await open_socket(conversation.pk, user)
    await ask(socket, "What is the weather in Paris?")
    await socket.send_json_to({"message": "Never mind"})
    refused = await receive_until(socket, "waiting for the result")
    await socket.disconnect()
    assert "Submit results" in refused[-1]
    assert await sync_to_async(conversation.messages.count)() == 2


# ---- The request as code, and export/import ---------------------------------------------------


@pytest.fixture
def answered(user, make_conversation):
    """A conversation that asked, got a call, gave its result and got the answer."""
    conversation = make_conversation(options={"tool_choice": "required"})
    conversation.tools.add(weather_tool(user))
    conversation.add_user_message("What's the weather in Paris? Don't 'guess'.")
    calls = [call("aB3dE5gH7")]
    calls[0]["function"]["arguments"] = '{"location": "Paris"}'
    conversation.append_branch(
        [
            {"role": "assistant", "content": "", "tool_calls": calls},
            {"role": "tool", "tool_call_id": "aB3dE5gH7", "name": "get_current_weather",
             "content": "It's 18 °C"},
            {"role": "assistant", "content": "It's 18 °C in Paris."},
        ]
    )  # fmt: skip
    return conversation


@pytest.mark.django_db
def test_the_curl_of_a_conversation_with_calls_and_results_posts_it_exactly(
    simulator, answered, tmp_path
):
    connection = connection_for(simulator, VLLM)
    body = build_body(answered, connection, typing="And in Oslo?")
    assert body["tools"] == [WEATHER] and body["tool_choice"] == "required"
    assert [m["role"] for m in body["messages"]] == [
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
    ]
    command = curl.curl_command(body, target=VLLM, with_key=True)

    done = run(["bash", "-c", command], simulator, HEXGRID_API_KEY="k")

    assert done.returncode == 0, done.stderr
    assert simulator.requests[-1].body == body
    assert '"tool_calls":[{"id":' in done.stdout  # required: vLLM's server calls the tool
    source = curl.openai_python(body, target=VLLM, with_key=True)
    assert "    tools=[\n" in source and '    tool_choice="required",\n' in source
    assert_python_posts(body, VLLM, simulator, tmp_path)  # the real openai SDK


@pytest.mark.django_db
def test_export_and_import_keep_the_tools_attached(answered, user, other_user, simulator):
    answered.options = {"tool_choice": NAMED}
    answered.save()
    data = exports.export_json(answered)
    assert data["tools"] == [WEATHER]

    mine = imports.import_conversation(user, data)
    assert list(mine.tools.all()) == list(answered.tools.all())  # the same tool, not a copy

    theirs = imports.import_conversation(other_user, json.loads(json.dumps(data)))
    (copied,) = theirs.tools.all()
    assert copied.owner == other_user and copied.as_openai() == WEATHER
    assert theirs.options["tool_choice"] == NAMED

    # A plain body: tools and tool_choice are read, not left in Extra JSON.
    plain = {k: v for k, v in data.items() if k != "hexplay"}
    imported = imports.import_conversation(user, plain)
    assert imported.options["tool_choice"] == NAMED and "extra_json" not in imported.options
    connection = get_connection("simulator")
    assert build_body(imported, connection)["tools"] == [WEATHER]
