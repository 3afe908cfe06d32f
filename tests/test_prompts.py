"""Saved prompts: versions that are never overwritten, compared, restored, reopened, moved."""

from __future__ import annotations

import json

import pytest

from playground.models import Conversation, ToolDefinition
from workbench import prompts
from workbench.models import Prompt

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup_conversation(simulator, make_conversation, user):
    conversation = make_conversation(
        system_prompt="You are terse about {{city}}.",
        variables={"city": "Oslo"},
        options={"temperature": 0.2},
    )
    conversation.add_user_message("Weather in {{city}}?")
    tool = ToolDefinition.objects.create(owner=user, name="get_weather", description="Weather")
    conversation.tools.add(tool)
    return conversation


def save(client, conversation, **fields):
    return client.post(
        f"/conversations/{conversation.pk}/save-prompt/", fields, HTTP_HX_REQUEST="true"
    )


def test_saving_again_adds_a_version_and_keeps_the_first(logged_in, setup_conversation):
    first = save(logged_in, setup_conversation, prompt="new", name="Weather", note="first")
    assert "Saved as Weather v1." in first.content.decode()
    prompt = Prompt.objects.get()
    # The panel now offers the next version of the prompt this conversation saves into.
    assert f'value="{prompt.pk}" checked' in first.content.decode()

    setup_conversation.system_prompt = "You are chatty about {{city}}."
    setup_conversation.save()
    second = save(logged_in, setup_conversation, prompt=str(prompt.pk), note="chatty")
    assert "Saved as Weather v2." in second.content.decode()
    v1, v2 = prompt.versions.all()
    assert (v1.number, v1.note, v2.number, v2.note) == (1, "first", 2, "chatty")
    assert v1.setup["hexplay"]["system_prompt"] == "You are terse about {{city}}."
    assert v2.setup["hexplay"]["system_prompt"] == "You are chatty about {{city}}."
    # Messages as written, variables' values beside them, tools and options kept.
    assert v1.setup["messages"][-1] == {"role": "user", "content": "Weather in {{city}}?"}
    assert v1.setup["hexplay"]["variables"] == {"city": "Oslo"}
    assert [t["function"]["name"] for t in v1.setup["tools"]] == ["get_weather"]
    assert v1.setup["hexplay"]["options"] == {"temperature": 0.2}


def test_an_empty_conversation_cannot_be_saved_and_says_why(logged_in, make_conversation):
    response = save(logged_in, make_conversation(), prompt="new", name="Nothing")
    assert response.status_code == 422
    assert "Nothing to save yet" in response.content.decode()
    assert not Prompt.objects.exists()


def test_a_new_conversation_from_a_version_has_its_setup(logged_in, setup_conversation, user):
    save(logged_in, setup_conversation, prompt="new", name="Weather")
    prompt = Prompt.objects.get()
    response = logged_in.post(f"/prompts/{prompt.pk}/versions/1/start/")
    started = Conversation.objects.exclude(pk=setup_conversation.pk).get()
    assert response.url == started.get_absolute_url()
    assert started.title == "Weather v1"
    assert started.system_prompt == "You are terse about {{city}}."
    assert started.variables == {"city": "Oslo"}
    assert started.options == {"temperature": 0.2}
    assert [m.content for m in started.path()] == ["Weather in {{city}}?"]
    assert [t.name for t in started.tools.all()] == ["get_weather"]  # the owner's own tool
    assert ToolDefinition.objects.filter(owner=user).count() == 1
    # It saves into the same prompt.
    assert list(started.prompts.all()) == [prompt]


def test_restore_makes_a_new_version_from_an_old_one(logged_in, setup_conversation):
    save(logged_in, setup_conversation, prompt="new", name="Weather")
    prompt = Prompt.objects.get()
    setup_conversation.system_prompt = "Changed."
    setup_conversation.save()
    save(logged_in, setup_conversation, prompt=str(prompt.pk))
    logged_in.post(f"/prompts/{prompt.pk}/versions/1/restore/")
    v1, v2, v3 = prompt.versions.all()
    assert v3.setup == v1.setup and v3.note == "Restored from v1"
    assert v2.setup["hexplay"]["system_prompt"] == "Changed."


def test_comparing_marks_changed_words_and_lists_changed_options_and_tools(
    logged_in, setup_conversation, user
):
    save(logged_in, setup_conversation, prompt="new", name="Weather")
    prompt = Prompt.objects.get()
    setup_conversation.system_prompt = "You are chatty about {{city}}."
    setup_conversation.options = {"temperature": 0.9, "seed": 7}
    setup_conversation.save()
    setup_conversation.tools.clear()
    save(logged_in, setup_conversation, prompt=str(prompt.pk))

    page = logged_in.get(f"/prompts/{prompt.pk}/compare/", {"old": 1, "new": 2})
    text = page.content.decode()
    assert "<del>terse</del>" in text and "<ins>chatty</ins>" in text
    assert "<del>about</del>" not in text  # unchanged words are not marked
    assert '<th scope="row">Temperature</th><td><code>0.2</code></td><td><code>0.9</code>' in text
    assert "<code>unset</code></td><td><code>7</code>" in text
    assert "<code>get_weather</code></th><td>attached</td><td>not attached</td>" in text


