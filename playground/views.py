"""Pages and htmx endpoints of the playground."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from playground import turns, upstream
from playground.connections import all_connections, default_connection, get_connection, models_of
from playground.models import Conversation
from playground.stream import generate

_PAGE = "playground/conversation.html"


def _own_conversation(request: HttpRequest, pk: int) -> Conversation:
    conversation = turns.own_conversation(request.user, pk)
    if conversation is None:
        raise Http404("No such conversation")
    return conversation


def _new_conversation_for(user) -> Conversation:
    """A new conversation on the connection and model the person used last."""
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
    context = _settings_context(conversation) | {
        "messages": conversation.path(),
        "conversations": Conversation.objects.filter(owner=request.user).only("pk", "title")[:200],
        "socket_path": f"/ws/conversations/{conversation.pk}/",
        "busy": False,
    }
    return render(request, _PAGE, context)


@require_POST
@login_required
def conversation_settings(request: HttpRequest, pk: int) -> HttpResponse:
    """Autosave of the settings panel; a new connection starts on its own default model."""
    conversation = _own_conversation(request, pk)
    data = request.POST.copy()
    if "connection" in data and data["connection"] != conversation.connection:
        connection = get_connection(data["connection"])
        if connection is not None and connection.slug == data["connection"]:
            data["model"] = connection.default_model
    try:
        turns.apply_settings(conversation, data)
    except turns.TurnRejected as exc:
        return HttpResponse(str(exc), status=422)
    if not request.headers.get("HX-Request"):
        return redirect(conversation)
    if "connection" in data:
        return render(request, f"{_PAGE}#model_settings", _settings_context(conversation))
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
    return render(request, f"{_PAGE}#messages_list", {"messages": conversation.path()})


@require_GET
@login_required
async def model_picker(request: HttpRequest) -> HttpResponse:
    connection = await sync_to_async(get_connection)(request.GET.get("connection", ""))
    if connection is None:
        return render(request, f"{_PAGE}#model_picker", {"models": [], "warning": "No connection."})
    async with upstream.new_client(
        connect_timeout=settings.UPSTREAM_CONNECT_TIMEOUT, read_timeout=10.0
    ) as client:
        found = await models_of(connection, client=client)
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
        await sync_to_async(turns.accept_user_message)(conversation, request.POST.dict())
        connection, message, body = await sync_to_async(turns.prepare_answer)(conversation)
    except turns.TurnRejected:
        return redirect(conversation)

    async def ignore(_piece) -> None:
        return None

    async with upstream.new_client(
        connect_timeout=settings.UPSTREAM_CONNECT_TIMEOUT,
        read_timeout=settings.UPSTREAM_READ_TIMEOUT,
    ) as client:
        await generate(message, body, client=client, connection=connection, on_piece=ignore)
    return redirect(conversation)
