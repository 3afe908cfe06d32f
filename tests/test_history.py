"""History: the sidebar and its search, rename, duplicate, delete, and messages set by hand."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from playground.models import Conversation, Message, Share

pytestmark = pytest.mark.django_db

CALLS = [
    {
        "id": "call00001",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    }
]


def contents(conversation) -> list[str]:
    conversation.refresh_from_db()  # the view changed its own copy
    return [m.content for m in conversation.path()]


def hx(client, url: str, data: dict | None = None):
    return client.post(url, data or {}, HTTP_HX_REQUEST="true")


# ---- Ownership: every URL of someone else's conversation is not found -----------------------


def test_every_url_of_someone_elses_conversation_is_not_found(
    logged_in, other_user, make_conversation
):
    theirs = make_conversation(owner=other_user, title="Theirs")
    message = theirs.add_user_message("private")
    base = f"/conversations/{theirs.pk}"
    gets = [f"{base}/", f"{base}/export.json", f"{base}/export.md"]
    posts = [
        f"{base}/settings/",
        f"{base}/send/",
        f"{base}/share/",
        f"{base}/share/revoke/",
        f"{base}/rename/",
        f"{base}/duplicate/",
        f"{base}/delete/",
        f"{base}/messages/add/",
        f"{base}/messages/{message.pk}/show/",
        f"{base}/messages/{message.pk}/edit/",
        f"{base}/messages/{message.pk}/move/",
        f"{base}/messages/{message.pk}/delete/",
    ]
    for url in gets:
        assert logged_in.get(url).status_code == 404, url
    for url in posts:
        assert (
            logged_in.post(url, {"title": "x", "content": "x", "role": "user"}).status_code == 404
        )
    theirs.refresh_from_db()
    assert theirs.title == "Theirs" and contents(theirs) == ["private"]
    assert Conversation.objects.count() == 1 and not Share.objects.exists()


def test_a_message_of_another_conversation_is_not_found_through_mine(
    logged_in, other_user, make_conversation
):
    message = make_conversation(owner=other_user).add_user_message("private")
    mine = make_conversation()
    for action in ["edit", "move", "delete"]:
        url = f"/conversations/{mine.pk}/messages/{message.pk}/{action}/"
        assert logged_in.post(url, {"content": "x"}).status_code == 404
    assert Message.objects.get(pk=message.pk).content == "private"


# ---- The sidebar ------------------------------------------------------------------------------


def test_sidebar_lists_conversations_newest_first(logged_in, simulator, make_conversation):
    first = make_conversation(title="Older")
    second = make_conversation(title="Newer")
    page = logged_in.get(f"/conversations/{first.pk}/").content.decode()
    sidebar = page[page.index('id="conversation-list"') :]
    assert sidebar.index("Newer") < sidebar.index("Older")
    assert f'href="/conversations/{second.pk}/"' in sidebar
    assert '<label for="search-conversations">Search</label>' in page


def test_search_finds_titles_and_message_text(logged_in, simulator, make_conversation):
    tides = make_conversation(title="Tides")
    bread = make_conversation(title="Baking")
    bread.add_user_message("How long does sourdough PROOF?")
    make_conversation(title="Other")
    found = logged_in.get("/conversations/list/", {"q": "proof", "current": tides.pk})
    html = found.content.decode()
    assert "Baking" in html and "Tides" not in html and "Other" not in html
    assert "Tides" in logged_in.get("/conversations/list/", {"q": "tid"}).content.decode()
    nothing = logged_in.get("/conversations/list/", {"q": "zebra"}).content.decode()
    assert "No conversation has “zebra”" in nothing
    # Without JavaScript the search reloads the page with the list filtered.
    page = logged_in.get(f"/conversations/{tides.pk}/", {"q": "proof"}).content.decode()
    assert 'value="proof"' in page and f'href="/conversations/{bread.pk}/"' in page


def test_search_shows_only_your_own_conversations(logged_in, other_user, make_conversation):
    make_conversation(owner=other_user, title="Secret sourdough")
    html = logged_in.get("/conversations/list/", {"q": "sourdough"}).content.decode()
    assert "Secret" not in html


def test_page_queries_do_not_grow_with_messages_or_conversations(
    logged_in, simulator, make_conversation
):
    conversation = make_conversation()

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert logged_in.get(f"/conversations/{conversation.pk}/").status_code == 200
        return len(captured)

    conversation.add_user_message("q")
    before = queries()
    for n in range(30):
        conversation.add_by_hand(role="assistant", content=f"**a{n}**")
        conversation.add_user_message(f"q{n}")
        make_conversation(title=f"c{n}")
    assert queries() == before


# ---- Rename, duplicate, delete ----------------------------------------------------------------


def test_rename_updates_the_heading_and_the_sidebar(logged_in, simulator, make_conversation):
    conversation = make_conversation()
    conversation.add_user_message("What about tides?")
    response = hx(logged_in, f"/conversations/{conversation.pk}/rename/", {"title": "  Tides  "})
    html = response.content.decode()
    assert '<h1 id="chat-title" class="chat__title">Tides</h1>' in html
    assert 'id="current-conversation-link"' in html and 'hx-swap-oob="true"' in html
    conversation.refresh_from_db()
    assert conversation.title == "Tides"
    # Empty goes back to the title suggested by the first message; works without JavaScript.
    response = logged_in.post(f"/conversations/{conversation.pk}/rename/", {"title": ""})
    assert response.status_code == 302
    conversation.refresh_from_db()
    assert conversation.title == "What about tides?"


def test_duplicate_copies_every_message_and_version(logged_in, simulator, make_conversation):
    conversation = make_conversation(title="Original", system_prompt="Be kind.")
    question = conversation.add_user_message("Hi")
    conversation.add_by_hand(role="assistant", content="Hello")
    conversation.add_user_message("Hi again", replacing=question)  # a second version
    response = logged_in.post(f"/conversations/{conversation.pk}/duplicate/")
    copy = Conversation.objects.exclude(pk=conversation.pk).get()
    assert response.url == f"/conversations/{copy.pk}/"
    assert copy.title == "Original (copy)" and copy.system_prompt == "Be kind."
    assert contents(copy) == ["Hi again"]
    assert copy.path()[0].version_count == 2
    copy.show_version(copy.path()[0].previous_version)
    assert contents(copy) == ["Hi", "Hello"]
    assert contents(conversation) == ["Hi again"] and conversation.messages.count() == 3


def test_delete_removes_the_conversation_and_its_share(logged_in, simulator, make_conversation):
    keep = make_conversation(title="Keep")
    doomed = make_conversation(title="Doomed")
    doomed.add_user_message("bye")
    logged_in.post(f"/conversations/{doomed.pk}/share/")
    page = logged_in.get(f"/conversations/{doomed.pk}/").content.decode()
    assert "Delete this conversation with all its messages" in page
    assert "share link stops working" in page
    response = logged_in.post(f"/conversations/{doomed.pk}/delete/")
    assert response.status_code == 302 and response.url == "/"
    assert list(Conversation.objects.all()) == [keep]
    assert not Message.objects.exists() and not Share.objects.exists()
    assert logged_in.get(f"/conversations/{doomed.pk}/").status_code == 404


def test_delete_needs_a_post(logged_in, make_conversation):
    conversation = make_conversation()
    assert logged_in.get(f"/conversations/{conversation.pk}/delete/").status_code == 405
    assert Conversation.objects.filter(pk=conversation.pk).exists()


# ---- Messages set by hand ---------------------------------------------------------------------


def test_messages_of_every_role_can_be_added_by_hand(logged_in, simulator, make_conversation):
    conversation = make_conversation()
    url = f"/conversations/{conversation.pk}/messages/add/"
    assert hx(logged_in, url, {"role": "system", "content": "Stay calm."}).status_code == 200
    hx(logged_in, url, {"role": "user", "content": "Weather?"})
    hx(logged_in, url, {"role": "assistant", "content": "", "tool_calls": json.dumps(CALLS)})
    response = hx(
        logged_in,
        url,
        {"role": "tool", "content": "18 °C", "tool_call_id": "call00001", "name": "get_weather"},
    )
    hx(logged_in, url, {"role": "assistant", "content": "It is **18 °C**."})
    conversation.refresh_from_db()
    path = conversation.path()
    assert [m.role for m in path] == ["system", "user", "assistant", "tool", "assistant"]
    assert path[2].tool_calls == CALLS
    assert (path[3].tool_call_id, path[3].name) == ("call00001", "get_weather")
    assert path[4].content_html == "<p>It is <strong>18 °C</strong>.</p>\n"
    conversation.refresh_from_db()
    assert conversation.title == "Weather?"
    # The form comes back empty; the list follows out of band.
    html = response.content.decode()
    assert (
        'id="add-message"' in html
        and '<div id="messages" class="messages" hx-swap-oob="true">' in html
    )
    # What the model is sent next is exactly this state.
    assert conversation.upstream_messages()[2] == {
        "role": "assistant",
        "content": "",
        "tool_calls": CALLS,
    }


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"role": "user", "content": "  "}, "Write the message&#x27;s content."),
        ({"role": "wizard", "content": "x"}, "Select a valid choice."),
        ({"role": "tool", "content": "18"}, "A tool message needs the id of the tool call"),
        (
            {"role": "assistant", "content": ""},
            "Write the answer&#x27;s text, or give it tool calls.",
        ),
        (
            {"role": "assistant", "content": "x", "tool_calls": "[{"},
            "Tool calls are not valid JSON",
        ),
        (
            {"role": "assistant", "content": "x", "tool_calls": "{}"},
            "Tool calls: tool_calls must be a list.",
        ),
        (
            {
                "role": "assistant",
                "content": "x",
                "tool_calls": '[{"id": "c", "type": "function"}]',
            },
            "Tool calls: tool_calls[0].function must be an object with name and arguments.",
        ),
        (
            {"role": "user", "content": "x", "tool_calls": json.dumps(CALLS)},
            "Only assistant messages carry tool calls.",
        ),
    ],
)
def test_invalid_messages_are_refused_in_plain_words(
    logged_in, simulator, make_conversation, data, problem
):
    conversation = make_conversation()
    response = hx(logged_in, f"/conversations/{conversation.pk}/messages/add/", data)
    html = response.content.decode()
    assert problem in html
    assert response["HX-Retarget"] == "#add-message"
    assert 'role="alert"' in html
    assert not conversation.messages.exists()
    # Without JavaScript: a page that says why.
    response = logged_in.post(f"/conversations/{conversation.pk}/messages/add/", data)
    assert response.status_code == 422 and problem in response.content.decode()


def test_a_message_is_edited_in_place(logged_in, simulator, make_conversation):
    conversation = make_conversation()
    question = conversation.add_user_message("Hi")
    answer = conversation.add_by_hand(role="assistant", content="Hello")
    url = f"/conversations/{conversation.pk}/messages/{answer.pk}/edit/"
    response = hx(logged_in, url, {"content": "Hello *there*", "role": "user"})
    assert '<div id="messages" class="messages">' in response.content.decode()
    answer.refresh_from_db()
    assert answer.role == "assistant"  # the role stays
    assert answer.content_html == "<p>Hello <em>there</em></p>\n"
    assert answer.version_count == 1 and conversation.messages.count() == 2
    hx(
        logged_in,
        f"/conversations/{conversation.pk}/messages/{question.pk}/edit/",
        {"content": "Hey"},
    )
    assert contents(conversation) == ["Hey", "Hello *there*"]


def test_a_refused_edit_comes_back_to_its_form_with_the_text(
    logged_in, simulator, make_conversation
):
    conversation = make_conversation()
    conversation.add_user_message("Hi")
    tool = conversation.add_by_hand(role="tool", content="18", tool_call_id="call_1")
    url = f"/conversations/{conversation.pk}/messages/{tool.pk}/edit/"
    response = hx(logged_in, url, {"content": "19 <degrees>", "tool_call_id": ""})
    html = response.content.decode()
    assert response["HX-Retarget"] == f"#message-{tool.pk}-hand"
    assert "A tool message needs the id of the tool call it answers." in html
    assert "19 &lt;degrees&gt;" in html
    tool.refresh_from_db()
    assert tool.content == "18"


def test_messages_move_up_and_down_the_branch(logged_in, simulator, make_conversation):
    conversation = make_conversation()
    a = conversation.add_user_message("a")
    conversation.add_by_hand(role="assistant", content="b")
    c = conversation.add_user_message("c")
    move = f"/conversations/{conversation.pk}/messages/{{}}/move/"
    hx(logged_in, move.format(c.pk), {"direction": "up"})
    assert contents(conversation) == ["a", "c", "b"]
    hx(logged_in, move.format(a.pk), {"direction": "down"})
    assert contents(conversation) == ["c", "a", "b"]
    response = hx(logged_in, move.format(c.pk), {"direction": "up"})
    assert "That message is already at the top." in response.content.decode()
    assert response["HX-Retarget"] == "#notice"
    conversation.refresh_from_db()
    assert conversation.current.content == "b"
    assert logged_in.post(move.format(c.pk), {"direction": "down"}).status_code == 302


def test_deleting_a_message_keeps_what_followed_it(logged_in, simulator, make_conversation):
    conversation = make_conversation()
    conversation.add_user_message("a")
    b = conversation.add_by_hand(role="assistant", content="b")
    conversation.add_user_message("c")
    hx(logged_in, f"/conversations/{conversation.pk}/messages/{b.pk}/delete/")
    assert contents(conversation) == ["a", "c"]
    last = conversation.path()[-1]
    hx(logged_in, f"/conversations/{conversation.pk}/messages/{last.pk}/delete/")
    assert contents(conversation) == ["a"]
    conversation.refresh_from_db()
    assert conversation.current.content == "a"


def test_a_streaming_answer_cannot_be_changed_by_hand(logged_in, simulator, make_conversation):
    conversation = make_conversation()
    conversation.add_user_message("a")
    streaming = conversation.start_answer(connection="simulator", model="m", body={})
    base = f"/conversations/{conversation.pk}/messages"
    for url in [f"{base}/{streaming.pk}/delete/", f"{base}/add/"]:
        response = hx(logged_in, url, {"role": "user", "content": "x"})
        assert "An answer is still arriving. Press Stop first" in response.content.decode()
    assert conversation.messages.count() == 2


def test_page_shows_the_hand_controls_with_labels(logged_in, simulator, make_conversation):
    conversation = make_conversation()
    message = conversation.add_user_message("Hi")
    page = logged_in.get(f"/conversations/{conversation.pk}/").content.decode()
    for control, label in [
        ("add-role", "Role"),
        ("add-content", "Content"),
        ("add-tool-calls", "Tool calls (JSON, assistant only)"),
        ("add-tool-call-id", "Tool call id (tool only)"),
        ("id_title", "Title"),
    ]:
        assert f'<label for="{control}">{label}</label>' in page
    assert f'action="/conversations/{conversation.pk}/messages/add/"' in page
    # Each message's editor is fetched when opened (htmx), or opened by a reload without it.
    editor_url = f"/conversations/{conversation.pk}/messages/{message.pk}/editor/"
    assert f'hx-get="{editor_url}"' in page and f'href="{editor_url}"' in page
    assert ">Move up</button>" not in page
    editor = logged_in.get(editor_url, HTTP_HX_REQUEST="true").content.decode()
    assert f'<label for="message-{message.pk}-hand-content">Content</label>' in editor
    assert ">Move up</button>" in editor and ">Delete message</button>" in editor
    assert " open>" in editor
    without_js = logged_in.get(editor_url)
    assert (
        without_js.url
        == f"/conversations/{conversation.pk}/?hand={message.pk}#message-{message.pk}"
    )
    reloaded = logged_in.get(without_js.url).content.decode()
    assert f'<label for="message-{message.pk}-hand-content">Content</label>' in reloaded


def test_someone_elses_editor_is_not_found(logged_in, other_user, make_conversation):
    theirs = make_conversation(owner=other_user)
    message = theirs.add_user_message("private")
    url = f"/conversations/{theirs.pk}/messages/{message.pk}/editor/"
    assert logged_in.get(url, HTTP_HX_REQUEST="true").status_code == 404
