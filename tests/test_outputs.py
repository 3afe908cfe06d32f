"""What some options produce, ready to show: several candidates and the odds of each token."""

from __future__ import annotations

import math

import pytest
from django.template.loader import render_to_string

from playground import outputs, upstream


def test_candidates_keep_each_choice_apart_in_order():
    found = outputs.Candidates()
    for event in [
        upstream.ContentDelta(1, "Bon"),
        upstream.ContentDelta(0, "Hel"),
        upstream.ReasoningDelta(0, "hmm"),
        upstream.ContentDelta(1, "jour"),
        upstream.ContentDelta(0, "lo"),
        upstream.Finish(1, "length"),
        upstream.Finish(0, "stop"),
        upstream.Usage({"completion_tokens": 4}),
    ]:
        found.apply(event)
    first, second = found.in_order()
    assert (first.text, second.text) == ("Hello", "Bonjour")
    assert first.as_json() == {
        "index": 0, "content": "Hello", "reasoning": "hmm", "finish_reason": "stop"
    }  # fmt: skip
    assert second.finish_words == "stopped at the token limit"
    assert len(found) == 2


def test_token_odds_are_coloured_and_list_the_alternatives():
    entries = [
        {
            "token": " Paris",
            "logprob": math.log(0.92),
            "top_logprobs": [
                {"token": " Paris", "logprob": math.log(0.92)},
                {"token": " Lyon", "logprob": math.log(0.05)},
                {"token": "\n", "logprob": -9999.0},
            ],
        },
        {"token": "!", "logprob": math.log(0.2), "top_logprobs": []},
    ]
    paris, bang = outputs.token_views(entries)
    assert (paris.band, paris.percent) == ("sure", "92%")
    assert paris.summary == "92% likely; instead: ␣Lyon 5%, ↵ <0.1%"
    assert (bang.band, bang.summary) == ("unlikely", "20% likely")
    assert outputs.percent(0.004) == "0.4%" and outputs.visible("") == "∅"


@pytest.mark.django_db
def test_candidates_render_side_by_side_with_a_way_to_continue_each(make_conversation):
    conversation = make_conversation()
    question = conversation.add_user_message("Say hi")
    first = conversation.messages.create(parent=question, role="assistant", content="Hi <b>")
    second = conversation.messages.create(parent=question, role="assistant", content="Hello")
    found = outputs.Candidates()
    for event in [upstream.ContentDelta(0, "Hi <b>"), upstream.ContentDelta(1, "Hello")]:
        found.apply(event)
    shown = found.in_order()
    shown[0].version, shown[1].version = first, second

    html = render_to_string(
        "playground/outputs.html#candidates", {"message": first, "candidates": shown}
    )
    assert html.count('class="candidate"') == 2
    assert "Hi &lt;b&gt;" in html  # escaped
    assert f'action="/conversations/{conversation.pk}/messages/{second.pk}/show/"' in html
    assert "Continuing with this one" in html and "Continue with this one" in html


@pytest.mark.django_db
def test_token_odds_render_as_focusable_tokens_with_tooltips(make_conversation):
    conversation = make_conversation()
    message = conversation.messages.create(role="assistant", content="Hi")
    tokens = outputs.token_views([{"token": "Hi", "logprob": -0.1, "top_logprobs": []}])
    html = render_to_string(
        "playground/outputs.html#logprobs", {"message": message, "tokens": tokens}
    )
    assert (
        f'<span class="tok tok--sure" tabindex="0" aria-describedby="{message.dom_id}-tok-1">Hi'
        f'<span id="{message.dom_id}-tok-1" role="tooltip" class="tok__tip">90% likely</span>'
    ) in html


@pytest.mark.django_db
def test_saved_candidates_become_the_partials_columns(make_conversation):
    conversation = make_conversation()
    first = conversation.messages.create(role="assistant", content="A", finish_reason="stop")
    second = conversation.messages.create(role="assistant", content="B", finish_reason="length")
    shown = outputs.from_versions([first, second])
    assert [(c.index, c.text, c.finish_words, c.version) for c in shown] == [
        (0, "A", "finished", first),
        (1, "B", "stopped at the token limit", second),
    ]


@pytest.mark.django_db
def test_saved_candidates_show_their_markdown_and_their_own_stats(make_conversation):
    conversation = make_conversation()
    usage = {"prompt_tokens": 7, "completion_tokens": 40}
    first = conversation.messages.create(
        role="assistant", content="A **bold** one", finish_reason="stop",
        content_html="<p>A <strong>bold</strong> one</p>",
        usage=usage, time_to_first_token_ms=12, duration_ms=1500,
    )  # fmt: skip
    second = conversation.messages.create(
        role="assistant", content="B", content_html="<p>B</p>", finish_reason="length",
        usage=usage, time_to_first_token_ms=15, duration_ms=2300,
    )  # fmt: skip
    html = render_to_string(
        "playground/outputs.html#candidates",
        {"message": first, "candidates": outputs.from_versions([first, second])},
    )
    assert "<strong>bold</strong>" in html and "**" not in html
    assert "1.5 s" in html and "2.3 s" in html and "15 ms" in html
    assert "length (stopped at the token limit)" in html
    # The server counts the tokens of all candidates together: said once, as such.
    assert html.count("40 out") == 1
    assert "7 in · 40 out for the 2 candidates together" in html


def test_streaming_candidates_stay_plain_text_without_stats():
    found = outputs.Candidates()
    found.apply(upstream.ContentDelta(0, "A **bold"))
    found.apply(upstream.ContentDelta(1, "B"))

    class Streaming:
        dom_id, conversation_id = "message-1", 1

    html = render_to_string(
        "playground/outputs.html#candidates",
        {"message": Streaming(), "candidates": found.in_order()},
    )
    assert 'class="candidate__content plain">A **bold</div>' in html
    assert "<strong>" not in html and "First token" not in html
