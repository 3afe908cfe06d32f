"""Runs against the simulator: every row answered and checked, several at a time, Stop,
a failing row among others, Retry of only the failed rows, and the page's websocket."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator

from evals import runner
from evals.models import Run, RunRow
from hexplay.asgi import application
from tests.conftest import session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


@sync_to_async
def new_run(prompt, **options) -> Run:
    version = prompt.versions.get(number=1)
    return runner.create_run(prompt, version, connection_slug="simulator", model="", **options)


@sync_to_async
def rows_of(run: Run) -> list[RunRow]:
    return list(run.rows.all())


async def run_to_the_end(run: Run) -> list[RunRow]:
    runner.start(run.pk)
    await runner.wait(run.pk)
    await run.arefresh_from_db()
    return await rows_of(run)


async def test_every_row_is_answered_and_checked(simulator, make_prompt, rows, check):
    prompt = await sync_to_async(make_prompt)("Answer {{text}}")
    await sync_to_async(rows)(
        prompt,
        {"text": "[[sim:say=Paris]]"},
        {"text": "[[sim:say=Lyon]]"},
        {"text": "[[sim:say={}]]"},
    )
    await sync_to_async(check)(prompt, "contains", "Paris")
    await sync_to_async(check)(prompt, "valid_json")

    answered = await run_to_the_end(await new_run(prompt))

    assert [row.answer for row in answered] == ["Paris", "Lyon", "{}"]
    assert [row.status for row in answered] == ["done"] * 3
    assert [[r["passed"] for r in row.results] for row in answered] == [
        [True, False],
        [False, False],
        [False, True],
    ]
    assert answered[1].results[0]["why"] == "“Paris” is not in the answer"
    # The request sent is stored, with the row's value filled in.
    sent = [r.body["messages"][-1]["content"] for r in simulator.requests]
    assert sorted(sent) == sorted(row.request["messages"][-1]["content"] for row in answered)
    assert answered[0].request["messages"][-1]["content"] == "Answer [[sim:say=Paris]]"
    assert all(row.first_token_ms is not None and row.completion_tokens for row in answered)
    assert answered[0].finish_reason == "stop"
    assert (await Run.objects.aget(pk=answered[0].run_id)).status == "done"


async def test_rows_go_several_at_a_time_but_no_more(simulator, make_prompt, rows):
    simulator.chunks_per_second = 50
    prompt = await sync_to_async(make_prompt)("Say {{text}} [[sim:tokens=10]]")
    await sync_to_async(rows)(prompt, *({"text": str(i)} for i in range(6)))

    await run_to_the_end(await new_run(prompt, concurrency=2))

    # Each request is received while at most one other is streaming.
    spans = sorted((r.received, r.writes[-1][0]) for r in simulator.requests)
    for i, (start, _) in enumerate(spans):
        under_way = sum(1 for s, end in spans[:i] if end > start)
        assert under_way <= 1
    assert len(spans) == 6


async def test_a_failing_row_shows_its_error_and_the_others_go_on(simulator, make_prompt, rows):
    prompt = await sync_to_async(make_prompt)("{{text}}")
    await sync_to_async(rows)(
        prompt,
        {"text": "[[sim:say=one]]"},
        {"text": "[[sim:status=503]]"},
        {"text": "[[sim:say=three]]"},
    )

    answered = await run_to_the_end(await new_run(prompt))

    assert [row.status for row in answered] == ["done", "failed", "done"]
    assert "The model's server" in answered[1].error and "503" in answered[1].error


async def test_retry_sends_only_the_rows_that_failed(simulator, make_prompt, rows):
    prompt = await sync_to_async(make_prompt)("{{text}}")
    await sync_to_async(rows)(prompt, {"text": "[[sim:say=one]]"}, {"text": "[[sim:status=503]]"})
    run = await new_run(prompt)
    await run_to_the_end(run)
    # A retry sends the stored request again; here the server has got better since.
    failed = await RunRow.objects.aget(run=run, position=1)
    failed.request["messages"][-1]["content"] = "[[sim:say=two]]"
    await failed.asave()
    simulator.requests.clear()

    assert await sync_to_async(runner.rows_to_retry)(run) == 1
    answered = await run_to_the_end(run)

    assert [r.body["messages"][-1]["content"] for r in simulator.requests] == ["[[sim:say=two]]"]
    assert [row.answer for row in answered] == ["one", "two"]
    assert run.status == "done"


async def test_stop_closes_every_request_and_marks_the_rest_stopped(simulator, make_prompt, rows):
    simulator.chunks_per_second = 20
    prompt = await sync_to_async(make_prompt)("{{text}} [[sim:long]]")
    await sync_to_async(rows)(prompt, *({"text": str(i)} for i in range(5)))
    run = await new_run(prompt, concurrency=2)
    runner.start(run.pk)
    await asyncio.to_thread(simulator.wait_for, lambda r: r.chunks_sent > 3)

    await runner.stop(run.pk)

    for _ in range(100):  # the simulator notices a closed socket at its next write
        if all(r.disconnected for r in simulator.requests):
            break
        await asyncio.sleep(0.05)
    stopped = await rows_of(run)
    await run.arefresh_from_db()
    assert run.status == "stopped"
    assert [row.status for row in stopped] == ["stopped"] * 5
    assert len(simulator.requests) == 2
    assert all(r.disconnected and not r.completed for r in simulator.requests)
    # What had arrived is kept.
    assert stopped[0].answer or stopped[1].answer
    assert run.pk not in runner._RUNNING


async def test_repeats_ask_again_with_their_own_seeds(simulator, make_prompt, rows):
    prompt = await sync_to_async(make_prompt)("Tell me about {{text}}")
    await sync_to_async(rows)(prompt, {"text": "tides"})

    answered = await run_to_the_end(await new_run(prompt, repeat=3))

    assert [row.request["seed"] for row in answered] == [1, 2, 3]
    assert len({row.answer for row in answered}) == 3


async def test_a_row_without_a_value_is_not_sent(simulator, make_prompt, rows):
    prompt = await sync_to_async(make_prompt)("{{text}}")
    await sync_to_async(rows)(prompt, {"text": ""}, {"text": "[[sim:say=ok]]"})

    answered = await run_to_the_end(await new_run(prompt))

    assert answered[0].status == "failed"
    assert answered[0].error == "This row has no value for text."
    assert len(simulator.requests) == 1


async def test_the_runs_page_is_sent_the_text_then_the_finished_row(
    simulator, make_prompt, rows, user
):
    simulator.chunks_per_second = 40
    prompt = await sync_to_async(make_prompt)("{{text}}")
    await sync_to_async(rows)(prompt, {"text": "[[sim:say=Bonjour le monde]]"})
    run = await new_run(prompt)
    socket = WebsocketCommunicator(
        application,
        f"/ws/runs/{run.pk}/",
        headers=[
            (b"cookie", await sync_to_async(session_cookie)(user)),
            (b"origin", b"http://localhost"),
        ],
    )
    connected, _ = await socket.connect()
    assert connected

    runner.start(run.pk)
    await runner.wait(run.pk)
    frames = []
    while not await socket.receive_nothing(timeout=0.2):
        frames.append(await socket.receive_from())
    await socket.disconnect()

    row = (await rows_of(run))[0]
    appended = "".join(
        text
        for f in frames
        if f.startswith("{")
        for element, text in json.loads(f)["append"]
        if element == f"row-{row.pk}-text"
    )
    assert appended == "Bonjour le monde"
    # First what the page may have missed since it was drawn (nothing had ended yet).
    assert 'id="run-live"' in frames[0] and "0 of 1 done" in frames[0]
    assert f'id="run-row-{row.pk}"' in frames[1] and "Streaming" in frames[1]
    last = frames[-1]
    assert 'id="run-live" class="run-live" hx-swap-oob="true"' in last and "1 of 1 done" in last


async def test_another_persons_run_socket_is_refused(simulator, make_prompt, rows, other_user):
    prompt = await sync_to_async(make_prompt)("{{text}}")
    await sync_to_async(rows)(prompt, {"text": "x"})
    run = await new_run(prompt)
    socket = WebsocketCommunicator(
        application,
        f"/ws/runs/{run.pk}/",
        headers=[
            (b"cookie", await sync_to_async(session_cookie)(other_user)),
            (b"origin", b"http://localhost"),
        ],
    )
    connected, _ = await socket.connect()
    assert not connected


@sync_to_async
def prompt_with_a_tool(make_prompt, user):
    from playground.models import ToolDefinition
    from tests.test_conversation_tools import WEATHER_PARAMETERS

    tool = ToolDefinition.objects.create(
        owner=user, name="get_current_weather", parameters=WEATHER_PARAMETERS
    )
    prompt = make_prompt("What is the weather in {{text}}?")
    conversation = prompt.conversations.get()
    conversation.tools.add(tool)
    from workbench import prompts

    prompt.add_version(prompts.setup_of(conversation))
    return prompt


async def test_tool_calls_are_stored_and_checked(simulator, make_prompt, rows, check, user):
    prompt = await prompt_with_a_tool(make_prompt, user)
    await sync_to_async(rows)(prompt, {"text": "Paris"})
    await sync_to_async(check)(prompt, "tool_call", "get_current_weather")
    await sync_to_async(check)(prompt, "tool_call", "get_time")
    version = await prompt.versions.aget(number=2)
    run = await sync_to_async(runner.create_run)(
        prompt, version, connection_slug="simulator", model=""
    )

    (row,) = await run_to_the_end(run)

    assert [call["name"] for call in row.tool_calls] == ["get_current_weather"]
    assert json.loads(row.tool_calls[0]["arguments"])
    assert row.finish_reason == "tool_calls"
    assert [r["passed"] for r in row.results] == [True, False]
    assert row.results[1]["why"] == "called get_current_weather, expected get_time"


async def test_a_reasoning_models_thinking_is_kept_apart(simulator, make_prompt, rows):
    from tests.conftest import MAGISTRAL

    prompt = await sync_to_async(make_prompt)("Think about {{text}}", model=MAGISTRAL)
    await sync_to_async(rows)(prompt, {"text": "tides"})

    (row,) = await run_to_the_end(await new_run(prompt))

    assert row.reasoning and row.answer
    assert row.reasoning not in row.answer


ADMIN_KEY = "sk-admin-entered-key-0042"


async def test_a_run_with_a_keyed_server_keeps_the_key_out_of_pages_exports_and_logs(
    simulator, make_prompt, rows, settings, caplog, logged_in
):
    """The key goes upstream as a header, and nowhere else: not in the stored request, the run
    page, its JSONL export, the comparison, or a log line."""
    settings.HEXGRID_API_KEY = ADMIN_KEY
    settings.MISTRAL_BASE_URL = simulator.base_url
    prompt = await sync_to_async(make_prompt)("{{text}}")
    await sync_to_async(rows)(prompt, {"text": "[[sim:say=fine]]"})
    version = await prompt.versions.aget(number=1)
    run = await sync_to_async(runner.create_run)(
        prompt, version, connection_slug="hexgrid", model=""
    )
    with caplog.at_level("DEBUG"):
        runner.start(run.pk)
        await runner.wait(run.pk)

    assert simulator.requests[-1].headers["authorization"] == f"Bearer {ADMIN_KEY}"
    seen = [
        (await sync_to_async(logged_in.get)(f"/runs/{run.pk}/")).content,
        (await sync_to_async(logged_in.get)(f"/runs/{run.pk}/export.jsonl")).content,
        caplog.text.encode(),
    ]
    assert b"fine" in seen[0]
    assert all(ADMIN_KEY.encode() not in text for text in seen)


async def test_stop_from_another_server_process_reaches_the_run(simulator, make_prompt, rows):
    # As `runner.stop` in a process that does not run it sends: the owner group's message.
    from channels.layers import get_channel_layer

    simulator.chunks_per_second = 20
    prompt = await sync_to_async(make_prompt)("{{text}} [[sim:long]]")
    await sync_to_async(rows)(prompt, {"text": "one"}, {"text": "two"})
    run = await new_run(prompt, concurrency=2)
    runner.start(run.pk)
    await asyncio.to_thread(simulator.wait_for, lambda r: r.chunks_sent > 3)
    await get_channel_layer().group_send(runner.owner_group(run.pk), {"type": "run.stop"})
    await runner.wait(run.pk)
    await run.arefresh_from_db()
    assert run.status == "stopped"
    assert [row.status for row in await rows_of(run)] == ["stopped", "stopped"]


def test_runs_cut_off_by_a_stopped_server_are_stopped_at_the_next_start(make_prompt, rows):
    prompt = make_prompt("{{text}}")
    rows(prompt, {"text": "one"}, {"text": "two"})
    run = async_to_sync(new_run)(prompt)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.RUNNING)
    assert runner.recover_interrupted_runs() == 1
    run.refresh_from_db()
    assert run.status == "stopped"
    assert {row.status for row in run.rows.all()} == {"stopped"}
    assert "restarted" in run.rows.first().error
