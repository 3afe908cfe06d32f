"""Saved prompts: save a conversation as a prompt or its next version, list, compare versions,
restore one, start a conversation from one, duplicate, delete, export and import."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from playground import turns
from playground.views.common import download, own_conversation
from workbench import prompts
from workbench.models import Prompt, search_prompts

_PAGE = "workbench/prompts.html"


def _own_prompt(request: HttpRequest, pk: int) -> Prompt:
    return get_object_or_404(Prompt, pk=pk, owner=request.user)


@require_POST
@login_required
def save_prompt(request: HttpRequest, pk: int) -> HttpResponse:
    """The conversation's setup as a new prompt, or as the next version of one it saves into."""
    conversation = own_conversation(request, pk)
    chosen = request.POST.get("prompt", "new")
    note = request.POST.get("note", "").strip()
    try:
        turns.apply_settings(conversation, request.POST)
        setup = prompts.setup_of(conversation)
        if chosen == "new":
            name = request.POST.get("name", "").strip() or conversation.display_title
            prompt = Prompt.objects.create(owner=request.user, name=name[:200])
            prompt.conversations.add(conversation)
        else:
            prompt = get_object_or_404(conversation.prompts, pk=chosen, owner=request.user)
        version = prompt.add_version(setup, note)
        saved, error = f"Saved as {prompt.name} v{version.number}.", ""
    except (prompts.PromptRejected, turns.TurnRejected) as exc:
        prompt, saved, error = None, "", str(exc)
    if not request.headers.get("HX-Request"):
        if error:
            messages.error(request, error)
            return redirect(conversation)
        messages.success(request, saved)
        return redirect(prompt)
    context = {"conversation": conversation, "saved": saved, "error": error, "saved_prompt": prompt}
    return render(request, f"{_PAGE}#save_prompt", context, status=422 if error else 200)


@require_GET
@login_required
def prompt_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")
    context = {"prompts": search_prompts(request.user, query), "q": query}
    if request.headers.get("HX-Request"):
        return render(request, f"{_PAGE}#prompt_list", context)
    return render(request, _PAGE, context)


@require_GET
@login_required
def prompt_detail(request: HttpRequest, pk: int) -> HttpResponse:
    prompt = _own_prompt(request, pk)
    versions = list(prompt.versions.all())
    context = {"prompt": prompt, "versions": versions}
    return render(request, "workbench/prompt.html", context)


@require_GET
@login_required
def prompt_compare(request: HttpRequest, pk: int) -> HttpResponse:
    """Two versions side by side: changed words marked, settings and tools as tables."""
    prompt = _own_prompt(request, pk)
    old = get_object_or_404(prompt.versions, number=_number(request.GET.get("old")))
    new = get_object_or_404(prompt.versions, number=_number(request.GET.get("new")))
    context = {
        "prompt": prompt,
        "versions": list(prompt.versions.all()),
        "old": old,
        "new": new,
        "pairs": prompts.compare_messages(old.setup, new.setup),
        "settings_rows": prompts.compare_settings(old.setup, new.setup),
        "tool_rows": prompts.compare_tools(old.setup, new.setup),
    }
    return render(request, "workbench/compare.html", context)


def _number(value: str | None) -> int:
    return int(value) if value and value.isdigit() else 0


@require_POST
@login_required
def version_restore(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    """A new version with vN's setup: nothing in between is lost."""
    prompt = _own_prompt(request, pk)
    old = get_object_or_404(prompt.versions, number=number)
    version = prompt.add_version(old.setup, f"Restored from v{number}")
    messages.success(request, f"v{version.number} is v{number} again.")
    return redirect(prompt)


@require_POST
@login_required
def version_start(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    prompt = _own_prompt(request, pk)
    get_object_or_404(prompt.versions, number=number)
    try:
        return redirect(prompts.start_conversation(prompt, number))
    except prompts.PromptRejected as exc:
        messages.error(request, str(exc))
        return redirect(prompt)


@require_POST
@login_required
def prompt_duplicate(request: HttpRequest, pk: int) -> HttpResponse:
    copy = _own_prompt(request, pk).duplicate()
    messages.success(request, f"This is {copy.name}, with every version.")
    return redirect(copy)


@require_http_methods(["GET", "POST"])
@login_required
def prompt_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks for confirmation; conversations started from it stay."""
    prompt = _own_prompt(request, pk)
    if request.method == "GET":
        return render(request, "workbench/prompt_delete.html", {"prompt": prompt})
    prompt.delete()
    messages.success(request, f"Deleted {prompt.name} and its versions.")
    return redirect("prompt_list")


@require_GET
@login_required
def prompt_export(request: HttpRequest, pk: int) -> HttpResponse:
    prompt = _own_prompt(request, pk)
    text = json.dumps(prompts.export_prompt(prompt), indent=2, ensure_ascii=False)
    return download(text, "application/json", f"prompt-{prompt.pk}.json")


@require_http_methods(["GET", "POST"])
@login_required
def prompt_import(request: HttpRequest) -> HttpResponse:
    """A prompt export, pasted or as a file: every version checked, then all stored or none."""
    text, error = "", ""
    if request.method == "POST":
        upload = request.FILES.get("file")
        text = request.POST.get("text", "")
        try:
            if upload is not None:
                if upload.size > prompts.MAX_IMPORT_BYTES:
                    raise prompts.PromptRejected("The file is larger than 20 MB.")
                text = upload.read().decode("utf-8-sig")
            if not text.strip():
                raise prompts.PromptRejected("Choose a file or paste the JSON first.")
            prompt = prompts.import_prompt(request.user, text)
        except UnicodeDecodeError:
            error = "The file is not UTF-8 text."
        except prompts.PromptRejected as exc:
            error = str(exc)
        else:
            messages.success(request, f"Imported {prompt.name} with every version.")
            return redirect(prompt)
    context = {"text": text, "error": error}
    status = 422 if error else 200
    return render(request, "workbench/prompt_import.html", context, status=status)