def test_word_comparison_keeps_every_word_on_its_side():
    old, new = prompts.compare_texts("a quick brown fox", "a slow brown cat")
    assert "".join(w.text for w in old) == "a quick brown fox"
    assert [w.text for w in old if w.change] == ["quick", "fox"]
    assert [w.text for w in new if w.change] == ["slow", "cat"]


def test_export_then_import_brings_back_every_version(logged_in, setup_conversation, user):
    save(logged_in, setup_conversation, prompt="new", name="Weather", note="one")
    prompt = Prompt.objects.get()
    setup_conversation.system_prompt = "Two."
    setup_conversation.save()
    save(logged_in, setup_conversation, prompt=str(prompt.pk), note="two")

    exported = logged_in.get(f"/prompts/{prompt.pk}/export.json")
    assert exported["Content-Disposition"].startswith("attachment")
    response = logged_in.post("/prompts/import/", {"text": exported.content.decode()})
    copy = Prompt.objects.exclude(pk=prompt.pk).get()
    assert response.url == copy.get_absolute_url()
    assert copy.name == "Weather"
    assert [(v.number, v.note, v.setup) for v in copy.versions.all()] == [
        (v.number, v.note, v.setup) for v in prompt.versions.all()
    ]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ("{", "not valid JSON"),
        ('{"kind": "other"}', "not a HexPlay prompt export"),
        ('{"kind": "hexplay-prompt", "name": "x", "versions": []}', "at least one version"),
        (
            '{"kind": "hexplay-prompt", "name": "x", "versions": [{"number": 1, "setup": {}}]}',
            "versions[0].setup: messages is missing",
        ),
        (
            '{"kind": "hexplay-prompt", "name": "x", "versions": [{"number": 1, "setup": '
            '{"messages": [{"role": "user", "content": "a"}]}}, {"number": 1, "setup": '
            '{"messages": [{"role": "user", "content": "b"}]}}]}',
            "versions[1].number 1 appears twice",
        ),
    ],
)
def test_bad_prompt_imports_say_what_is_wrong_and_store_nothing(logged_in, data, problem):
    response = logged_in.post("/prompts/import/", {"text": data})
    assert response.status_code == 422
    assert problem in response.content.decode()
    assert not Prompt.objects.exists()


def test_the_prompt_list_searches_by_name(logged_in, user):
    Prompt.objects.create(owner=user, name="Weather report")
    Prompt.objects.create(owner=user, name="Poems")
    text = logged_in.get("/prompts/", {"q": "weather"}).content.decode()
    assert "Weather report" in text and "Poems" not in text


def test_duplicate_and_delete(logged_in, setup_conversation):
    save(logged_in, setup_conversation, prompt="new", name="Weather")
    prompt = Prompt.objects.get()
    logged_in.post(f"/prompts/{prompt.pk}/duplicate/")
    copy = Prompt.objects.exclude(pk=prompt.pk).get()
    assert copy.name == "Weather (copy)" and copy.versions.count() == 1
    assert "Delete for good" in logged_in.get(f"/prompts/{prompt.pk}/delete/").content.decode()
    logged_in.post(f"/prompts/{prompt.pk}/delete/")
    assert list(Prompt.objects.all()) == [copy]
    assert Conversation.objects.filter(pk=setup_conversation.pk).exists()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/prompts/{pk}/"),
        ("get", "/prompts/{pk}/compare/?old=1&new=1"),
        ("get", "/prompts/{pk}/export.json"),
        ("get", "/prompts/{pk}/delete/"),
        ("post", "/prompts/{pk}/delete/"),
        ("post", "/prompts/{pk}/duplicate/"),
        ("post", "/prompts/{pk}/versions/1/restore/"),
        ("post", "/prompts/{pk}/versions/1/start/"),
    ],
)
def test_another_persons_prompt_is_not_found(
    client, logged_in, setup_conversation, other_user, method, path
):
    save(logged_in, setup_conversation, prompt="new", name="Mine")
    prompt = Prompt.objects.get()
    client.force_login(other_user)
    response = getattr(client, method)(path.format(pk=prompt.pk))
    assert response.status_code == 404
    assert Prompt.objects.count() == 1 and prompt.versions.count() == 1


def test_nobody_saves_into_another_persons_conversation_or_prompt(
    client, logged_in, setup_conversation, other_user, make_conversation
):
    save(logged_in, setup_conversation, prompt="new", name="Mine")
    prompt = Prompt.objects.get()
    client.force_login(other_user)
    assert save(client, setup_conversation, prompt="new").status_code == 404
    theirs = make_conversation(owner=other_user, system_prompt="Theirs")
    assert save(client, theirs, prompt=str(prompt.pk)).status_code == 404
    assert prompt.versions.count() == 1


def test_the_setup_imports_as_the_conversation_it_came_from(setup_conversation):
    setup = json.loads(json.dumps(prompts.setup_of(setup_conversation)))
    assert setup["messages"][0] == {"role": "system", "content": "You are terse about {{city}}."}
