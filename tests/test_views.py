"""Pages: log-in, ownership, settings panel, model picker and the no-JavaScript composer."""

from __future__ import annotations

import pytest

from playground.models import Conversation
from tests.conftest import MAGISTRAL, MISTRAL_SMALL

pytestmark = pytest.mark.django_db


def test_pages_ask_for_a_log_in_first(client, make_conversation):
    conversation = make_conversation()
    for url in ["/", f"/conversations/{conversation.pk}/", "/models/?connection=simulator"]:
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith("/login/")


def test_log_in_page_has_labelled_fields_and_works(client, user):
    page = client.get("/login/").content.decode()
    assert '<label for="id_username">User name</label>' in page
    assert '<label for="id_password">Password</label>' in page
    response = client.post("/login/", {"username": "ada", "password": "correct horse battery"})
    assert response.status_code == 302
    assert client.get("/").status_code == 302  # logged in: on to a conversation


def test_first_visit_opens_a_new_conversation_on_the_default_connection(logged_in, user, simulator):
    response = logged_in.get("/")
    conversation = Conversation.objects.get(owner=user)
    assert response.url == f"/conversations/{conversation.pk}/"
    assert conversation.connection == "simulator" and conversation.model == MISTRAL_SMALL


def test_conversation_page_has_every_labelled_control(logged_in, simulator, make_conversation):
    conversation = make_conversation(system_prompt="Be kind.")
    page = logged_in.get(f"/conversations/{conversation.pk}/").content.decode()
    for label, control in [
        ("Message", "id_message"),
        ("Connection", "id_connection"),
        ("Model", "id_model"),
        ("System prompt", "id_system_prompt"),
    ]:
        assert f'<label for="{control}">{label}</label>' in page
    assert f'ws-connect="/ws/conversations/{conversation.pk}/"' in page
    assert ">Send</button>" in page and ">Stop</button>" in page and "New conversation" in page
    assert "Be kind." in page
    assert "Answers come from <strong>Simulator</strong>" in page


def test_stored_conversation_is_shown_with_reasoning_collapsed(
    logged_in, simulator, make_conversation
):
    conversation = make_conversation()
    question = conversation.add_user_message("Why?")
    answer = conversation.messages.create(
        parent=question,
        role="assistant",
        content="**Because**",
        content_html="<p><strong>Because</strong></p>",
        reasoning="thinking <hard>",
        reasoning_ms=3200,
        usage={"prompt_tokens": 3, "completion_tokens": 9},
        time_to_first_token_ms=120,
        duration_ms=900,
        tokens_per_second=10.0,
        finish_reason="stop",
    )
    conversation.show_version(answer)
    page = logged_in.get(f"/conversations/{conversation.pk}/").content.decode()
    assert "Reasoning · 3.2 s" in page
    assert 'class="reasoning">' in page and 'reasoning" open' not in page
    assert "thinking &lt;hard&gt;" in page
    assert "<strong>Because</strong>" in page
    assert "3 in · 9 out" in page and "10.0 tokens/s" in page and "120 ms" in page


