"""One exchange with the model, as the websocket and the no-JavaScript form both run it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from playground import options, variables
from playground.forms.conversations import ComposerForm, ConversationSettingsForm
from playground.forms.options import posted_texts
from playground.models import Conversation, Message, ToolDefinition, tool_turns_problem
from playground.stream import build_body
from playground.upstream.connections import Connection, get_connection


class TurnRejected(Exception):
    """The message cannot be sent; the text says why in plain words."""


ANSWERING = "An answer is still arriving. Press Stop first."


def own_conversation(user: AbstractBaseUser | AnonymousUser, pk: int) -> Conversation | None:
    if not user.is_authenticated:
        return None
    return Conversation.objects.filter(pk=pk, owner=user).first()


def apply_settings(conversation: Conversation, data: dict[str, Any]) -> None:
    """Save the connection, model, system prompt and request options sent with a message.

    Options are stored even when wrong (as typed): `prepare_answer` then refuses to send.
    """
    fields = {k: data[k] for k in ("connection", "model", "system_prompt") if k in data}
    if fields:
        _apply_fields(conversation, fields)
    _apply_options(conversation, data)
    apply_variables(conversation, data)


def apply_variables(conversation: Conversation, data: Any) -> None:
    """Keep the values typed in the Variables group (those of names gone too, for their return)."""
    typed = variables.posted(data)
    if typed and any(conversation.variables.get(k) != v for k, v in typed.items()):
        conversation.variables = {**conversation.variables, **typed}
        conversation.save(update_fields=["variables"])


def _apply_options(conversation: Conversation, data: dict[str, Any]) -> None:
    connection = get_connection(conversation.connection)
    target = options.target_of(connection.dialect if connection else "")
    # A panel drawn for another connection's fields would store them under the wrong rules.
    if data.get("shown_target") != target:
        return
    typed = posted_texts(data, target)
    updated = options.update(conversation.options, typed, target) if typed else None
    if updated is not None and updated != conversation.options:  # a Send usually changes none
        conversation.options = updated
        conversation.save(update_fields=["options"])
    attach_ticked_tools(conversation, data)


# The Tools group of the options panel: one checkbox per tool of the person's library, and a
# marker saying the list was on screen (no box ticked then means no tools).
TOOLS_SHOWN, TICKED_TOOLS = "tools_shown", "attached_tools"


def attach_ticked_tools(conversation: Conversation, data: Any) -> bool:
    """Attach the tools ticked in the panel; True when that changed the conversation's tools.

    `data` is a QueryDict (a form post) or the websocket's JSON, where one ticked box is a
    string and several a list.
    """
    if TOOLS_SHOWN not in data:
        return False
    ticked = data.getlist(TICKED_TOOLS) if hasattr(data, "getlist") else data.get(TICKED_TOOLS)
    if ticked is None:
        ticked = []
    elif isinstance(ticked, str):
        ticked = [ticked]
    try:
        return conversation.attach_tools(ticked)
    except ToolDefinition.DoesNotExist:
        raise TurnRejected(
            "A tool you ticked is not in your tool library (any more): reload the page."
        ) from None


def _apply_fields(conversation: Conversation, fields: dict[str, Any]) -> None:
    saved = {
        "connection": conversation.connection,
        "model": conversation.model,
        "system_prompt": conversation.system_prompt,
    }
    merged = {**saved, **fields}
    if merged == saved:  # what the autosave stored already: nothing to check or write
        return
    form = ConversationSettingsForm(merged, instance=conversation)
    if not form.is_valid():
        first = next(iter(form.errors.values()))[0]
        raise TurnRejected(f"The settings could not be used: {first}")
    form.save()


def accept_user_message(conversation: Conversation, data: dict[str, Any]) -> Message | None:
    """Validate and save the person's message (and the settings sent with it) first of all.

    With `edit` (the id of an earlier message of theirs) the text becomes a new version of
    that message, and the conversation continues from there. Returns None when the message is
    the one already waiting at the end (its answer was refused, and the person sends it again
    once the cause is fixed): it is answered, not stored twice.
    """
    composer = ComposerForm({"message": data.get("message", "")})
    if not composer.is_valid():
        raise TurnRejected(composer.errors["message"][0])
    # Every version of every message counts: as an import may hold (imports.MAX_MESSAGES).
    held = conversation.messages.aggregate(
        total=Count("pk"), streaming=Count("pk", filter=_streaming(timezone.now()))
    )
    if held["streaming"]:  # in another tab, or on another server process
        raise TurnRejected(ANSWERING)
    if held["total"] >= settings.MAX_CONVERSATION_MESSAGES:
        raise TurnRejected(
            f"This conversation holds {settings.MAX_CONVERSATION_MESSAGES:,} messages, the most "
            "one can: start a new one (Duplicate keeps its settings)."
        )
    replacing = None
    if data.get("edit"):
        replacing = conversation.messages.filter(pk=as_int(data["edit"]), role="user").first()
        if replacing is None:
            raise TurnRejected("That message is no longer there.")
    else:
        wire = conversation.upstream_messages()
        if wire and wire[-1] == {"role": "user", "content": composer.cleaned_data["message"]}:
            apply_settings(conversation, data)
            return None
        # Nothing may come between an answer's tool calls and their results.
        problem = tool_turns_problem([*wire, {"role": "user"}])
        if problem:
            raise TurnRejected(problem)
    apply_settings(conversation, data)
    return conversation.add_user_message(composer.cleaned_data["message"], replacing=replacing)


def accept_tool_results(conversation: Conversation, data: dict[str, Any]) -> None:
    """One tool message per call of the last answer, in the calls' order, all or nothing."""
    path = conversation.path()
    last = path[-1] if path else None
    if last is None or last.role != Message.Role.ASSISTANT or not last.tool_calls:
        raise TurnRejected("There are no tool calls waiting for results.")
    rows, missing = [], []
    for call in last.tool_calls:
        result = str(data.get(f"result:{call['id']}", "")).strip()
        name = call.get("function", {}).get("name", "")
        if not result:
            missing.append(name or call["id"])
        rows.append(
            {"role": Message.Role.TOOL, "tool_call_id": call["id"], "name": name, "content": result}
        )
    if missing:
        raise TurnRejected(
            f"Give a result for every call before continuing (missing: {', '.join(missing)})."
        )
    conversation.append_branch(rows)


