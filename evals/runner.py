"""Runs: every row of a run sent upstream, several at a time over one HTTP client, stored as it
streams and shown live to whoever has the run's page open.

A run lives in the process that started it, as an asyncio task (kept in `_RUNNING`); Stop in
any process reaches it through the channel layer (`owner_group`). Cancelling closes every
upstream request under way; rows not answered yet are marked stopped. The page gets the
answers' text as `{"append": [[element id, text], ...]}` frames, coalesced over `FRAME_WINDOW`
for all rows at once, and one HTML fragment per row that ends (its cell and the progress line,
swapped out of band by htmx).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string

from evals import checks
from evals.models import Run, RunRow, TestCase
from hexplay import shutdown
from playground import options, refusals, upstream, variables
from playground.stream import request_body
from playground.upstream.connections import Connection, get_connection
from workbench.models import Prompt, PromptVersion

# How long text waits to go out with the text of other rows: coarser than a frame at 60 Hz.
FRAME_WINDOW = 0.1
# A streaming row's text is saved this often, so a reload shows it.
CHECKPOINT_EVERY = 1.0
MAX_CONCURRENCY = 16
MAX_REPEAT = 10

_RUNNING: dict[int, asyncio.Task[None]] = {}


class RunRejected(Exception):
    """A run cannot start; the text says why in plain words."""


def group_of(run_id: int) -> str:
    return f"run-{run_id}"


def owner_group(run_id: int) -> str:
    """The process running the run listens here (for Stop pressed on another worker)."""
    return f"run-owner-{run_id}"


# ---- Preparing a run (in the database thread) ---------------------------------------------


def prompt_messages(setup: dict[str, Any]) -> list[dict[str, Any]]:
    """The version's messages up to its last one from the person: an answer saved after it is
    the one each row asks for again."""
    messages = list(setup.get("messages") or [])
    while messages and messages[-1].get("role") == "assistant":
        messages.pop()
    return messages


def _body_for(
    version: PromptVersion,
    connection: Connection,
    model: str,
    values: dict[str, str],
    overrides: dict[str, Any],
) -> tuple[dict[str, Any], options.Evaluation]:
    setup = version.setup
    meta = setup.get("hexplay") or {}
    return request_body(
        prompt_messages(setup),
        {**(meta.get("options") or {}), **overrides},
        setup.get("tools") or [],
        values,
        model=model,
        connection=connection,
    )


def _values_for(version: PromptVersion, case: TestCase) -> dict[str, str]:
    """The row's values, over the version's own for the variables the row leaves empty."""
    saved = (version.setup.get("hexplay") or {}).get("variables") or {}
    return {**saved, **{k: v for k, v in case.values.items() if str(v)}}


@transaction.atomic
def create_run(
    prompt: Prompt,
    version: PromptVersion,
    *,
    connection_slug: str,
    model: str,
    repeat: int = 1,
    concurrency: int | None = None,
    overrides: dict[str, Any] | None = None,
) -> Run:
    """A run of `version` over every test case of the prompt, its requests written down."""
    connection = get_connection(connection_slug)
    if connection is None:
        raise RunRejected("That server is not configured any more: pick another.")
    cases = list(prompt.test_cases.all())
    if not cases:
        raise RunRejected("Add a test case first: a run sends the prompt once per row.")
    if not 1 <= repeat <= MAX_REPEAT:
        raise RunRejected(f"Repeat each row between 1 and {MAX_REPEAT} times.")
    concurrency = concurrency or settings.EVAL_CONCURRENCY
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise RunRejected(f"Run between 1 and {MAX_CONCURRENCY} rows at a time.")
    model = model.strip() or version.setup.get("model") or connection.default_model
    overrides = overrides or {}
    _, chosen = _body_for(version, connection, model, {}, overrides)
    if chosen.errors:
        raise RunRejected(f"v{version.number} cannot be run: {chosen.refusal()}")
    run = Run.objects.create(
        owner=prompt.owner,
        prompt=prompt,
        version=version,
        connection=connection.slug,
        model=model,
        repeat=repeat,
        concurrency=concurrency,
        overrides=overrides,
        checks=[check.as_data() for check in prompt.checks.all()],
    )
    names = variables.names_in(variables.texts_of(prompt_messages(version.setup)))
    rows = []
    for position, case in enumerate(cases):
        values = _values_for(version, case)
        body, _ = _body_for(version, connection, model, values, overrides)
        body["stream"] = True
        # One answer per request: Repeat asks several times, each with its own seed.
        body.pop("n", None)
        unfilled = variables.missing(names, values)
        for attempt in range(1, repeat + 1):
            request = dict(body)
            if repeat > 1:
                request["seed"] = int(body.get("seed") or 0) + attempt
            rows.append(
                RunRow(
                    run=run,
                    case=case,
                    position=position,
                    attempt=attempt,
                    values={name: values.get(name, "") for name in names},
                    request=request,
                    status=RunRow.Status.FAILED if unfilled else RunRow.Status.WAITING,
                    error=f"This row has no value for {', '.join(unfilled)}." if unfilled else "",
                )
            )
    RunRow.objects.bulk_create(rows)
    return run


@transaction.atomic
def rows_to_retry(run: Run) -> int:
    """Rows without an answer (failed or stopped) made to wait again; how many."""
    retried = run.rows.filter(status__in=[RunRow.Status.FAILED, RunRow.Status.STOPPED]).exclude(
        error__startswith="This row has no value"
    )
    count = retried.update(
        status=RunRow.Status.WAITING,
        answer="",
        reasoning="",
        tool_calls=[],
        finish_reason="",
        error="",
        first_token_ms=None,
        total_ms=None,
        prompt_tokens=None,
        completion_tokens=None,
        results=[],
    )
    if count:
        Run.objects.filter(pk=run.pk).update(status=Run.Status.RUNNING)
    return count


def recover_interrupted_runs() -> int:
    """Runs left running by a server that stopped: their unanswered rows become stopped, so
    Retry sends them again. Only safe when no server is running, i.e. before one starts."""
    runs = Run.objects.filter(status=Run.Status.RUNNING)
    RunRow.objects.filter(
        run__in=runs, status__in=[RunRow.Status.WAITING, RunRow.Status.RUNNING]
    ).update(
        status=RunRow.Status.STOPPED, error="The server restarted before this row was answered."
    )
    return runs.update(status=Run.Status.STOPPED)


# ---- Running ------------------------------------------------------------------------------


def start(run_id: int) -> None:
    """Run the waiting rows of the run in the background of this process (call from async)."""
    if run_id in _RUNNING:
        return
    task = asyncio.create_task(_run(run_id))
    _RUNNING[run_id] = task
    task.add_done_callback(lambda _: _RUNNING.pop(run_id, None))
    shutdown.before_stop(stop_all)


async def stop(run_id: int) -> None:
    """Cancel the run: every request under way is closed, unanswered rows are marked stopped.

    Run here, it is stopped when this returns; run by another process, that one is told."""
    task = _RUNNING.get(run_id)
    if task is None:
        await get_channel_layer().group_send(owner_group(run_id), {"type": "run.stop"})
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def stop_all() -> None:
    """Stop every run of this process and wait until each is saved (server shutdown)."""
    tasks = list(_RUNNING.values())
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _stop_when_told(run_id: int, task: asyncio.Task[None]) -> None:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(owner_group(run_id), channel)
    try:
        while (await layer.receive(channel)).get("type") != "run.stop":
            pass
        task.cancel()
    finally:
        await layer.group_discard(owner_group(run_id), channel)


async def wait(run_id: int) -> None:
    """Until the run's task ends (tests and the benchmark)."""
    task = _RUNNING.get(run_id)
    if task is not None:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(task)


