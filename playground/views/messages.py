"""Messages set by hand (no model is called): add, edit, move, delete, show earlier ones."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from playground import turns
from playground.forms.messages import HandMessageForm
from playground.models import Conversation, EditRefused, latest
from playground.views.common import PAGE, own_conversation, own_message
from playground.views.options import target_of


def _messages_changed(request: HttpRequest, conversation: Conversation) -> HttpResponse:
    if not request.headers.get("HX-Request"):
        return redirect(conversation)
    context = {"conversation": conversation} | latest(conversation.path())
    return render(request, f"{PAGE}#messages_list", context)


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
    response = render(request, f"{PAGE}#{partial}", context)
    # 200, so htmx swaps it; the retarget puts it where the person is looking.
    response["HX-Retarget"] = target
    response["HX-Reswap"] = "outerHTML"
    return response


@require_POST
@login_required
def add_message(request: HttpRequest, pk: int) -> HttpResponse:
    """Add a message of any role at the end of the branch on screen."""
    conversation = own_conversation(request, pk)
    form = HandMessageForm(request.POST, target=target_of(conversation))
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
    return render(request, f"{PAGE}#message_added", context)


@require_GET
@login_required
def earlier_messages(request: HttpRequest, pk: int) -> HttpResponse:
    """The hundred messages before `before` on screen, for "Show earlier messages"."""
    conversation = own_conversation(request, pk)
    context = latest(conversation.path(), before=turns.as_int(request.GET.get("before")))
    return render(request, f"{PAGE}#earlier_messages", context)


@require_GET
@login_required
def hand_edit_form(request: HttpRequest, pk: int, message_pk: int) -> HttpResponse:
    """The editor of one message on screen, fetched when the person opens it."""
    conversation = own_conversation(request, pk)
    path = conversation.path()
    message = next((m for m in path if m.pk == message_pk), None)
    if message is None:
        raise Http404("No such message on screen")
    if not request.headers.get("HX-Request"):
        return redirect(f"{conversation.get_absolute_url()}?hand={message.pk}#{message.dom_id}")
    context = {"message": message, "opened": True, "is_first": message is path[0]}
    return render(request, f"{PAGE}#hand_edit", context)


@require_POST
@login_required
def edit_message(request: HttpRequest, pk: int, message_pk: int) -> HttpResponse:
    """Change a message in place; its role stays what it is."""
    conversation, message = own_message(request, pk, message_pk)
    form = HandMessageForm(
        request.POST.dict() | {"role": message.role}, target=target_of(conversation)
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
    conversation, message = own_message(request, pk, message_pk)
    try:
        conversation.move(message, up=request.POST.get("direction") != "down")
    except EditRefused as exc:
        return _refused(request, conversation, str(exc))
    return _messages_changed(request, conversation)


@require_POST
@login_required
def delete_message(request: HttpRequest, pk: int, message_pk: int) -> HttpResponse:
    conversation, message = own_message(request, pk, message_pk)
    try:
        conversation.delete_by_hand(message)
    except EditRefused as exc:
        return _refused(request, conversation, str(exc))
    return _messages_changed(request, conversation)
