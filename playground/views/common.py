"""What every view module needs: the page template, ownership lookups that 404, downloads."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.http import content_disposition_header

from playground import turns
from playground.models import Conversation, Message, ToolDefinition

# The conversation page; its partials are what htmx and the websocket swap.
PAGE = "playground/conversation.html"


def own_conversation(request: HttpRequest, pk: int) -> Conversation:
    """The person's own conversation, or 404: nobody learns that another's exists."""
    conversation = turns.own_conversation(request.user, pk)
    if conversation is None:
        raise Http404("No such conversation")
    return conversation


def own_message(request: HttpRequest, pk: int, message_pk: int) -> tuple[Conversation, Message]:
    conversation = own_conversation(request, pk)
    return conversation, get_object_or_404(conversation.messages, pk=message_pk)


def own_tool(request: HttpRequest, pk: int) -> ToolDefinition:
    return get_object_or_404(ToolDefinition, pk=pk, owner=request.user)


def variables_context(conversation: Conversation, typing: str = "") -> dict:
    """The Variables group: one field per {{name}} written so far, with its saved value."""
    names = conversation.variable_names(typing)
    return {
        "conversation": conversation,
        "variables": [(name, conversation.variables.get(name, "")) for name in names],
        "variables_shown": ",".join(names),
    }


def download(text: str, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type=f"{content_type}; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response
