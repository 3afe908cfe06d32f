"""The pages of test cases and runs: checks refused in plain words, runs compared and shared,
answers continued as conversations, and nobody else's prompt, row, check or run reachable."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from evals import runner
from evals.models import Check, Run, RunRow
from playground.models import Conversation

pytestmark = pytest.mark.django_db


def finished_run(prompt, answers: list[str], *, checks=(), **fields) -> Run:
    """A run as the runner leaves it: each row answered with the text given."""
    version = prompt.versions.get(number=1)
    run = runner.create_run(prompt, version, connection_slug="simulator", model="", **fields)
    for row, answer in zip(run.rows.all(), answers, strict=True):
        row.status, row.answer, row.finish_reason = "done", answer, "stop"
        row.first_token_ms, row.total_ms, row.completion_tokens = 10.0, 110.0, 5
        row.results = [{"label": c, "passed": answer.startswith("P"), "why": ""} for c in checks]
        row.save()
    run.status = "done"
    run.save()
    return run


def test_a_check_without_what_it_needs_is_refused_in_words(logged_in, make_prompt):
    prompt = make_prompt()
    url = reverse("check_add", args=[prompt.pk])

    empty = logged_in.post(url, {"kind": "contains", "value": ""})
    pattern = logged_in.post(url, {"kind": "regex", "value": "(unclosed"})
    schema = logged_in.post(url, {"kind": "json_schema", "schema_text": '{"type": 5}'})

    assert empty.status_code == 422
    assert "Write the text the answer must contain." in empty.content.decode()
    assert (
        "This pattern is not valid: missing ), unterminated subpattern" in pattern.content.decode()
    )
    assert "This is not a valid JSON Schema" in schema.content.decode()
    assert not Check.objects.exists()


def test_checks_are_added_for_every_row_or_one(logged_in, make_prompt, rows):
    prompt = make_prompt()
    (case,) = rows(prompt, {"text": "Paris"})
    url = reverse("check_add", args=[prompt.pk])

    logged_in.post(url, {"kind": "valid_json"})
    page = logged_in.post(url, {"kind": "contains", "value": "Paris", "case": case.pk}, follow=True)

    text = page.content.decode()
    assert "Check added: the answer contains “Paris”." in text
    assert "The answer is valid JSON · <em>every row</em>" in text
    assert "The answer contains “Paris” · <em>row 1 only</em>" in text


def test_a_run_without_rows_is_refused(logged_in, make_prompt):
    prompt = make_prompt()
    response = logged_in.post(
        reverse("run_start", args=[prompt.pk]),
        {"version": 1, "connection": "simulator", "repeat": 1, "concurrency": 4},
    )
    assert response.status_code == 422
    assert "Add a test case first" in response.content.decode()
    assert not Run.objects.exists()


def test_the_run_page_shows_each_answer_with_its_checks_and_stats(
    logged_in, simulator, make_prompt, rows
):
    prompt = make_prompt()
    rows(prompt, {"text": "Paris"}, {"text": "Oslo"})
    run = finished_run(prompt, ["Paris is in France", "No idea"], checks=["contains “Paris”"])
    RunRow.objects.filter(run=run, position=1).update(
        results=[
            {"label": "contains “Paris”", "passed": False, "why": "“Paris” is not in the answer"}
        ]
    )

    page = logged_in.get(run.get_absolute_url()).content.decode()

    assert "2 of 2 done" in page and "1 of 2 pass" in page
    assert "Paris is in France" in page
    assert "“Paris” is not in the answer" in page
    assert "First token 10 ms · 5 tokens · 50.0 tokens/s · finish stop" in page


def test_a_run_is_exported_as_a_line_per_request(logged_in, simulator, make_prompt, rows):
    prompt = make_prompt()
    rows(prompt, {"text": "Paris"})
    run = finished_run(prompt, ["France."])

    lines = logged_in.get(reverse("run_export", args=[run.pk])).content.decode().splitlines()

    (record,) = [json.loads(line) for line in lines]
    assert record["request"]["messages"][-1]["content"] == "Where is Paris?"
    assert record["answer"]["content"] == "France."
    assert record["values"] == {"text": "Paris"}


def test_runs_side_by_side_can_show_only_the_rows_that_differ(
    logged_in, simulator, make_prompt, rows
):
    prompt = make_prompt()
    rows(prompt, {"text": "Paris"}, {"text": "Oslo"})
    one = finished_run(prompt, ["France", "Norway"], checks=["x"])
    two = finished_run(prompt, ["France", "Sweden"], checks=["x"])
    url = reverse("run_compare") + f"?run={one.pk}&run={two.pk}"

    every = logged_in.get(url).content.decode()
    differ = logged_in.get(url + "&different=1").content.decode()

    assert "1 of 2 rows have answers that differ" in every
    assert every.count('class="differs"') == 1
    assert "Norway" in every and "France" in every
    assert "Showing the 1 row whose answers differ, of 2." in differ
    assert "France" not in differ.split("<tbody>")[1]
    assert "<del>Norway</del>" in differ and "<ins>Sweden</ins>" in differ
    assert "0 of 2 pass (0%)" in every and "first token 10 ms · 50.0 tokens/s" in every


def test_a_shared_comparison_is_read_only_for_anyone_with_the_link(
    client, logged_in, simulator, make_prompt, rows
):
    prompt = make_prompt()
    rows(prompt, {"text": "Paris"})
    one, two = finished_run(prompt, ["France"]), finished_run(prompt, ["Francia"])

    shared = logged_in.post(reverse("run_compare_share"), {"run": [one.pk, two.pk]})
    client.logout()
    page = client.get(shared["Location"]).content.decode()

    assert "Runs shared read-only" in page and "Francia" in page
    assert "Share this comparison" not in page and "csrfmiddlewaretoken" not in page
    assert client.get(reverse("shared_compare") + "?t=nope&t=nope").status_code == 404


def test_continue_in_a_conversation_opens_the_rows_request_and_answer(
    logged_in, simulator, make_prompt, rows
):
    prompt = make_prompt()
    rows(prompt, {"text": "Paris"})
    run = finished_run(prompt, ["In France."])
    row = run.rows.get()

    response = logged_in.post(reverse("row_continue", args=[row.pk]))

    conversation = Conversation.objects.latest("pk")
    assert response["Location"] == conversation.get_absolute_url()
    assert conversation.variables["text"] == "Paris"
    assert [(m["role"], m["content"]) for m in conversation.upstream_messages()] == [
        ("user", "Where is {{text}}?"),
        ("assistant", "In France."),
    ]


@pytest.mark.parametrize(
    ("name", "method", "of"),
    [
        ("test_cases", "get", "prompt"),
        ("case_add", "post", "prompt"),
        ("case_paste", "post", "prompt"),
        ("case_import", "post", "prompt"),
        ("case_csv", "get", "prompt"),
        ("case_jsonl", "get", "prompt"),
        ("check_add", "post", "prompt"),
        ("run_start", "post", "prompt"),
        ("case_edit", "post", "case"),
        ("case_delete", "post", "case"),
        ("case_move", "post", "case"),
        ("check_delete", "post", "check"),
        ("run", "get", "run"),
        ("run_stop", "post", "run"),
        ("run_retry", "post", "run"),
        ("run_share", "post", "run"),
        ("run_unshare", "post", "run"),
        ("run_export", "get", "run"),
        ("row_continue", "post", "row"),
    ],
)
def test_another_persons_objects_are_not_found(
    client, other_user, simulator, make_prompt, rows, check, name, method, of
):
    prompt = make_prompt()
    (case,) = rows(prompt, {"text": "Paris"})
    run = finished_run(prompt, ["France"])
    objects = {
        "prompt": prompt,
        "case": case,
        "check": check(prompt, "valid_json"),
        "run": run,
        "row": run.rows.get(),
    }
    client.force_login(other_user)

    response = getattr(client, method)(reverse(name, args=[objects[of].pk]))

    assert response.status_code == 404
    assert (
        Run.objects.count() == 1 and prompt.test_cases.count() == 1 and Check.objects.count() == 1
    )


def test_another_persons_runs_cannot_be_compared_or_shared(
    client, other_user, simulator, make_prompt, rows
):
    prompt = make_prompt()
    rows(prompt, {"text": "Paris"})
    one, two = finished_run(prompt, ["a"]), finished_run(prompt, ["b"])
    client.force_login(other_user)

    assert client.get(reverse("run_compare") + f"?run={one.pk}&run={two.pk}").status_code == 404
    assert client.post(reverse("run_compare_share"), {"run": [one.pk, two.pk]}).status_code == 404
    assert not Run.objects.filter(share_token__isnull=False).exists()


def test_the_pages_need_a_log_in(client, make_prompt):
    prompt = make_prompt()
    response = client.get(reverse("test_cases", args=[prompt.pk]))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_a_run_can_set_its_own_temperature_and_max_tokens(simulator, make_prompt, rows):
    prompt = make_prompt()
    rows(prompt, {"text": "Paris"})
    version = prompt.versions.get(number=1)

    run = runner.create_run(
        prompt,
        version,
        connection_slug="simulator",
        model="",
        overrides={"temperature": 0.2, "max_tokens": 30},
    )

    request = run.rows.get().request
    assert request["temperature"] == 0.2
    assert 30 in (request.get("max_tokens"), request.get("max_completion_tokens"))
    assert "temperature 0.2 · max tokens 30" in run.label


def test_an_option_the_server_would_refuse_stops_the_run_before_it_starts(
    logged_in, simulator, make_prompt, rows
):
    prompt = make_prompt()
    rows(prompt, {"text": "Paris"})
    response = logged_in.post(
        reverse("run_start", args=[prompt.pk]),
        {"version": 1, "connection": "simulator", "repeat": 1, "concurrency": 4, "temperature": 9},
    )

    assert response.status_code == 422
    assert "v1 cannot be run: Nothing was sent. Fix the request options first:" in (
        response.content.decode()
    )
    assert not Run.objects.exists()


def test_repeated_rows_say_how_many_distinct_answers_and_passes(
    logged_in, simulator, make_prompt, rows
):
    prompt = make_prompt()
    rows(prompt, {"text": "Paris"})
    run = finished_run(prompt, ["Paris.", "Paris.", "No idea"], checks=["x"], repeat=3)

    page = logged_in.get(run.get_absolute_url()).content.decode()

    assert '<span class="consistency">2 distinct answers of 3 · 2 of 3 pass</span>' in page
    assert "try 2 (seed 2)" in page
