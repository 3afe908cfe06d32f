"""Runs: start one, watch it, stop it, retry its failed rows, share and export it, compare
runs side by side, and open any answer as a conversation."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from evals import runner, tables
from evals.forms import RunForm
from evals.models import Run, RunRow
from evals.views.cases import own_prompt, page_context
from playground import imports
from playground.views.common import download
from workbench.prompts import compare_texts

_RUN = "evals/run.html"
_COMPARE = "evals/compare.html"
MAX_COMPARED = 4


def _go(request: HttpRequest, to: Any) -> HttpResponse:
    """A redirect; over htmx (a form in a fragment the socket drew), htmx's full-page one."""
    if request.headers.get("HX-Request"):
        return HttpResponse(headers={"HX-Redirect": resolve_url(to)})
    return redirect(to)


def _own_run(request: HttpRequest, pk: int) -> Run:
    return get_object_or_404(
        Run.objects.select_related("version", "prompt"), pk=pk, owner=request.user
    )


def _start(request: HttpRequest, pk: int) -> tuple[Run | None, HttpResponse | None]:
    prompt = own_prompt(request, pk)
    versions = list(prompt.versions.all())
    form = RunForm(request.POST, versions=versions)
    if not form.is_valid():
        return None, render(
            request, "evals/cases.html", page_context(prompt, run_form=form), status=422
        )
    version = next(v for v in versions if v.number == form.cleaned_data["version"])
    try:
        run = runner.create_run(
            prompt,
            version,
            connection_slug=form.cleaned_data["connection"],
            model=form.cleaned_data["model"],
            repeat=form.cleaned_data["repeat"],
            concurrency=form.cleaned_data["concurrency"],
            overrides=form.overrides(),
        )
    except runner.RunRejected as exc:
        form.add_error(None, str(exc))
        return None, render(
            request, "evals/cases.html", page_context(prompt, run_form=form), status=422
        )
    return run, None


@require_POST
@login_required
async def run_start(request: HttpRequest, pk: int) -> HttpResponse:
    """A run of the chosen version over every row; it goes on in the background of the server."""
    run, refused = await sync_to_async(_start)(request, pk)
    if refused is not None:
        return refused
    runner.start(run.pk)
    return redirect(run)


def _run_context(run: Run, **extra: Any) -> dict[str, Any]:
    rows = list(run.rows.all())
    return {
        "run": run,
        "rows": rows,
        "names": _names(rows),
        "consistency": _consistency(rows) if run.repeat > 1 else {},
        **runner.progress_of(run),
        **extra,
    }


def _names(rows: list[RunRow]) -> list[str]:
    found: dict[str, None] = {}
    for row in rows:
        for name in row.values:
            found.setdefault(name)
    return list(found)


def _consistency(rows: list[RunRow]) -> dict[int, str]:
    """Per test case with several tries: how many distinct answers, how many pass."""
    by_case: dict[int, list[RunRow]] = {}
    for row in rows:
        by_case.setdefault(row.position, []).append(row)
    said = {}
    for position, tries in by_case.items():
        answered = [r for r in tries if r.status == RunRow.Status.DONE]
        distinct = len({r.answer.strip() for r in answered})
        passing = sum(1 for r in answered if r.passed)
        checked = sum(1 for r in answered if r.passed is not None)
        text = f"{distinct} distinct answer{'s' if distinct != 1 else ''} of {len(answered)}"
        if checked:
            text += f" · {passing} of {checked} pass"
        said[position] = text
    return said


@require_GET
@login_required
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, _RUN, _run_context(_own_run(request, pk)))


@require_POST
@login_required
async def run_stop(request: HttpRequest, pk: int) -> HttpResponse:
    run = await sync_to_async(_own_run)(request, pk)
    await runner.stop(run.pk)
    return _go(request, run)


@require_POST
@login_required
async def run_retry(request: HttpRequest, pk: int) -> HttpResponse:
    """Only the rows without an answer (failed or stopped) are sent again."""
    run = await sync_to_async(_own_run)(request, pk)
    if run.status == Run.Status.RUNNING:  # here or in another server process
        return _go(request, run)
    if await sync_to_async(runner.rows_to_retry)(run):
        runner.start(run.pk)
    return _go(request, run)


