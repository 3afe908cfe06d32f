"""One exchange with the model, as the websocket and the no-JavaScript form both run it."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from playground.connections import Connection, get_connection
from playground.forms import ComposerForm, ConversationSettingsForm
from playground.models import Conversation, Message
from playground.stream import build_body


class TurnRejected(Exception):
    """The message cannot be sent; the text says why in plain words."""


def own_conversation(user: AbstractBaseUser | AnonymousUser, pk: int) -> Conversation | None:
    if not user.is_authenticated:
        return None
    return Conversation.objects.filter(pk=pk, owner=user).first()


def apply_settings(conversation: Conversation, data: dict[str, Any]) -> None:
    """Save the connection, model and system prompt sent along with a message, when valid."""
    fields = {k: data[k] for k in ("connection", "model", "system_prompt") if k in data}
    if not fields:
        return
    merged = {
        "connection": conversation.connection,
        "model": conversation.model,
        "system_prompt": conversation.system_prompt,
        **fields,
    }
    form = ConversationSettingsForm(merged, instance=conversation)
    if not form.is_valid():
        first = next(iter(form.errors.values()))[0]
        raise TurnRejected(f"The settings could not be used: {first}")
    form.save()


def accept_user_message(conversation: Conversation, data: dict[str, Any]) -> Message:
    """Validate and save the person's message (and the settings sent with it) first of all.

    With `edit` (the id of an earlier message of theirs) the text becomes a new version of
    that message, and the conversation continues from there.
    """
    composer = ComposerForm({"message": data.get("message", "")})
    if not composer.is_valid():
        raise TurnRejected(composer.errors["message"][0])
    replacing = None
    if data.get("edit"):
        replacing = conversation.messages.filter(pk=_as_int(data["edit"]), role="user").first()
        if replacing is None:
            raise TurnRejected("That message is no longer there.")
    apply_settings(conversation, data)
    return conversation.add_user_message(composer.cleaned_data["message"], replacing=replacing)


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def prepare_answer(
    conversation: Conversation, *, continuing: bool = False
) -> tuple[Connection, Message, dict[str, Any]]:
    """The connection, the empty assistant message and the body of the next request.

    `continuing` asks the model to carry on the last answer (stopped, or cut at the token
    limit): the new version starts with the old text and the stream adds to it.
    """
    conversation.refresh_from_db()
    connection = get_connection(conversation.connection)
    if connection is None:
        raise TurnRejected(
            "No connection is configured: set MISTRAL_BASE_URL or enable the local model."
        )
    if continuing:
        return _prepare_continuation(conversation, connection)
    conversation.rewind_for_new_answer()
    if not any(m.role == Message.Role.USER for m in conversation.history()):
        raise TurnRejected("There is no message to answer yet.")
    body = build_body(conversation, connection)
    message = conversation.start_answer(connection=connection.slug, model=body["model"], body=body)
    return connection, message, body


def _prepare_continuation(
    conversation: Conversation, connection: Connection
) -> tuple[Connection, Message, dict[str, Any]]:
    path = conversation.path()
    last = path[-1] if path else None
    if last is None or last.role != Message.Role.ASSISTANT or not last.content:
        raise TurnRejected("There is no answer to continue.")
    body = continuation_body(build_body(conversation, connection), connection.dialect)
    conversation.rewind_for_new_answer()
    message = conversation.start_answer(connection=connection.slug, model=body["model"], body=body)
    message.content, message.reasoning = last.content, last.reasoning
    message.save(update_fields=["content", "reasoning"])
    return connection, message, body


def continuation_body(body: dict[str, Any], dialect: str) -> dict[str, Any]:
    """Ask the server to extend the final assistant message instead of answering it."""
    if dialect == "mistral":
        messages = [*body["messages"][:-1], {**body["messages"][-1], "prefix": True}]
        return {**body, "messages": messages}
    if dialect == "vllm":
        # vLLM refuses continue_final_message while add_generation_prompt is on (its default).
        return {**body, "continue_final_message": True, "add_generation_prompt": False}
    return body  # llama.cpp's server continues a final assistant message by itself