def as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# The connection, the empty assistant message and the body of the request for it.
Prepared = tuple[Connection, Message, dict[str, Any]]


@transaction.atomic  # one commit for the message, the settings and the empty answer
def send_and_prepare(
    conversation: Conversation, data: dict[str, Any]
) -> tuple[Message | None, Prepared | TurnRejected]:
    """Save the person's message, then prepare the answer to it, in one trip to the database.

    A refused message raises; a refused answer is returned, since the message is saved
    already and the person may ask for the answer again once the cause is fixed. The message
    is None when it was saved already (see `accept_user_message`).
    """
    message = accept_user_message(conversation, data)
    try:
        return message, prepare_answer(conversation)
    except TurnRejected as refusal:
        return message, refusal


def prepare_answer(conversation: Conversation, *, continuing: bool = False) -> Prepared:
    """The connection, the empty assistant message and the body of the next request.

    `continuing` asks the model to carry on the last answer (stopped, or cut at the token
    limit): the new version starts with the old text and the stream adds to it.
    `conversation` is the one loaded for this action (it holds what the action changed).
    """
    connection = get_connection(conversation.connection)
    if connection is None:
        raise TurnRejected(
            "No connection is configured: set MISTRAL_BASE_URL or enable the local model."
        )
    _refuse_over_limits(conversation.owner_id, conversation.pk)
    if continuing:
        return _prepare_continuation(conversation, connection)
    replaced = conversation.rewind_for_new_answer()
    body = build_body(conversation, connection)
    if not any(m.get("role") == Message.Role.USER for m in body["messages"]):
        raise TurnRejected("There is no message to answer yet.")
    _refuse_invalid_options(conversation, connection, body["messages"])
    return connection, _start_answer(conversation, connection, body, replaced), body


# An answer still "streaming" after this long was cut off by a restart: it does not count.
_STALE_STREAM = timedelta(minutes=15)


def _streaming(now: datetime) -> Q:
    return Q(status=Message.Status.STREAMING, created__gte=now - _STALE_STREAM)


def _refuse_over_limits(owner_id: int, conversation_pk: int) -> None:
    """One answer at a time per conversation; answers running at once and answers per minute
    per person (staff too), from settings.

    Counted in the database, so every server process sees the same figures."""
    now = timezone.now()
    answers = Message.objects.filter(
        conversation__owner_id=owner_id,
        role=Message.Role.ASSISTANT,
        created__gte=now - _STALE_STREAM,
    ).exclude(request_body={})  # written by hand, not asked for
    counts = answers.aggregate(
        running=Count("pk", filter=_streaming(now)),
        here=Count("pk", filter=_streaming(now) & Q(conversation_id=conversation_pk)),
        last_minute=Count("pk", filter=Q(created__gte=now - timedelta(minutes=1))),
    )
    if counts["here"]:
        raise TurnRejected(ANSWERING)
    at_once, per_minute = settings.ANSWERS_AT_ONCE, settings.ANSWERS_PER_MINUTE
    if counts["running"] >= at_once:
        raise TurnRejected(
            f"Nothing was sent: {counts['running']} of your answers are arriving already, the "
            f"most at once ({at_once}). Wait for one to end, or stop one."
        )
    if counts["last_minute"] >= per_minute:
        raise TurnRejected(
            f"Nothing was sent: you asked for {counts['last_minute']} answers in the last minute, "
            f"the most allowed ({per_minute}). Wait a moment and ask again."
        )


def _start_answer(
    conversation: Conversation,
    connection: Connection,
    body: dict[str, Any],
    replaced: Message | None,
) -> Message:
    """The empty answer to stream into; a new version shows in the old one's place."""
    message = conversation.start_answer(connection=connection.slug, model=body["model"], body=body)
    if replaced is not None:
        message.replaces = replaced
        message.load_versions()
    return message


def _refuse_invalid_options(
    conversation: Conversation, connection: Connection, messages: list[dict[str, Any]]
) -> None:
    """Options that fail their checks block sending; the options panel says what to fix.

    So do tool turns out of order (set by hand): the server would refuse them.
    """
    target = options.target_of(connection.dialect)
    checked = options.evaluate(
        conversation.options, target, messages=messages, tools=conversation.tool_specs()
    )
    if not checked.ok:
        raise TurnRejected(checked.refusal())
    if unfilled := variables.missing(conversation.variable_names(), conversation.variables):
        raise TurnRejected(variables.refusal(unfilled))
    if problem := tool_turns_problem(messages):
        raise TurnRejected(f"Nothing was sent. {problem}")


def _prepare_continuation(
    conversation: Conversation, connection: Connection
) -> tuple[Connection, Message, dict[str, Any]]:
    path = conversation.path()
    last = path[-1] if path else None
    if last is None or last.role != Message.Role.ASSISTANT or not last.content:
        raise TurnRejected("There is no answer to continue.")
    body = continuation_body(build_body(conversation, connection), connection.dialect)
    _refuse_invalid_options(conversation, connection, body["messages"])
    replaced = conversation.rewind_for_new_answer()
    message = _start_answer(conversation, connection, body, replaced)
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