@require_POST
@login_required
def run_share(request: HttpRequest, pk: int) -> HttpResponse:
    run = _own_run(request, pk)
    run.share()
    messages.success(request, "Anyone with the link below can see this run (read only).")
    return redirect(run)


@require_POST
@login_required
def run_unshare(request: HttpRequest, pk: int) -> HttpResponse:
    run = _own_run(request, pk)
    run.share_token = None
    run.save(update_fields=["share_token"])
    messages.success(request, "The share link no longer works.")
    return redirect(run)


def _record(row: RunRow) -> dict[str, Any]:
    return {
        "row": row.position + 1,
        "attempt": row.attempt,
        "values": row.values,
        "request": row.request,
        "status": row.status,
        "answer": {
            "content": row.answer,
            "reasoning_content": row.reasoning or None,
            "tool_calls": row.tool_calls or None,
            "finish_reason": row.finish_reason or None,
        },
        "error": row.error or None,
        "usage": {"prompt_tokens": row.prompt_tokens, "completion_tokens": row.completion_tokens},
        "first_token_ms": row.first_token_ms,
        "total_ms": row.total_ms,
        "checks": row.results,
    }


@require_GET
@login_required
def run_export(request: HttpRequest, pk: int) -> HttpResponse:
    """One line of JSON per request: what was sent and what came back."""
    run = _own_run(request, pk)
    text = tables.jsonl_of([_record(row) for row in run.rows.all()])
    return download(
        text, "application/jsonl", f"{run.prompt.name} v{run.version.number} run {run.pk}.jsonl"
    )


@require_POST
@login_required
def row_continue(request: HttpRequest, pk: int) -> HttpResponse:
    """The row's request and answer as a new conversation, its variables filled as the row's."""
    row = get_object_or_404(
        RunRow.objects.select_related("run__version"), pk=pk, run__owner=request.user
    )
    setup = row.run.version.setup
    meta = dict(setup.get("hexplay") or {})
    written = runner.prompt_messages(setup)
    answer: dict[str, Any] = {"role": "assistant", "content": row.answer}
    if row.tool_calls:
        answer["tool_calls"] = [
            {
                "id": c["id"] or f"call{i}",
                "type": "function",
                "function": {"name": c["name"], "arguments": c["arguments"]},
            }
            for i, c in enumerate(row.tool_calls)
        ]
    meta.update(
        connection=row.run.connection,
        variables={**(meta.get("variables") or {}), **row.values},
        messages=(meta.get("messages") or [])[: len(written)] + [{}],
        title=f"{row.run.prompt.name} · row {row.position + 1}",
    )
    data = {**setup, "model": row.run.model, "messages": [*written, answer], "hexplay": meta}
    try:
        conversation = imports.import_conversation(request.user, data)
    except imports.ImportRejected as exc:
        messages.error(request, f"This answer cannot be opened as a conversation: {exc}")
        return _go(request, row.run)
    return _go(request, conversation)


# ---- Side by side -------------------------------------------------------------------------


@dataclass
class Column:
    run: Run
    pass_rate: str
    first_token: str
    speed: str


@dataclass
class Line:
    """One test case (and try) across the runs compared."""

    position: int
    attempt: int
    values: dict[str, str]
    cells: list[RunRow | None]
    different: bool
    diff: tuple[list, list] | None


def _columns_and_lines(runs: list[Run]) -> tuple[list[Column], list[Line]]:
    columns = []
    keyed: dict[tuple[Any, int], dict[int, RunRow]] = {}
    order: list[tuple[Any, int]] = []
    for index, run in enumerate(runs):
        rows = list(run.rows.all())
        for row in rows:
            key = (row.case_id or f"p{row.position}", row.attempt)
            if key not in keyed:
                keyed[key] = {}
                order.append(key)
            keyed[key][index] = row
        columns.append(_column(run, rows))
    lines = []
    for key in order:
        cells = [keyed[key].get(i) for i in range(len(runs))]
        first = next(c for c in cells if c is not None)
        texts = [c.answer.strip() if c and c.status == RunRow.Status.DONE else None for c in cells]
        different = len(set(texts)) > 1
        diff = None
        if different and len(runs) == 2 and None not in texts:
            diff = compare_texts(texts[0], texts[1])
        lines.append(Line(first.position, first.attempt, first.values, cells, different, diff))
    lines.sort(key=lambda line: (line.position, line.attempt))
    return columns, lines


