"""Pages and htmx endpoints of the playground."""

from __future__ import annotations

import json

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.http import content_disposition_header, url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from playground import curl, exports, options, sharing, tools, turns, upstream
from playground.connections import (
    NoModel,
    all_connections,
    default_connection,
    get_connection,
    listed_models,
    model_for,
)
from playground.forms import (
    HandMessageForm,
    ImportForm,
    ParametersEditor,
    RequestOptionsForm,
    ToolDefinitionForm,
    ToolImportForm,
)
from playground.models import (
    Conversation,
    EditRefused,
    Message,
    Share,
    ToolDefinition,
    import_tools,
    latest,
    search_conversations,
    tool_turns_problem,
)
from playground.stream import build_body, generate

_PAGE = "playground/conversation.html"


def _own_conversation(request: HttpRequest, pk: int) -> Conversation:
    conversation = turns.own_conversation(request.user, pk)
    if conversation is None:
        raise Http404("No such conversation")
    return conversation


def _new_conversation_for(user) -> Conversation:
    """A new conversation on the connection and model the person used last.

    One never used (no message, title, system prompt, option or tool) is reused, so "New
    conversation" does not pile up empty ones in the sidebar.
    """
    unused = Conversation.objects.filter(
        owner=user, title="", system_prompt="", options={}, messages__isnull=True, tools=None
    ).first()
    if unused is not None:
        unused.save(update_fields=["updated"])  # to the top of the list
        return unused
    last = Conversation.objects.filter(owner=user).first()
    if last is not None and get_connection(last.connection) is not None:
        return Conversation.objects.create(owner=user, connection=last.connection, model=last.model)
    connection = default_connection()
    return Conversation.objects.create(
        owner=user,
        connection=connection.slug if connection else "",
        model=connection.default_model if connection else "",
    )


def _settings_context(conversation: Conversation) -> dict:
    connection = get_connection(conversation.connection)
    return {
        "conversation": conversation,
        "connections": all_connections(),
        "connection": connection,
        "models": [conversation.model] if conversation.model else [],
        "selected": conversation.model,
    }


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    latest = Conversation.objects.filter(owner=request.user).first()
    if latest is None:
        latest = _new_conversation_for(request.user)
    return redirect(latest)


@require_POST
@login_required
def new_conversation(request: HttpRequest) -> HttpResponse:
    return redirect(_new_conversation_for(request.user))


