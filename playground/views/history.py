"""The sidebar's history: list and search, rename, duplicate, delete."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from playground import turns
from playground.models import Conversation, search_conversations
from playground.views.common import PAGE, own_conversation


def sidebar(request: HttpRequest) -> QuerySet[Conversation]:
    """Newest first; older ones are found by searching."""
    found = search_conversations(request.user, request.GET.get("q", ""))
    return found.only("pk", "title")[:200]


@require_GET
@login_required
def conversation_list(request: HttpRequest) -> HttpResponse:
    """The sidebar's list, filtered as the person types in its search box."""
    current = request.GET.get("current", "")
    context = {
        "conversations": sidebar(request),
        "conversation": turns.own_conversation(request.user, int(current))
        if current.isdigit()
        else None,
        "q": request.GET.get("q", ""),
    }
    return render(request, f"{PAGE}#conversation_list", context)


@require_POST
@login_required
def rename_conversation(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = own_conversation(request, pk)
    conversation.rename(request.POST.get("title", "")[:200])
    if request.headers.get("HX-Request"):
        return render(request, f"{PAGE}#renamed", {"conversation": conversation})
    return redirect(conversation)


@require_POST
@login_required
def duplicate_conversation(request: HttpRequest, pk: int) -> HttpResponse:
    return redirect(own_conversation(request, pk).duplicate())


@require_POST
@login_required
def delete_conversation(request: HttpRequest, pk: int) -> HttpResponse:
    """The page asked for confirmation first; its share link goes with it."""
    own_conversation(request, pk).delete()
    return redirect("home")
