"""Prompt variables: written as {{name}}, filled in by Send, refused while one has no value."""

from __future__ import annotations

import json
import re

import pytest
from asgiref.sync import sync_to_async

from playground import exports, imports, variables
from playground.models import Message
from tests.conftest import ANSWER_DONE, open_socket, receive_until


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Weather in {{city}} for {{ name }}, {{city}} again", ["city", "name"]),
        ("{{ a_1 }} {{B2}}", ["a_1", "B2"]),
        ("{{1st}} {{_x}} {{two words}} {single} {{}}", []),
        (r"Literal \{{city}} stays, {{town}} does not", ["town"]),
    ],
)
def test_variables_are_a_letter_then_letters_digits_or_underscores(text, names):
    assert variables.names_in([text]) == names


def test_filling_keeps_escaped_braces_and_unfilled_names():
    values = {"city": "Paris", "empty": ""}
    filled = variables.fill(r"{{ city }} \{{city}} {{empty}} {{other}}", values)
    assert filled == "Paris {{city}} {{empty}} {{other}}"


def test_the_refusal_names_every_variable_to_fill():
    assert variables.refusal(["city"]).startswith("Fill in city before sending")
    assert variables.refusal(["city", "day", "unit"]).startswith("Fill in city, day and unit")


@pytest.mark.django_db(transaction=True)
async def test_send_fills_the_variables_and_the_conversation_keeps_the_template(
    simulator, user, make_conversation
):
    conversation = await sync_to_async(make_conversation)(
        system_prompt="You know {{city}} well.", variables={"city": "Paris"}
    )
    socket, _ = await open_socket(conversation.pk, user)
    await socket.send_json_to({"message": "Weather in {{ city }} on {{day}}?", "var-day": "Monday"})
    frames = await receive_until(socket, ANSWER_DONE)
    await socket.disconnect()

    sent = simulator.requests[-1].body["messages"]
    assert sent == [
        {"role": "system", "content": "You know Paris well."},
        {"role": "user", "content": "Weather in Paris on Monday?"},
    ]
    question, answer = await sync_to_async(lambda: list(conversation.messages.all()))()
    assert question.content == "Weather in {{ city }} on {{day}}?"
    assert answer.request_body["messages"] == sent
    await conversation.arefresh_from_db()
    assert conversation.variables == {"city": "Paris", "day": "Monday"}
    # The question on screen shows where the values go.
    assert '<mark class="variable">{{ city }}</mark>' in "".join(frames)


@pytest.mark.django_db(transaction=True)
async def test_a_variable_without_a_value_refuses_send_and_keeps_the_message(
    simulator, user, make_conversation
):
    conversation = await sync_to_async(make_conversation)(system_prompt="Answer in {{language}}.")
    socket, _ = await open_socket(conversation.pk, user)
    await socket.send_json_to({"message": "Hello in {{ language }}, {{name}}"})
    frames = await receive_until(socket, "Fill in")
    assert "Fill in language and name before sending" in frames[-1]
    assert simulator.requests == []

    # Filled in, "Answer it now" answers the saved message: it is not stored twice.
    await socket.send_json_to({"action": "retry"})
    frames = await receive_until(socket, "Fill in")
    await sync_to_async(conversation.refresh_from_db)()
    await socket.send_json_to(
        {"message": "Hello in {{ language }}, {{name}}", "var-language": "Welsh", "var-name": "Ada"}
    )
    await receive_until(socket, ANSWER_DONE)
    await socket.disconnect()
    questions = await sync_to_async(
        lambda: list(conversation.messages.filter(role=Message.Role.USER))
    )()
    assert len(questions) == 1
    assert simulator.requests[-1].body["messages"][-1]["content"] == "Hello in Welsh, Ada"


@pytest.mark.django_db
def test_the_code_view_shows_the_filled_request_and_a_box_for_a_new_variable(
    logged_in, simulator, make_conversation
):
    conversation = make_conversation(system_prompt="About {{city}}.", variables={"city": "Oslo"})
    url = f"/conversations/{conversation.pk}/request/"
    page = logged_in.get(url, {"message": "And {{ topic }}?", "variables_shown": "city"})
    text = page.content.decode()
    assert "About Oslo." in text and "And {{ topic }}?" in text
    # A name written while typing: the Variables group is drawn again with a box for it.
    assert 'id="variables" ' in text and 'hx-swap-oob="true"' in text
    assert 'name="var-topic"' in text and 'name="var-city"' in text

    # Nothing new: the group is left alone, so the box being typed in stays.
    same = logged_in.get(url, {"message": "Hi", "variables_shown": "city"}).content.decode()
    assert 'id="variables"' not in same


@pytest.mark.django_db
def test_values_autosave_and_only_for_the_owner(logged_in, client, other_user, make_conversation):
    conversation = make_conversation(system_prompt="{{city}}")
    url = f"/conversations/{conversation.pk}/variables/"
    saved = logged_in.post(url, {"var-city": "Lima", "var-not a name": "x"}, HTTP_HX_REQUEST="true")
    assert saved.status_code == 200
    conversation.refresh_from_db()
    assert conversation.variables == {"city": "Lima"}

    client.force_login(other_user)
    assert client.post(url, {"var-city": "Evil"}).status_code == 404
    conversation.refresh_from_db()
    assert conversation.variables == {"city": "Lima"}


@pytest.mark.django_db
def test_the_page_has_a_box_per_variable_with_its_saved_value(logged_in, make_conversation):
    conversation = make_conversation(
        system_prompt="{{ city }} and {{day}}", variables={"day": "Fri"}
    )
    page = logged_in.get(conversation.get_absolute_url()).content.decode()
    assert '<label for="var-city">city</label>' in page
    assert re.search(r'<textarea name="var-day" id="var-day"[^>]*>Fri</textarea>', page)


@pytest.mark.django_db
def test_export_and_import_keep_the_values(simulator, user, make_conversation):
    conversation = make_conversation(system_prompt="{{city}}", variables={"city": "Rome"})
    exported = json.loads(json.dumps(exports.export_json(conversation)))
    assert exported["messages"][0]["content"] == "Rome"  # the body is what Send would post
    copy = imports.import_conversation(user, exported)
    assert (copy.system_prompt, copy.variables) == ("{{city}}", {"city": "Rome"})

    exported["hexplay"]["variables"] = {"city": 3}
    with pytest.raises(imports.ImportRejected, match="hexplay.variables"):
        imports.import_conversation(user, exported)