class _Frames:
    """The text of every streaming row, sent to the run's page at most once per window."""

    def __init__(self, group: str) -> None:
        self.group = group
        self.layer = get_channel_layer()
        self.pending: list[list[str]] = []
        self.flusher: asyncio.Task[None] | None = None

    def add(self, element_id: str, text: str) -> None:
        if self.pending and self.pending[-1][0] == element_id:
            self.pending[-1][1] += text
        else:
            self.pending.append([element_id, text])
        if self.flusher is None:
            self.flusher = asyncio.create_task(self._later())

    async def _later(self) -> None:
        await asyncio.sleep(FRAME_WINDOW)
        self.flusher = None
        await self.flush()

    async def flush(self) -> None:
        if not self.pending:
            return
        frame, self.pending = json.dumps({"append": self.pending}), []
        await self.send(frame)

    async def send(self, text: str) -> None:
        await self.layer.group_send(self.group, {"type": "run.frame", "text": text})

    async def close(self) -> None:
        if self.flusher is not None:
            self.flusher.cancel()
            self.flusher = None
        await self.flush()


def _load(run_id: int) -> tuple[Run, list[RunRow], Connection | None]:
    run = Run.objects.select_related("version", "prompt").get(pk=run_id)
    rows = list(run.rows.filter(status=RunRow.Status.WAITING))
    return run, rows, get_connection(run.connection)


