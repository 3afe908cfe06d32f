"""Export a conversation as JSON or Markdown, and import one."""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from playground import exports, imports
from playground.forms.exports import ImportForm
from playground.views.common import download, own_conversation


@require_GET
@login_required
def export_json(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = own_conversation(request, pk)
    text = json.dumps(exports.export_json(conversation), indent=2, ensure_ascii=False)
    return download(text, "application/json", exports.filename(conversation, "json"))


@require_GET
@login_required
def export_markdown(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = own_conversation(request, pk)
    text = exports.export_markdown(conversation)
    return download(text, "text/markdown", exports.filename(conversation, "md"))


@require_http_methods(["GET", "POST"])
@login_required
def import_conversation(request: HttpRequest) -> HttpResponse:
    """A file or pasted JSON becomes a new conversation, whole or not at all."""
    form = ImportForm(request.POST, request.FILES) if request.method == "POST" else ImportForm()
    error = ""
    if form.is_bound and form.is_valid():
        try:
            data = imports.parse(form.cleaned_data["json"])
            return redirect(imports.import_conversation(request.user, data))
        except imports.ImportRejected as exc:
            error = str(exc)
    status = 422 if form.is_bound else 200
    return render(request, "playground/import.html", {"form": form, "error": error}, status=status)
