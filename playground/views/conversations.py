"""The conversation page: open, start, its settings, versions on screen, the no-JavaScript Send."""

from __future__ import annotations

from urllib.parse import urlencode

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import TextField
from django.db.models.functions import Cast
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from playground import starters, turns, upstream
from playground.models import Conversation, Message, latest
from playground.stream import generate
from playground.upstream.connections import (
    NoModel,
    all_connections,
    default_connection,
    get_connection,
    listed_models,
    model_for,
)
from playground.views.common import PAGE, own_conversation, variables_context
from playground.views.history import sidebar
from playground.views.options import options_context, target_of


def _new_conversation_for(user) -> Conversation:
    """A new conversation on the connection and model the person used last.

    One never used (no message, title, system prompt, option or tool) is reused, so "New
    conversation" does not pile up empty ones in the sidebar.
    """
    # Options compared as text: on PostgreSQL they are json (kept in order), which has no "=".
    unused = (
        Conversation.objects.annotate(options_text=Cast("options", TextField()))
        .filter(
            owner=user,
            title="",
            system_prompt="",
            options_text="{}",
            messages__isnull=True,
            tools=None,
        )
        .first()
    )
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
    conversation = own_conversation(request, pk)
    path = conversation.path()
    context = (
        _settings_context(conversation)
        | options_context(conversation)
        | variables_context(conversation)
        | {
            **({"messages": path, "earlier": 0} if request.GET.get("all") else latest(path)),
            "conversations": sidebar(request),
            "q": request.GET.get("q", ""),
            # Without JavaScript the editor of one message is opened by reloading with ?hand=id.
            "hand_open": turns.as_int(request.GET.get("hand")),
            "socket_path": f"/ws/conversations/{conversation.pk}/",
            # A starter's message, ready to send (or change) in the composer.
            "draft": request.GET.get("draft", "")[:2000],
            "starters": starters.for_target(target_of(conversation)),
            # Reloaded mid-answer: Stop works at once (the socket brings the rest).
            "busy": bool(path) and path[-1].status == Message.Status.STREAMING,
        }
    )
    return render(request, PAGE, context)


@require_POST
@login_required
def conversation_settings(request: HttpRequest, pk: int) -> HttpResponse:
    """Autosave of the settings panel; a new connection starts on its own default model."""
    conversation = own_conversation(request, pk)
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
        return render(request, f"{PAGE}#model_settings", context)
    return HttpResponse("Saved.")


@require_POST
@login_required
def show_version(request: HttpRequest, pk: int, message_pk: int) -> HttpResponse:
    """Switch to another version of a message (and the newest messages that followed it)."""
    conversation = own_conversation(request, pk)
    message = get_object_or_404(conversation.messages, pk=message_pk)
    conversation.show_version(message)
    if not request.headers.get("HX-Request"):
        return redirect(conversation)
    context = {"conversation": conversation} | latest(conversation.path())
    return render(request, f"{PAGE}#messages_list", context)


@require_GET
@login_required
async def model_picker(request: HttpRequest) -> HttpResponse:
    connection = await sync_to_async(get_connection)(request.GET.get("connection", ""))
    if connection is None:
        return render(request, f"{PAGE}#model_picker", {"models": [], "warning": "No connection."})
    found = await listed_models(connection)
    context = {
        "models": found.models,
        "warning": found.warning,
        "selected": request.GET.get("selected") or connection.default_model,
    }
    return render(request, f"{PAGE}#model_picker", context)


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


@require_POST
@login_required
def conversation_variables(request: HttpRequest, pk: int) -> HttpResponse:
    """Autosave of the Variables group's values, as typed."""
    conversation = own_conversation(request, pk)
    turns.apply_variables(conversation, request.POST)
    if not request.headers.get("HX-Request"):
        return redirect(conversation)
    return HttpResponse("Saved.")


@require_POST
@login_required
def use_starter(request: HttpRequest, pk: int) -> HttpResponse:
    """Set an empty conversation up as a starter, its message waiting in the composer."""
    conversation = own_conversation(request, pk)
    starter = starters.BY_KEY.get(request.POST.get("starter", ""))
    if starter is None:
        raise Http404("No such starter")
    try:
        starters.apply(conversation, starter)
    except starters.StarterRefused as exc:
        messages.error(request, str(exc))
        return redirect(conversation)
    return redirect(f"{conversation.get_absolute_url()}?{urlencode({'draft': starter.message})}")
