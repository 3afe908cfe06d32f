"""Share links: a snapshot anyone with the link can read, updated at the same link, revocable."""

from __future__ import annotations

import re

import pytest

from playground.models import Conversation, Message, Share

pytestmark = pytest.mark.django_db

SECRET = "sk-hexgrid-very-secret-key"


@pytest.fixture
def owner(django_user_model):
    # A name and address that cannot turn up in a page by chance; no password (tests log in
    # with force_login, and hashing one costs a third of a second).
    return django_user_model.objects.create_user("owner-zq7", email="zq7-owner@example.com")


@pytest.fixture
def chat(simulator, owner, make_conversation):
    """A stored exchange with reasoning, a tool call and its result."""
    conversation = make_conversation(owner=owner, system_prompt="Be brief.")
    conversation.add_user_message("What is the weather in Paris?")
    conversation.add_by_hand(
        role="assistant",
        content="",
        tool_calls=[
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    )
    conversation.add_by_hand(
        role="tool", content="18 °C", tool_call_id="call_1", name="get_weather"
    )
    answer = conversation.start_answer(connection="simulator", model="m", body={})
    answer.content = "It is **18 °C**. See [the forecast](https://example.com/paris)."
    answer.content_html = "<p>It is <strong>18 °C</strong>.</p>"
    answer.reasoning = "The tool said 18."
    answer.reasoning_ms = 1200
    answer.usage = {"prompt_tokens": 30, "completion_tokens": 12}
    answer.status = Message.Status.COMPLETE
    answer.save()
    return conversation


def share_url(client, conversation) -> str:
    client.force_login(conversation.owner)
    response = client.post(f"/conversations/{conversation.pk}/share/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    match = re.search(r'value="http://testserver(/s/[A-Za-z0-9_-]+/)"', response.content.decode())
    assert match, "the panel shows the link"
    client.logout()
    return match.group(1)


def test_share_link_is_unguessable_and_readable_without_logging_in(client, chat):
    url = share_url(client, chat)
    token = url.split("/")[2]
    assert len(token) >= 43  # 32 random bytes: 256 bits
    response = client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert "What is the weather in Paris?" in page
    assert "<strong>18 °C</strong>" in page
    assert "The tool said 18." in page and "Reasoning · 1.2 s" in page
    assert "get_weather" in page and "call_1" in page and "18 °C" in page
    assert "30 in · 12 out" in page
    assert "Be brief." in page  # the system prompt
    assert "Simulator" in page and "Log in to open a copy" in page


def test_shared_page_is_kept_out_of_search_engines_and_caches(client, chat):
    response = client.get(share_url(client, chat))
    assert '<meta name="robots" content="noindex">' in response.content.decode()
    assert response["X-Robots-Tag"] == "noindex"
    assert response["Referrer-Policy"] == "same-origin"
    assert "no-store" in response["Cache-Control"]


def test_shared_page_is_read_only(client, chat):
    page = client.get(share_url(client, chat)).content.decode()
    for control in ["ws-connect", "ws-send", "Regenerate", "Retry", "Continue", "Change by hand"]:
        assert control not in page
    assert "/conversations/" not in page  # no way into the owner's conversations
    assert "<textarea" not in page


def test_share_link_hides_the_api_key_and_the_owner(client, chat, settings, simulator):
    settings.MISTRAL_BASE_URL = simulator.base_url
    settings.HEXGRID_API_KEY = SECRET
    chat.connection = "hexgrid"
    chat.save()
    url = share_url(client, chat)
    share = Share.objects.get()
    assert share.snapshot["connection"]["name"] == "HexGrid"
    for viewer in [None, chat.owner]:
        if viewer:
            client.force_login(viewer)
        page = client.get(url).content.decode()
        assert SECRET not in page
        assert "zq7-owner@example.com" not in page
        if viewer is None:
            assert "owner-zq7" not in page
        # The cURL command names the key's variable, never its value.
        assert "Authorization: Bearer $HEXGRID_API_KEY" in page
    assert SECRET not in str(share.snapshot)


def test_later_messages_stay_private_until_the_owner_updates_the_link(client, chat):
    url = share_url(client, chat)
    chat.add_user_message("A later, private question")
    assert "A later, private question" not in client.get(url).content.decode()
    assert share_url(client, chat) == url  # updating keeps the link
    assert "A later, private question" in client.get(url).content.decode()
    assert Share.objects.count() == 1


def test_revoked_link_answers_not_found(client, chat):
    url = share_url(client, chat)
    client.force_login(chat.owner)
    response = client.post(f"/conversations/{chat.pk}/share/revoke/", HTTP_HX_REQUEST="true")
    assert "Create link" in response.content.decode()
    client.logout()
    assert client.get(url).status_code == 404
    assert not Share.objects.exists()
    # Sharing again makes a new link; the old one stays dead.
    assert share_url(client, chat) != url
    assert client.get(url).status_code == 404


def test_unknown_token_answers_not_found(client, chat):
    share_url(client, chat)
    assert client.get("/s/not-a-real-token-at-all/").status_code == 404


def test_shared_text_is_escaped_and_links_get_safe_rel(client, simulator, owner, make_conversation):
    conversation = make_conversation(owner=owner)
    conversation.add_user_message('<img src=x onerror="alert(1)">')
    conversation.add_by_hand(
        role="assistant",
        content='Look <script>alert(2)</script> [here](https://example.com) <b onclick="x">b</b>',
    )
    page = client.get(share_url(client, conversation)).content.decode()
    assert "<img src=x" not in page and "&lt;img src=x" in page
    assert "<script>alert(2)" not in page
    assert "<b onclick" not in page
    assert 'rel="noopener noreferrer nofollow"' in page


def test_a_logged_in_viewer_opens_a_copy_of_their_own(client, chat, other_user):
    url = share_url(client, chat)
    client.force_login(other_user)
    assert "Open a copy" in client.get(url).content.decode()
    response = client.post(f"{url}copy/")
    copy = Conversation.objects.get(owner=other_user)
    assert response.url == f"/conversations/{copy.pk}/"
    path = copy.path()
    assert [m.role for m in path] == ["user", "assistant", "tool", "assistant"]
    assert all(m.version_count == 1 for m in path)
    assert path[1].tool_calls[0]["function"]["name"] == "get_weather"
    assert path[3].reasoning == "The tool said 18." and path[3].usage["completion_tokens"] == 12
    assert copy.system_prompt == "Be brief." and copy.model == chat.model
    assert client.get(response.url).status_code == 200
    # The original and its link are untouched.
    assert chat.messages.count() == 4 and client.get(url).status_code == 200


def test_opening_a_copy_needs_a_log_in(client, chat):
    url = share_url(client, chat)
    response = client.post(f"{url}copy/")
    assert response.status_code == 302 and response.url.startswith("/login/")
    assert Conversation.objects.count() == 1


def test_shares_page_lists_only_your_active_links(client, chat, other_user, make_conversation):
    url = share_url(client, chat)
    theirs = make_conversation(owner=other_user, title="Mallory's secret plan")
    Share.objects.create(conversation=theirs, snapshot={"title": "Mallory's secret plan"})
    client.force_login(chat.owner)
    page = client.get("/shares/").content.decode()
    assert url in page and chat.display_title in page
    assert "secret plan" not in page
    # Revoking from the list comes back to the list.
    response = client.post(f"/conversations/{chat.pk}/share/revoke/", {"next": "/shares/"})
    assert response.url == "/shares/"
    assert "no active share links" in client.get("/shares/").content.decode()


def test_nobody_else_can_share_update_or_revoke_a_conversation(client, chat, other_user):
    url = share_url(client, chat)
    client.force_login(other_user)
    assert client.post(f"/conversations/{chat.pk}/share/").status_code == 404
    assert client.post(f"/conversations/{chat.pk}/share/revoke/").status_code == 404
    assert client.get(url).status_code == 200  # still shared


def test_conversation_page_shows_the_link_once_shared(client, chat):
    url = share_url(client, chat)
    client.force_login(chat.owner)
    page = client.get(f"/conversations/{chat.pk}/").content.decode()
    assert f'value="http://testserver{url}"' in page and "Revoke link" in page


def test_share_snapshot_includes_the_request_body(client, chat):
    page = client.get(share_url(client, chat)).content.decode()
    assert "Request body" in page
    assert "&quot;messages&quot;" in page and "&quot;model&quot;" in page
    assert "curl -N -X POST &quot;$MISTRAL_BASE_URL/chat/completions&quot;" in page


def test_share_without_javascript_comes_back_to_the_conversation(client, chat):
    client.force_login(chat.owner)
    response = client.post(f"/conversations/{chat.pk}/share/")
    assert response.status_code == 302 and response.url == f"/conversations/{chat.pk}/"
    assert Share.objects.filter(conversation=chat).exists()
    # An outside `next` is ignored.
    response = client.post(f"/conversations/{chat.pk}/share/", {"next": "https://evil.example/"})
    assert response.url == f"/conversations/{chat.pk}/"