def _column(run: Run, rows: list[RunRow]) -> Column:
    checked = [row for row in rows if row.passed is not None]
    passing = sum(1 for row in checked if row.passed)
    rate = (
        f"{passing} of {len(checked)} pass ({round(100 * passing / len(checked))}%)"
        if checked
        else "no checks"
    )
    firsts = [row.first_token_ms for row in rows if row.first_token_ms is not None]
    speeds = [row.tokens_per_second for row in rows if row.tokens_per_second]
    return Column(
        run,
        rate,
        f"{statistics.median(firsts):.0f} ms" if firsts else "–",
        f"{statistics.median(speeds):.1f} tokens/s" if speeds else "–",
    )


def _compare_context(runs: list[Run], different: bool, **extra: Any) -> dict[str, Any]:
    columns, lines = _columns_and_lines(runs)
    shown = [line for line in lines if line.different] if different else lines
    return {
        "columns": columns,
        "lines": shown,
        "all_lines": len(lines),
        "different_lines": sum(1 for line in lines if line.different),
        "different": different,
        "names": _names([c for line in lines for c in line.cells if c is not None]),
        **extra,
    }


def _chosen_runs(request: HttpRequest, ids: list[str]) -> list[Run]:
    wanted = [int(i) for i in ids if i.isdigit()][:MAX_COMPARED]
    found = {
        r.pk: r
        for r in Run.objects.select_related("version", "prompt").filter(
            pk__in=wanted, owner=request.user
        )
    }
    if len(found) != len(set(wanted)):
        raise Http404("No such run")
    # Oldest first: the word diff's "first run" is the earlier one.
    return sorted(found.values(), key=lambda run: run.pk)


@require_GET
@login_required
def run_compare(request: HttpRequest) -> HttpResponse:
    runs = _chosen_runs(request, request.GET.getlist("run"))
    if len(runs) < 2:
        messages.error(request, "Tick two runs or more to compare them.")
        prompt = runs[0].prompt if runs else None
        return redirect(
            reverse("test_cases", args=[prompt.pk]) + "#runs" if prompt else "prompt_list"
        )
    different = request.GET.get("different") == "1"
    query = "&".join(f"run={run.pk}" for run in runs)
    return render(request, _COMPARE, _compare_context(runs, different, query=query))


@require_POST
@login_required
def run_compare_share(request: HttpRequest) -> HttpResponse:
    """Every run compared shared, and the comparison's own read-only link."""
    runs = _chosen_runs(request, request.POST.getlist("run"))
    if len(runs) < 2:
        raise Http404("Nothing to compare")
    tokens = [run.share() for run in runs]
    messages.success(request, "Anyone with this link can see the comparison (read only).")
    return redirect(reverse("shared_compare") + "?" + "&".join(f"t={t}" for t in tokens))


# ---- Read-only links ----------------------------------------------------------------------


def _shared_run(token: str) -> Run:
    return get_object_or_404(Run.objects.select_related("version", "prompt"), share_token=token)


@require_GET
def shared_run(request: HttpRequest, token: str) -> HttpResponse:
    run = _shared_run(token)
    return render(request, _RUN, _run_context(run, shared=True))


@require_GET
def shared_compare(request: HttpRequest) -> HttpResponse:
    tokens = request.GET.getlist("t")[:MAX_COMPARED]
    runs = sorted((_shared_run(token) for token in tokens if token), key=lambda run: run.pk)
    if len(runs) < 2:
        raise Http404("Nothing to compare")
    different = request.GET.get("different") == "1"
    query = "&".join(f"t={t}" for t in tokens)
    return render(request, _COMPARE, _compare_context(runs, different, shared=True, query=query))
