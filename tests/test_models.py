"""Conversations as trees: editing and regenerating add versions, never overwrite."""

import pytest

from playground.models import Message

pytestmark = pytest.mark.django_db


def answer(conversation, text: str) -> Message:
    message = conversation.start_answer(connection="simulator", model="m", body={})
    message.content, message.status = text, Message.Status.COMPLETE
    message.save()
    return message


def contents(conversation) -> list[str]:
    return [m.content for m in conversation.path()]


def test_messages_follow_each_other_on_one_branch(make_conversation):
    conversation = make_conversation()
    conversation.add_user_message("Hi")
    answer(conversation, "Hello")
    conversation.add_user_message("Bye")
    assert contents(conversation) == ["Hi", "Hello", "Bye"]
    assert [m.version_count for m in conversation.path()] == [1, 1, 1]


def test_regenerating_keeps_the_earlier_answer_as_a_version(make_conversation):
    conversation = make_conversation()
    conversation.add_user_message("Hi")
    first = answer(conversation, "Hello")
    conversation.rewind_for_new_answer()
    answer(conversation, "Hey there")
    path = conversation.path()
    assert contents(conversation) == ["Hi", "Hey there"]
    assert (path[-1].version_number, path[-1].version_count) == (2, 2)
    assert path[-1].previous_version == first and path[-1].is_last
    conversation.show_version(first)
    assert contents(conversation) == ["Hi", "Hello"]


def test_editing_an_earlier_message_branches_and_the_old_branch_stays_reachable(make_conversation):
    conversation = make_conversation()
    original = conversation.add_user_message("What is 2+2?")
    answer(conversation, "4")
    conversation.add_user_message("And 3+3?")
    answer(conversation, "6")
    conversation.add_user_message("What is 2+3?", replacing=original)
    assert contents(conversation) == ["What is 2+3?"]
    # Going back to the first version brings back everything that followed it.
    conversation.show_version(original)
    assert contents(conversation) == ["What is 2+2?", "4", "And 3+3?", "6"]


def test_failed_answers_are_kept_on_screen_but_not_sent(make_conversation):
    conversation = make_conversation(system_prompt="Be brief.")
    conversation.add_user_message("Hi")
    failed = conversation.start_answer(connection="simulator", model="m", body={})
    failed.status = Message.Status.ERROR
    failed.save()
    assert contents(conversation) == ["Hi", ""]
    assert conversation.upstream_messages() == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]


def test_path_costs_one_query_however_long(make_conversation, django_assert_num_queries):
    conversation = make_conversation()
    for n in range(50):
        conversation.add_user_message(f"q{n}")
        answer(conversation, f"a{n}")
    with django_assert_num_queries(1):
        assert len(conversation.path()) == 100


def same_as_a_fresh_read(conversation) -> bool:
    fresh = type(conversation).objects.get(pk=conversation.pk).path()
    shape = lambda path: [(m.pk, m.version_number, m.version_count, m.is_last) for m in path]  # noqa: E731
    return shape(conversation.path()) == shape(fresh)


def test_the_branch_known_before_a_send_grows_by_it_without_reading_it_again(
    make_conversation, django_assert_num_queries
):
    conversation = make_conversation()
    question = conversation.add_user_message("Hi")
    answer(conversation, "Hello")
    conversation.path()
    with django_assert_num_queries(5):  # 2 messages saved, the text of one, the branch end twice
        conversation.add_user_message("More?")
        answer(conversation, "Yes")
        assert len(conversation.path()) == 4
    assert same_as_a_fresh_read(conversation)
    # Regenerating and editing add versions beside a message: the branch is read again.
    conversation.rewind_for_new_answer()
    answer(conversation, "Yes, more")
    assert conversation.path()[-1].version_count == 2
    assert same_as_a_fresh_read(conversation)
    conversation.add_user_message("Hello?", replacing=question)
    assert [m.version_count for m in conversation.path()] == [2]
    assert same_as_a_fresh_read(conversation)


def test_title_is_suggested_from_the_first_message(make_conversation):
    conversation = make_conversation()
    conversation.add_user_message(
        "  How do   tides work on a planet with two moons and a ring system?\nMore"
    )
    conversation.add_user_message("Second")
    conversation.refresh_from_db()  # stored, not only on this object
    assert conversation.title == "How do tides work on a planet with two moons and a ring…"


def test_answers_cut_off_by_a_server_stop_are_marked_stopped_at_the_next_start(make_conversation):
    from playground.models import recover_interrupted_answers

    conversation = make_conversation()
    conversation.add_user_message("Hi")
    cut_off = conversation.start_answer(connection="simulator", model="m", body={})
    cut_off.content = "Half an ans"  # what the last checkpoint saved
    cut_off.save()
    assert recover_interrupted_answers() == 1
    cut_off.refresh_from_db()
    assert cut_off.status == "stopped" and cut_off.content == "Half an ans"
    assert recover_interrupted_answers() == 0