@require_GET
@login_required
def conversation(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _own_conversation(request, pk)
    context = (
        _settings_context(conversation)
        | _options_context(conversation)
        | {
            **(
                {"messages": conversation.path(), "earlier": 0}
                if request.GET.get("all")
                else latest(conversation.path())
            ),
            "conversations": _sidebar(request),
            "q": request.GET.get("q", ""),
            # Without JavaScript the editor of one message is opened by reloading with ?hand=id.
            "hand_open": turns.as_int(request.GET.get("hand")),
            "socket_path": f"/ws/conversations/{conversation.pk}/",
            "busy": False,
        }
    )
    return render(request, _PAGE, context)


@require_POST
@login_required
def conversation_settings(request: HttpRequest, pk: int) -> HttpResponse:
    """Autosave of the settings panel; a new connection starts on its own default model."""
    conversation = _own_conversation(request, pk)
    data = request.POST.copy()
    note = ""
    if "connection" in data and data["connection"] != conversation.connection:
        connection = get_connection(data["connection"])
        if connection is not None and connection.slug == data["connection"]:
            try:
                data["model"], note = model_for(connection)
            except NoModel as exc:
                return HttpResponse(str(exc), status=422, content_type="text/plain")
    try:
        turns.apply_settings(conversation, data)
    except turns.TurnRejected as exc:
        return HttpResponse(str(exc), status=422, content_type="text/plain")
    if not request.headers.get("HX-Request"):
        if note:
            messages.info(request, note)
        return redirect(conversation)
    if "connection" in data:
        context = _settings_context(conversation) | {"model_note": note}
        return render(request, f"{_PAGE}#model_settings", context)
    return HttpResponse("Saved.")


@require_POST
@login_required
def show_version(request: HttpRequest, pk: int, message_pk: int) -> HttpResponse:
    """Switch to another version of a message (and the newest messages that followed it)."""
    conversation = _own_conversation(request, pk)
    message = get_object_or_404(conversation.messages, pk=message_pk)
    conversation.show_version(message)
    if not request.headers.get("HX-Request"):
        return redirect(conversation)
    return render(request, f"{_PAGE}#messages_list", latest(conversation.path()))


@require_GET
@login_required
async def model_picker(request: HttpRequest) -> HttpResponse:
    connection = await sync_to_async(get_connection)(request.GET.get("connection", ""))
    if connection is None:
        return render(request, f"{_PAGE}#model_picker", {"models": [], "warning": "No connection."})
    found = await listed_models(connection)
    context = {
        "models": found.models,
        "warning": found.warning,
        "selected": request.GET.get("selected") or connection.default_model,
    }
    return render(request, f"{_PAGE}#model_picker", context)


@require_POST
@login_required
async def send_message(request: HttpRequest, pk: int) -> HttpResponse:
    """The composer without JavaScript: save the message, wait for the whole answer, redirect."""
    user = await request.auser()
    conversation = await sync_to_async(turns.own_conversation)(user, pk)
    if conversation is None:
        raise Http404("No such conversation")
    try:
        _, prepared = await sync_to_async(turns.send_and_prepare)(conversation, request.POST.dict())
    except turns.TurnRejected as exc:
        # Nothing was saved: the page says why and gives back what was typed.
        typed = request.POST.get("message", "")
        page = {"conversation": conversation, "text": str(exc), "typed": typed}
        return render(request, "playground/refused.html", page, status=422)
    if isinstance(prepared, turns.TurnRejected):
        page = {"conversation": conversation, "text": f"Your message is saved. {prepared}"}
        return render(request, "playground/refused.html", page, status=422)
    connection, message, body = prepared

    async def ignore(_piece) -> None:
        return None

    async with upstream.new_client(
        connect_timeout=settings.UPSTREAM_CONNECT_TIMEOUT,
        read_timeout=settings.UPSTREAM_READ_TIMEOUT,
    ) as client:
        await generate(message, body, client=client, connection=connection, on_piece=ignore)
    return redirect(conversation)


# ---- Share links -----------------------------------------------------------------------------


def _back(request: HttpRequest, default: Conversation) -> HttpResponse:
    """After a plain form: back to the page that sent it (the list of shares), else `default`."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(default)


def _share_panel(request: HttpRequest, conversation: Conversation) -> HttpResponse:
    share = Share.objects.filter(conversation=conversation).first()
    context = {"conversation": conversation, "share": share}
    return render(request, "playground/shares.html#share_panel", context)


@require_POST
@login_required
def share_conversation(request: HttpRequest, pk: int) -> HttpResponse:
    """Create the link, or update its snapshot to the conversation as it is now (same link)."""
    conversation = _own_conversation(request, pk)
    sharing.share(conversation)
    if request.headers.get("HX-Request"):
        return _share_panel(request, conversation)
    return _back(request, conversation)


@require_POST
@login_required
def revoke_share(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _own_conversation(request, pk)
    sharing.revoke(conversation)
    if request.headers.get("HX-Request"):
        return _share_panel(request, conversation)
    return _back(request, conversation)


@require_GET
@login_required
def shares(request: HttpRequest) -> HttpResponse:
    """The person's active share links."""
    found = (
        Share.objects.filter(conversation__owner=request.user)
        .select_related("conversation")
        .defer("snapshot")  # can be large; the list shows the conversation's own title
    )
    return render(request, "playground/shares.html", {"shares": found})


@require_GET
def shared(request: HttpRequest, token: str) -> HttpResponse:
    """A share link: read-only, for anyone who has it, logged in or not."""
    share = get_object_or_404(Share, token=token)
    context = {
        "share": share,
        "snapshot": share.snapshot,
        "messages": sharing.shared_messages(share),
        "request_json": sharing.request_json(share),
    }
    response = render(request, "playground/share.html", context)
    response["X-Robots-Tag"] = "noindex"
    # The token is the key: no Referer takes it to sites the content links to, and no cache
    # keeps the page once the owner revokes it. same-origin, not no-referrer: with no-referrer
    # Chromium posts "Open a copy" with `Origin: null`, which Django's CSRF check refuses.
    response["Referrer-Policy"] = "same-origin"
    add_never_cache_headers(response)
    return response


@require_POST
@login_required
def copy_shared(request: HttpRequest, token: str) -> HttpResponse:
    """Open a copy: the snapshot becomes a new conversation of the viewer's own."""
    share = get_object_or_404(Share, token=token)
    return redirect(sharing.open_copy(share, request.user))


# ---- History: the sidebar, rename, duplicate, delete -----------------------------------------


def _sidebar(request: HttpRequest):
    """Newest first; older ones are found by searching."""
    found = search_conversations(request.user, request.GET.get("q", ""))
    return found.only("pk", "title")[:200]


@require_GET
@login_required
def conversation_list(request: HttpRequest) -> HttpResponse:
    """The sidebar's list, filtered as the person types in its search box."""
    current = request.GET.get("current", "")
    context = {
        "conversations": _sidebar(request),
        "conversation": turns.own_conversation(request.user, int(current))
        if current.isdigit()
        else None,
        "q": request.GET.get("q", ""),
    }
    return render(request, f"{_PAGE}#conversation_list", context)


@require_POST
@login_required
def rename_conversation(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _own_conversation(request, pk)
    conversation.rename(request.POST.get("title", "")[:200])
    if request.headers.get("HX-Request"):
        return render(request, f"{_PAGE}#renamed", {"conversation": conversation})
    return redirect(conversation)


@require_POST
@login_required
def duplicate_conversation(request: HttpRequest, pk: int) -> HttpResponse:
    return redirect(_own_conversation(request, pk).duplicate())


@require_POST
@login_required
def delete_conversation(request: HttpRequest, pk: int) -> HttpResponse:
    """The page asked for confirmation first; its share link goes with it."""
    _own_conversation(request, pk).delete()
    return redirect("home")


# ---- Export and import -----------------------------------------------------------------------


def _download(text: str, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type=f"{content_type}; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


@require_GET
@login_required
def export_json(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _own_conversation(request, pk)
    text = json.dumps(exports.export_json(conversation), indent=2, ensure_ascii=False)
    return _download(text, "application/json", exports.filename(conversation, "json"))


@require_GET
@login_required
def export_markdown(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _own_conversation(request, pk)
    text = exports.export_markdown(conversation)
    return _download(text, "text/markdown", exports.filename(conversation, "md"))


@require_http_methods(["GET", "POST"])
@login_required
def import_conversation(request: HttpRequest) -> HttpResponse:
    """A file or pasted JSON becomes a new conversation, whole or not at all."""
    form = ImportForm(request.POST, request.FILES) if request.method == "POST" else ImportForm()
    error = ""
    if form.is_bound and form.is_valid():
        try:
            data = exports.parse(form.cleaned_data["json"])
            return redirect(exports.import_conversation(request.user, data))
        except exports.ImportRejected as exc:
            error = str(exc)
    status = 422 if form.is_bound else 200
    return render(request, "playground/import.html", {"form": form, "error": error}, status=status)


# ---- Messages set by hand (no model is called) -----------------------------------------------


def _own_message(request: HttpRequest, pk: int, message_pk: int) -> tuple[Conversation, Message]:
    conversation = _own_conversation(request, pk)
    return conversation, get_object_or_404(conversation.messages, pk=message_pk)


def _messages_changed(request: HttpRequest, conversation: Conversation) -> HttpResponse:
    if not request.headers.get("HX-Request"):
        return redirect(conversation)
    return render(request, f"{_PAGE}#messages_list", latest(conversation.path()))


def _refused(
    request: HttpRequest,
    conversation: Conversation,
    text: str,
    *,
    partial: str = "notice",
    target: str = "#notice",
    **context,
) -> HttpResponse:
    """Say why nothing changed: next to the control over htmx, on a page of its own without."""
    if not request.headers.get("HX-Request"):
        page = {"conversation": conversation, "text": text}
        return render(request, "playground/refused.html", page, status=422)
    context |= {"conversation": conversation, "text": text, "error": text}
    response = render(request, f"{_PAGE}#{partial}", context)
    # 200, so htmx swaps it; the retarget puts it where the person is looking.
    response["HX-Retarget"] = target
    response["HX-Reswap"] = "outerHTML"
    return response


@require_POST
@login_required
def add_message(request: HttpRequest, pk: int) -> HttpResponse:
    """Add a message of any role at the end of the branch on screen."""
    conversation = _own_conversation(request, pk)
    form = HandMessageForm(request.POST, target=_target_of(conversation))
    try:
        if not form.is_valid():
            raise EditRefused(form.first_error())
        conversation.add_by_hand(role=form.cleaned_data["role"], **form.message_fields())
    except EditRefused as exc:
        return _refused(
            request,
            conversation,
            str(exc),
            partial="add_message",
            target="#add-message",
            draft=request.POST,
            open=True,
        )
    if not request.headers.get("HX-Request"):
        return redirect(conversation)
    # The form comes back empty and open for the next one; the list follows out of band.
    context = {"conversation": conversation, "open": True} | latest(conversation.path())
    return render(request, f"{_PAGE}#message_added", context)


@require_GET
@login_required
def earlier_messages(request: HttpRequest, pk: int) -> HttpResponse:
    """The hundred messages before `before` on screen, for "Show earlier messages"."""
    conversation = _own_conversation(request, pk)
    context = latest(conversation.path(), before=turns.as_int(request.GET.get("before")))
    return render(request, f"{_PAGE}#earlier_messages", context)


@require_GET
@login_required
def hand_edit_form(request: HttpRequest, pk: int, message_pk: int) -> HttpResponse:
    """The editor of one message on screen, fetched when the person opens it."""
    conversation = _own_conversation(request, pk)
    path = conversation.path()
    message = next((m for m in path if m.pk == message_pk), None)
    if message is None:
        raise Http404("No such message on screen")
    if not request.headers.get("HX-Request"):
        return redirect(f"{conversation.get_absolute_url()}?hand={message.pk}#{message.dom_id}")
    context = {"message": message, "opened": True, "is_first": message is path[0]}
    return render(request, f"{_PAGE}#hand_edit", context)


@require_POST
@login_required
def edit_message(request: HttpRequest, pk: int, message_pk: int) -> HttpResponse:
    """Change a message in place; its role stays what it is."""
    conversation, message = _own_message(request, pk, message_pk)
    form = HandMessageForm(
        request.POST.dict() | {"role": message.role}, target=_target_of(conversation)
    )
    try:
        if not form.is_valid():
            raise EditRefused(form.first_error())
        conversation.edit_by_hand(message, **form.message_fields())
    except EditRefused as exc:
        return _refused(
            request,
            conversation,
            str(exc),
            partial="hand_edit",
            target=f"#{message.dom_id}-hand",
            draft=request.POST,
            message=message,
        )
    return _messages_changed(request, conversation)


@require_POST
@login_required
def move_message(request: HttpRequest, pk: int, message_pk: int) -> HttpResponse:
    conversation, message = _own_message(request, pk, message_pk)
    try:
        conversation.move(message, up=request.POST.get("direction") != "down")
    except EditRefused as exc:
        return _refused(request, conversation, str(exc))
    return _messages_changed(request, conversation)


@require_POST
@login_required
def delete_message(request: HttpRequest, pk: int, message_pk: int) -> HttpResponse:
    conversation, message = _own_message(request, pk, message_pk)
    try:
        conversation.delete_by_hand(message)
    except EditRefused as exc:
        return _refused(request, conversation, str(exc))
    return _messages_changed(request, conversation)


# --- Request options and the code view --------------------------------------------------------

_OPTIONS = "playground/options.html"
_CODE_TABS = [("curl", "cURL"), ("python", "Python"), ("javascript", "JavaScript")]


def _target_of(conversation: Conversation) -> str:
    connection = get_connection(conversation.connection)
    return options.target_of(connection.dialect if connection else "")


def _options_context(conversation: Conversation, *, typing: str = "", tab: str = "curl") -> dict:
    """The request options panel, and the request the next Send posts in three languages."""
    connection = get_connection(conversation.connection)
    target = options.target_of(connection.dialect if connection else "")
    # A Send always ends the request with the person's message.
    after_send = [*conversation.upstream_messages(), {"role": "user", "content": typing}]
    library = _tool_library(conversation)
    form = RequestOptionsForm.for_stored(
        conversation.options,
        target=target,
        messages=after_send,
        tools=[tool.as_openai() for tool in library if tool.attached],
    )
    context = {
        "conversation": conversation,
        "options_form": form,
        "tool_library": library,
        # Calls waiting for results: a Send is refused until they are given.
        "turns_problem": tool_turns_problem(after_send),
        "target": target,
        "target_label": options.TARGETS[target],
        "typing": bool(typing.strip()),
        "tab": tab if tab in dict(_CODE_TABS) else "curl",
        "code": None,
    }
    if connection is not None:
        body = build_body(conversation, connection, typing=typing)
        code = curl.snippets(
            body, target=target, base_url=connection.base_url, with_key=bool(connection.api_key)
        )
        context["code"] = code
        context["code_tabs"] = [(key, title, getattr(code, key)) for key, title in _CODE_TABS]
    return context


def _tool_library(conversation: Conversation) -> list[ToolDefinition]:
    """The owner's tools, by name, each knowing whether it is attached (two queries)."""
    attached = set(conversation.tools.values_list("pk", flat=True))
    library = list(ToolDefinition.objects.filter(owner_id=conversation.owner_id))
    for tool in library:
        tool.attached = tool.pk in attached
    return library


@require_POST
@login_required
def request_options(request: HttpRequest, pk: int) -> HttpResponse:
    """Autosave of the options panel: store what was typed, say what is wrong, show the request."""
    conversation = _own_conversation(request, pk)
    target = _target_of(conversation)
    shown = request.POST.get("shown_target", target)
    tools_changed = False
    # A panel drawn for another target (the connection changed meanwhile) saves nothing.
    if shown == target:
        try:
            tools_changed = turns.attach_ticked_tools(conversation, request.POST)
        except turns.TurnRejected:
            raise Http404("No such tool of yours") from None
        form = RequestOptionsForm(request.POST, target=target)
        conversation.options = options.update(conversation.options, form.texts(), target)
        conversation.save(update_fields=["options"])
    if not request.headers.get("HX-Request"):
        return redirect(conversation)
    context = _options_context(
        conversation, typing=request.POST.get("message", ""), tab=request.POST.get("tab", "")
    )
    context["stale_panel"] = shown != target
    # Tool choice offers the attached tools by name: its group is drawn again.
    context["tools_changed"] = tools_changed
    return render(request, f"{_OPTIONS}#options_saved", context)


@require_GET
@login_required
def request_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """The code view again, after the settings, the conversation or the typed message changed."""
    conversation = _own_conversation(request, pk)
    context = _options_context(
        conversation, typing=request.GET.get("message", ""), tab=request.GET.get("tab", "")
    )
    context["stale_panel"] = request.GET.get("shown_target", context["target"]) != context["target"]
    return render(request, f"{_OPTIONS}#code_view_refresh", context)


# ---- Tool library ----------------------------------------------------------------------------

_TOOLS = "playground/tools.html"
_TOOL_FORM = "playground/tool_form.html"


def _own_tool(request: HttpRequest, pk: int) -> ToolDefinition:
    return get_object_or_404(ToolDefinition, pk=pk, owner=request.user)


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
    return _tool_page(request, _own_tool(request, pk))


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
    copy = _own_tool(request, pk).duplicate()
    messages.success(request, f"This is a copy named {copy.name}: rename it and save.")
    return redirect(copy)


@require_http_methods(["GET", "POST"])
@login_required
def tool_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks for confirmation (the page without JavaScript); htmx asks with hx-confirm."""
    tool = _own_tool(request, pk)
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
    return _download(text, "application/json", "hexplay-tools.json")


@require_GET
@login_required
def tool_export(request: HttpRequest, pk: int) -> HttpResponse:
    tool = _own_tool(request, pk)
    return _download(tools.tools_json([tool]), "application/json", f"{tool.name}.json")


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