async def _run(run_id: int) -> None:
    run, rows, connection = await database_sync_to_async(_load)(run_id)
    frames = _Frames(group_of(run_id))
    told = asyncio.create_task(_stop_when_told(run_id, asyncio.current_task()))
    limit = asyncio.Semaphore(run.concurrency)
    status = Run.Status.DONE
    async with upstream.new_client(
        connect_timeout=settings.UPSTREAM_CONNECT_TIMEOUT,
        read_timeout=settings.UPSTREAM_READ_TIMEOUT,
    ) as client:

        async def one(row: RunRow) -> None:
            try:
                async with limit:
                    await _Row(run, row, connection, frames).answer(client)
            except asyncio.CancelledError:
                if row.status == RunRow.Status.WAITING:
                    await database_sync_to_async(_save)(row, status=RunRow.Status.STOPPED)
                raise

        try:
            await asyncio.gather(*(one(row) for row in rows))
        except asyncio.CancelledError:
            status = Run.Status.STOPPED
            raise
        finally:
            told.cancel()
            await frames.close()
            html = await database_sync_to_async(_end_run)(run, status)
            await frames.send(html)


def _save(row: RunRow, **fields: Any) -> None:
    for name, value in fields.items():
        setattr(row, name, value)
    row.save(update_fields=list(fields))


def _end_run(run: Run, status: str) -> str:
    # Rows still waiting when the gather was cancelled never started their task.
    run.rows.filter(status=RunRow.Status.WAITING).update(status=RunRow.Status.STOPPED)
    run.status = status
    run.save(update_fields=["status"])
    context = {"run": run, "oob": True, **progress_of(run)}
    return render_to_string("evals/run.html#run_live", context)


def snapshot(run_id: int, owner: Any) -> str | None:
    """What a page that has just connected may have missed since it was drawn: the progress and
    every row that has ended (out of band). None: no such run of `owner`'s."""
    run = Run.objects.filter(pk=run_id, owner=owner).select_related("version", "prompt").first()
    if run is None:
        return None
    ended = run.rows.exclude(status__in=[RunRow.Status.WAITING, RunRow.Status.RUNNING])
    context = {"run": run, "rows": ended, **progress_of(run)}
    return render_to_string("evals/run.html#snapshot", context)


def progress_of(run: Run) -> dict[str, Any]:
    """What the progress line and the retry button say."""
    rows = list(run.rows.values_list("status", "results"))
    done = sum(1 for status, _ in rows if status == RunRow.Status.DONE)
    failed = sum(1 for status, _ in rows if status in (RunRow.Status.FAILED, RunRow.Status.STOPPED))
    checked = [results for status, results in rows if status == RunRow.Status.DONE and results]
    passing = sum(1 for results in checked if all(r["passed"] for r in results))
    return {
        "total": len(rows),
        "done": done,
        "failed": failed,
        "finished": done + failed,
        "checked": len(checked),
        "passing": passing,
    }


