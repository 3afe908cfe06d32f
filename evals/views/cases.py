"""A prompt's test cases: the table (rows added, edited, moved, deleted, pasted, imported and
exported), its checks, and the form that starts a run."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from evals import tables
from evals.forms import CheckForm, ImportForm, PasteForm, RunForm
from evals.models import Check, TestCase
from playground import variables
from playground.views.common import download
from workbench.models import Prompt

_PAGE = "evals/cases.html"


def own_prompt(request: HttpRequest, pk: int) -> Prompt:
    return get_object_or_404(Prompt, pk=pk, owner=request.user)


def _own_case(request: HttpRequest, pk: int) -> TestCase:
    return get_object_or_404(TestCase, pk=pk, prompt__owner=request.user)


def table_context(prompt: Prompt, **extra: object) -> dict:
    version = tables.latest_version(prompt)
    names = tables.variables_of(version)
    cases = list(prompt.test_cases.all())
    return {
        "prompt": prompt,
        "names": names,
        "cases": [(case, [(n, case.values.get(n, "")) for n in names]) for case in cases],
        "case_count": len(cases),
        **extra,
    }


def page_context(prompt: Prompt, **extra: object) -> dict:
    versions = list(prompt.versions.all())
    latest = versions[-1] if versions else None
    run_form = extra.pop("run_form", None) or RunForm(
        versions=versions,
        initial={
            "version": latest.number if latest else None,
            "connection": ((latest.setup.get("hexplay") or {}).get("connection") if latest else ""),
            "concurrency": settings.EVAL_CONCURRENCY,
        },
    )
    return {
        **table_context(prompt),
        "check_form": extra.pop("check_form", None) or CheckForm(cases=prompt.test_cases.all()),
        "checks": prompt.checks.select_related("case"),
        "paste_form": extra.pop("paste_form", None) or PasteForm(),
        "import_form": extra.pop("import_form", None) or ImportForm(),
        "run_form": run_form,
        "runs": prompt.runs.select_related("version")[:50],
        **extra,
    }


def _table(
    request: HttpRequest, prompt: Prompt, status: int = 200, **extra: object
) -> HttpResponse:
    """After a change: the table over htmx, else the page again."""
    if request.headers.get("HX-Request"):
        context = table_context(prompt, oob=True, **extra)
        return render(request, f"{_PAGE}#table", context, status=status)
    if extra.get("table_error"):
        messages.error(request, str(extra["table_error"]))
    return redirect(reverse("test_cases", args=[prompt.pk]) + "#cases")


@require_GET
@login_required
def test_cases(request: HttpRequest, pk: int) -> HttpResponse:
    prompt = own_prompt(request, pk)
    return render(request, _PAGE, page_context(prompt))


@require_POST
@login_required
def case_add(request: HttpRequest, pk: int) -> HttpResponse:
    prompt = own_prompt(request, pk)
    try:
        tables.add_rows(prompt, [{}])
    except tables.TableRejected as exc:
        return _table(request, prompt, 422, table_error=str(exc))
    return _table(request, prompt, focus_last=True)


@require_POST
@login_required
def case_paste(request: HttpRequest, pk: int) -> HttpResponse:
    prompt = own_prompt(request, pk)
    form = PasteForm(request.POST)
    names = tables.variables_of(tables.latest_version(prompt))
    try:
        if not form.is_valid():
            raise tables.TableRejected("Paste cells from a spreadsheet first.")
        added = tables.add_rows(prompt, tables.read_pasted(form.cleaned_data["rows"], names))
    except tables.TableRejected as exc:
        # The pasted text stays in the box, to be fixed and added again.
        return _table(
            request, prompt, 422, table_error=str(exc), pasted=request.POST.get("rows", "")
        )
    return _table(
        request, prompt, table_note=f"Added {len(added)} row{'s' if len(added) != 1 else ''}."
    )


@require_POST
@login_required
def case_import(request: HttpRequest, pk: int) -> HttpResponse:
    prompt = own_prompt(request, pk)
    form = ImportForm(request.POST, request.FILES)
    names = tables.variables_of(tables.latest_version(prompt))
    try:
        if not form.is_valid():
            raise tables.TableRejected(" ".join(form.errors.get("file", ["Choose a file first."])))
        upload = form.cleaned_data["file"]
        try:
            text = upload.read().decode("utf-8")
        except UnicodeDecodeError:
            raise tables.TableRejected(
                "The file is not UTF-8 text: save it as CSV UTF-8."
            ) from None
        added = tables.add_rows(prompt, tables.read_file(upload.name, text, names))
    except tables.TableRejected as exc:
        messages.error(request, f"Nothing was imported. {exc}")
    else:
        messages.success(request, f"Imported {len(added)} row{'s' if len(added) != 1 else ''}.")
    return redirect(reverse("test_cases", args=[prompt.pk]) + "#cases")


@require_GET
@login_required
def case_export(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    prompt = own_prompt(request, pk)
    names = tables.variables_of(tables.latest_version(prompt))
    cases = list(prompt.test_cases.all())
    filename = f"{prompt.name or 'test-cases'} test cases.{fmt}"
    if fmt == "csv":
        return download(tables.as_csv(cases, names), "text/csv", filename)
    return download(tables.as_jsonl(cases, names), "application/jsonl", filename)


@require_POST
@login_required
def case_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """One row's cells, saved as they change (every var-<name> field posted)."""
    case = _own_case(request, pk)
    case.values = {**case.values, **variables.posted(request.POST)}
    case.save(update_fields=["values"])
    if request.headers.get("HX-Request"):
        return HttpResponse(status=204)
    return redirect(reverse("test_cases", args=[case.prompt_id]) + "#cases")


@require_POST
@login_required
def case_delete(request: HttpRequest, pk: int) -> HttpResponse:
    case = _own_case(request, pk)
    prompt = case.prompt
    case.delete()
    return _table(request, prompt, table_note="Row deleted.")


@require_POST
@login_required
@transaction.atomic
def case_move(request: HttpRequest, pk: int) -> HttpResponse:
    """The row one place up or down; positions are renumbered 0, 1, 2… as shown."""
    case = _own_case(request, pk)
    prompt = case.prompt
    order = list(prompt.test_cases.select_for_update())
    index = order.index(case)
    other = index - 1 if request.POST.get("direction") == "up" else index + 1
    if 0 <= other < len(order):
        order[index], order[other] = order[other], order[index]
    for position, row in enumerate(order):
        row.position = position
    TestCase.objects.bulk_update(order, ["position"])
    return _table(request, prompt, moved=case.pk)


@require_POST
@login_required
def check_add(request: HttpRequest, pk: int) -> HttpResponse:
    prompt = own_prompt(request, pk)
    form = CheckForm(request.POST, cases=prompt.test_cases.all())
    if form.is_valid():
        check = form.save(commit=False)
        check.prompt = prompt
        check.save()
        messages.success(request, f"Check added: the answer {check.describe()}.")
        return redirect(reverse("test_cases", args=[prompt.pk]) + "#checks")
    return render(request, _PAGE, page_context(prompt, check_form=form), status=422)


@require_POST
@login_required
def check_delete(request: HttpRequest, pk: int) -> HttpResponse:
    check = get_object_or_404(Check, pk=pk, prompt__owner=request.user)
    check.delete()
    messages.success(request, f"Check removed: {check.describe()}.")
    return redirect(reverse("test_cases", args=[check.prompt_id]) + "#checks")