def test_someone_elses_conversation_is_not_found(logged_in, other_user, make_conversation):
    theirs = make_conversation(owner=other_user)
    assert logged_in.get(f"/conversations/{theirs.pk}/").status_code == 404
    assert (
        logged_in.post(f"/conversations/{theirs.pk}/settings/", {"system_prompt": "x"}).status_code
        == 404
    )
    assert logged_in.post(f"/conversations/{theirs.pk}/send/", {"message": "x"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.system_prompt == "" and not theirs.messages.exists()


def test_system_prompt_autosaves(logged_in, simulator, make_conversation):
    conversation = make_conversation()
    response = logged_in.post(
        f"/conversations/{conversation.pk}/settings/",
        {"system_prompt": "Speak like a pirate."},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200 and "Saved" in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.system_prompt == "Speak like a pirate."


def test_switching_connection_starts_on_its_default_model(
    logged_in, simulator, make_conversation, settings
):
    settings.MISTRAL_BASE_URL = "http://hexgrid.invalid/v1"
    settings.MISTRAL_MODEL = "mistralai/Mistral-Large-Instruct-2411"
    conversation = make_conversation(model=MAGISTRAL)
    response = logged_in.post(
        f"/conversations/{conversation.pk}/settings/",
        {"connection": "hexgrid", "model": MAGISTRAL},
        HTTP_HX_REQUEST="true",
    )
    conversation.refresh_from_db()
    assert conversation.connection == "hexgrid"
    assert conversation.model == "mistralai/Mistral-Large-Instruct-2411"
    assert "Answers come from <strong>HexGrid</strong>" in response.content.decode()


def test_a_connection_without_a_default_model_starts_on_the_first_model_it_lists(
    logged_in, simulator, make_conversation
):
    from playground.models import UpstreamConnection

    UpstreamConnection.objects.create(
        slug="team", name="Team vLLM", base_url=simulator.base_url, default_model=""
    )
    conversation = make_conversation()
    response = logged_in.post(
        f"/conversations/{conversation.pk}/settings/",
        {"connection": "team", "model": MISTRAL_SMALL},
        HTTP_HX_REQUEST="true",
    )
    from simulator import MODELS

    first = MODELS[0]
    conversation.refresh_from_db()
    assert (conversation.connection, conversation.model) == ("team", first)
    page = response.content.decode()
    assert "Answers come from <strong>Team vLLM</strong>" in page
    assert f"Team vLLM has no default model: using {first}, the first it lists." in page


def test_a_connection_without_a_default_model_or_a_reachable_server_is_refused_in_words(
    logged_in, simulator, make_conversation
):
    from playground.models import UpstreamConnection
    from tests.servers import free_port

    UpstreamConnection.objects.create(
        slug="gone", name="Gone vLLM", base_url=f"http://127.0.0.1:{free_port()}/v1"
    )
    conversation = make_conversation()
    response = logged_in.post(
        f"/conversations/{conversation.pk}/settings/",
        {"connection": "gone", "model": MISTRAL_SMALL},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 422
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.decode().startswith(
        "Gone vLLM has no default model and its server could not be reached, so it was not chosen."
    )
    conversation.refresh_from_db()
    assert (conversation.connection, conversation.model) == ("simulator", MISTRAL_SMALL)


def test_unknown_connection_is_refused(logged_in, simulator, make_conversation):
    conversation = make_conversation()
    response = logged_in.post(
        f"/conversations/{conversation.pk}/settings/",
        {"connection": "nope", "model": "x"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 422 and "Select a valid choice" in response.content.decode()


def test_model_picker_lists_the_servers_models(logged_in, simulator):
    page = logged_in.get(
        "/models/", {"connection": "simulator", "selected": MAGISTRAL}
    ).content.decode()
    assert f'<option value="{MAGISTRAL}" selected>' in page
    assert MISTRAL_SMALL in page
    assert "warning" not in page


def test_model_picker_falls_back_with_a_visible_warning(logged_in, settings):
    settings.MISTRAL_BASE_URL = "http://127.0.0.1:9/v1"
    settings.MISTRAL_MODEL = "mistralai/Mistral-Small-3.2-24B-Instruct-2506"
    page = logged_in.get("/models/", {"connection": "hexgrid"}).content.decode()
    assert 'role="alert"' in page and "Could not fetch the list of models" in page
    assert f'<option value="{MISTRAL_SMALL}" selected>' in page


def test_no_page_contains_the_api_key(logged_in, simulator, make_conversation, settings):
    settings.MISTRAL_BASE_URL = simulator.base_url
    settings.HEXGRID_API_KEY = "sk-very-secret-key"
    conversation = make_conversation()
    conversation.connection = "hexgrid"
    conversation.save()
    pages = [
        logged_in.get(f"/conversations/{conversation.pk}/").content,
        logged_in.get("/models/", {"connection": "hexgrid"}).content,
        logged_in.post(
            f"/conversations/{conversation.pk}/settings/",
            {"connection": "hexgrid"},
            HTTP_HX_REQUEST="true",
        ).content,
    ]
    assert all(b"sk-very-secret-key" not in page for page in pages)


def test_composer_works_without_javascript(logged_in, simulator, make_conversation):
    conversation = make_conversation()
    response = logged_in.post(f"/conversations/{conversation.pk}/send/", {"message": "Plain form"})
    assert response.status_code == 302
    roles = list(conversation.messages.values_list("role", "status"))
    assert roles == [("user", "complete"), ("assistant", "complete")]
    answer = conversation.messages.get(role="assistant")
    assert answer.content
    assert answer.content_html in logged_in.get(response.url).content.decode()


def test_version_arrows_switch_what_is_shown(logged_in, simulator, make_conversation):
    conversation = make_conversation()
    question = conversation.add_user_message("Hi")
    first = conversation.start_answer(connection="simulator", model="m", body={})
    first.content, first.content_html, first.status = (
        "First answer",
        "<p>First answer</p>",
        "complete",
    )
    first.save()
    conversation.rewind_for_new_answer()
    second = conversation.start_answer(connection="simulator", model="m", body={})
    second.content, second.content_html = "Second answer", "<p>Second answer</p>"
    second.status = "complete"
    second.save()
    page = logged_in.get(f"/conversations/{conversation.pk}/").content.decode()
    assert "Version 2 of 2" in page and 'aria-label="Previous version"' in page
    response = logged_in.post(
        f"/conversations/{conversation.pk}/messages/{first.pk}/show/", HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert "Version 1 of 2" in html and question.content in html
    assert "First answer" in html and "Second answer" not in html


def test_version_of_someone_elses_conversation_is_not_found(
    logged_in, other_user, make_conversation
):
    theirs = make_conversation(owner=other_user)
    message = theirs.add_user_message("private")
    mine = make_conversation()
    assert (
        logged_in.post(f"/conversations/{theirs.pk}/messages/{message.pk}/show/").status_code == 404
    )
    assert (
        logged_in.post(f"/conversations/{mine.pk}/messages/{message.pk}/show/").status_code == 404
    )


def test_long_conversations_show_the_latest_hundred_and_load_earlier_on_request(
    logged_in, simulator, make_conversation, django_assert_max_num_queries
):
    conversation = make_conversation()
    for n in range(130):
        conversation.add_user_message(f"Message number {n}.")
    with django_assert_max_num_queries(20):
        html = logged_in.get(f"/conversations/{conversation.pk}/").content.decode()
    # The message list only: the code view beside it rightly carries the whole history.
    page = html[html.index('id="messages"') : html.index('id="notice"')]
    assert "Message number 129." in page and "Message number 30." in page
    assert "Message number 29." not in page
    assert "Show 30 earlier messages" in page
    first_shown = conversation.path()[30]
    earlier = logged_in.get(
        f"/conversations/{conversation.pk}/messages/earlier/", {"before": first_shown.pk}
    ).content.decode()
    assert "Message number 0." in earlier and "Message number 29." in earlier
    assert "Message number 30." not in earlier and "earlier message" not in earlier
    html = logged_in.get(f"/conversations/{conversation.pk}/", {"all": 1}).content.decode()
    everything = html[html.index('id="messages"') : html.index('id="notice"')]
    assert "Message number 0." in everything and "earlier message" not in everything
