"""The tool library: list, edit, the parameters editor, duplicate, delete, import, export."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from playground import tools
from playground.forms.schemas import ParametersEditor
from playground.forms.tools import ToolDefinitionForm, ToolImportForm
from playground.models import ToolDefinition, import_tools
from playground.views.common import download, own_tool

_TOOLS = "playground/tools.html"
_TOOL_FORM = "playground/tool_form.html"


def _tool_list_page(
    request: HttpRequest, import_form: ToolImportForm | None = None, **extra
) -> HttpResponse:
    context = {
        "tools": request.user.tool_definitions.all(),
        "import_form": import_form or ToolImportForm(),
        **extra,
    }
    return render(request, _TOOLS, context, status=422 if extra.get("import_error") else 200)


@require_GET
@login_required
def tool_list(request: HttpRequest) -> HttpResponse:
    return _tool_list_page(request)


@require_http_methods(["GET", "POST"])
@login_required
def tool_new(request: HttpRequest) -> HttpResponse:
    return _tool_page(request, ToolDefinition(owner=request.user))


@require_http_methods(["GET", "POST"])
@login_required
def tool_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _tool_page(request, own_tool(request, pk))


def _tool_page(request: HttpRequest, tool: ToolDefinition) -> HttpResponse:
    """Show, redraw (add or remove a property, Update, switch sides) or save a tool."""
    if request.method == "GET":
        form = ToolDefinitionForm(instance=tool)
        editor = ParametersEditor.for_schema(tool.parameters)
        return render(request, _TOOL_FORM, {"form": form, "editor": editor, "tool": tool})
    editor = ParametersEditor.from_post(request.POST)
    if not editor.saving:
        form = ToolDefinitionForm.redrawn(request.POST, instance=tool)
        return render(request, _TOOL_FORM, {"form": form, "editor": editor, "tool": tool})
    form = ToolDefinitionForm(request.POST, instance=tool)
    if form.is_valid() and editor.is_valid():
        tool = form.save(commit=False)
        tool.parameters = editor.schema
        try:
            tool.save()
        except IntegrityError:  # the same name saved meanwhile from another tab
            form.add_error("name", "You already have a tool with this name.")
        else:
            messages.success(request, f"Saved {tool.name}.")
            return redirect("tool_list")
    context = {"form": form, "editor": editor, "tool": tool, "not_saved": True}
    return render(request, _TOOL_FORM, context, status=422)


@require_POST
@login_required
def tool_preview(request: HttpRequest) -> HttpResponse:
    """The parameters editor as the person edits it: the other side redrawn, problems shown."""
    editor = ParametersEditor.from_post(request.POST)
    changed = request.POST.get("changed", "")
    context = {"editor": editor, "changed": changed}
    if changed in ("rows", "json"):
        # Typing: everything but the field being typed in comes back, out of band.
        return render(request, f"{_TOOL_FORM}#parameters_synced", context)
    return render(request, f"{_TOOL_FORM}#parameters", context)


@require_POST
@login_required
def tool_duplicate(request: HttpRequest, pk: int) -> HttpResponse:
    copy = own_tool(request, pk).duplicate()
    messages.success(request, f"This is a copy named {copy.name}: rename it and save.")
    return redirect(copy)


@require_http_methods(["GET", "POST"])
@login_required
def tool_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks for confirmation (the page without JavaScript); htmx asks with hx-confirm."""
    tool = own_tool(request, pk)
    if request.method == "GET":
        return render(request, "playground/tool_delete.html", {"tool": tool})
    tool.delete()
    status = f"Deleted {tool.name}."
    if request.headers.get("HX-Request"):
        context = {"tools": request.user.tool_definitions.all(), "status": status}
        return render(request, f"{_TOOLS}#tool_list", context)
    messages.success(request, status)
    return redirect("tool_list")


@require_GET
@login_required
def tool_export_all(request: HttpRequest) -> HttpResponse:
    text = tools.tools_json(request.user.tool_definitions.all())
    return download(text, "application/json", "hexplay-tools.json")


@require_GET
@login_required
def tool_export(request: HttpRequest, pk: int) -> HttpResponse:
    tool = own_tool(request, pk)
    return download(tools.tools_json([tool]), "application/json", f"{tool.name}.json")


@require_http_methods(["GET", "POST"])
@login_required
def tool_import(request: HttpRequest) -> HttpResponse:
    """Pasted or uploaded OpenAI `tools` JSON: every tool checked first, then all stored or none."""
    if request.method == "GET":
        return _tool_list_page(request, import_open=True)
    form = ToolImportForm(request.POST, request.FILES)
    if not form.is_valid():
        error = " ".join(form.non_field_errors()) or "Check the fields below."
        return _tool_list_page(request, form, import_open=True, import_error=error)
    try:
        specs = tools.parse_tools(form.cleaned_data["json"])
        report = import_tools(request.user, specs, on_clash=form.cleaned_data["on_clash"])
    except tools.ToolsRejected as exc:
        return _tool_list_page(request, form, import_open=True, import_error=str(exc))
    for line in report:
        messages.success(request, line)
    return redirect("tool_list")
