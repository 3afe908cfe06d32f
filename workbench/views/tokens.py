"""The token count of the next request, refreshed by the conversation page as the person types."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from playground import upstream
from playground.models import Conversation
from playground.upstream.connections import Connection, get_connection
from playground.views.common import own_conversation
from workbench import tokens

_TOKENS = "workbench/tokens.html"


def _next_request(
    request: HttpRequest, pk: int, typing: str
) -> tuple[Conversation, Connection | None, dict[str, Any]]:
    """The person's conversation (or 404), and exactly the body its next Send would post."""
    conversation = own_conversation(request, pk)
    connection = get_connection(conversation.connection)
    body = tokens.next_request(conversation, connection, typing) if connection else {}
    return conversation, connection, body


@require_GET
@login_required
async def token_count(request: HttpRequest, pk: int) -> HttpResponse:
    """The count, the bar and the warning; with `pieces=1`, the prompt as the tokenizer splits it.

    Over htmx only the partial comes back; without JavaScript, a page of its own.
    """
    typing = request.GET.get("message", "")
    with_pieces = request.GET.get("pieces") == "1"
    conversation, connection, body = await sync_to_async(_next_request)(request, pk, typing)
    timeout = settings.TOKENIZE_TIMEOUT
    async with upstream.new_client(connect_timeout=timeout, read_timeout=timeout) as client:
        tally = await tokens.count(
            body, connection, client=client, timeout=timeout, with_pieces=with_pieces
        )
    context = {
        "conversation": conversation,
        "tally": tally,
        "pieces_shown": with_pieces,
        "typing": bool(typing.strip()),
    }
    if request.headers.get("HX-Request"):
        return render(request, f"{_TOKENS}#token_count", context)
    return render(request, _TOKENS, context)