class _Row:
    """One row's request while it streams: its text to the page, its answer to the database."""

    def __init__(
        self, run: Run, row: RunRow, connection: Connection | None, frames: _Frames
    ) -> None:
        self.run, self.row, self.connection, self.frames = run, row, connection, frames
        self.calls: list[dict[str, str]] = []
        self.deltas = 0
        self.usage: dict[str, Any] = {}
        self.saved_at = 0.0

    async def answer(self, client: upstream.Client) -> None:
        row = self.row
        started = time.perf_counter()
        await self.frames.send(await database_sync_to_async(self._started)())
        try:
            if self.connection is None:
                raise upstream.UpstreamError("That server is not configured any more.")
            async for event in upstream.stream_chat(
                row.request,
                client=client,
                base_url=self.connection.base_url,
                api_key=self.connection.api_key,
            ):
                self._apply(event, started)
                if time.perf_counter() - self.saved_at > CHECKPOINT_EVERY:
                    self.saved_at = time.perf_counter()
                    await database_sync_to_async(_save)(
                        row, answer=row.answer, reasoning=row.reasoning
                    )
        except asyncio.CancelledError:
            await self._end(RunRow.Status.STOPPED, started, error="Stopped before the end.")
            raise
        except upstream.UpstreamError as exc:
            target = options.target_of(self.connection.dialect if self.connection else "")
            await self._end(RunRow.Status.FAILED, started, error=refusals.explain(exc, target))
        else:
            await self._end(RunRow.Status.DONE, started)

    def _started(self) -> str:
        _save(self.row, status=RunRow.Status.RUNNING)
        self.saved_at = time.perf_counter()
        # The row's cell, empty, with the elements its text is appended to.
        return render_to_string("evals/run.html#row_oob", {"row": self.row, "run": self.run})

    def _apply(self, event: upstream.Event, started: float) -> None:
        row = self.row
        if getattr(event, "choice", 0) != 0:
            return
        if isinstance(
            event, (upstream.ContentDelta, upstream.ReasoningDelta, upstream.ToolCallDelta)
        ):
            self.deltas += 1
            if row.first_token_ms is None:
                row.first_token_ms = (time.perf_counter() - started) * 1000
        if isinstance(event, upstream.ContentDelta):
            row.answer += event.text
            self.frames.add(f"row-{row.pk}-text", event.text)
        elif isinstance(event, upstream.ReasoningDelta):
            row.reasoning += event.text
            self.frames.add(f"row-{row.pk}-reasoning", event.text)
        elif isinstance(event, upstream.ToolCallDelta):
            while len(self.calls) <= event.index:
                self.calls.append({"id": "", "name": "", "arguments": ""})
            call = self.calls[event.index]
            call["id"] = event.id or call["id"]
            if event.name:
                call["name"] += event.name
                self.frames.add(f"row-{row.pk}-tools", f"{event.name}(")
            call["arguments"] += event.arguments
            self.frames.add(f"row-{row.pk}-tools", event.arguments)
        elif isinstance(event, upstream.Finish):
            row.finish_reason = event.reason
        elif isinstance(event, upstream.Usage):
            self.usage = event.usage

    async def _end(self, status: str, started: float, *, error: str = "") -> None:
        row = self.row
        row.total_ms = (time.perf_counter() - started) * 1000
        row.tool_calls = self.calls
        row.prompt_tokens = self.usage.get("prompt_tokens")
        # Without usage in the stream, vLLM's deltas are a token each.
        row.completion_tokens = self.usage.get("completion_tokens") or (self.deltas or None)
        row.status, row.error = status, error
        if status == RunRow.Status.DONE:
            answer = checks.Answer(
                text=row.answer,
                tool_calls=self.calls,
                finish_reason=row.finish_reason,
                completion_tokens=row.completion_tokens,
                request=row.request,
            )
            row.results = [
                result.as_data()
                for result in checks.evaluate_all(self.run.checks, row.case_id, answer)
            ]
        await self.frames.flush()
        html = await database_sync_to_async(self._saved)()
        await self.frames.send(html)

    def _saved(self) -> str:
        self.row.save()
        context = {"row": self.row, "run": self.run, **progress_of(self.run)}
        return render_to_string("evals/run.html#row_done", context)
