"""Export a conversation as a request body (JSON) or a readable document (Markdown); import one.

The JSON is the body HexPlay would post next (`model`, `messages`, the options), so it can be
sent as is, plus a `hexplay` key with what a request has no place for: the title, the
connection, the options as stored, and per message the reasoning, status and stats. Import
reads that back losslessly, or any plain OpenAI chat request body.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from playground import options
from playground.connections import Connection, default_connection, get_connection
from playground.markdown import render_markdown
from playground.models import (
    Conversation,
    Message,
    ToolDefinition,
    check_tool_calls,
    free_tool_name,
)
from playground.stream import build_body, format_seconds
from playground.tools import ToolSpec, ToolsRejected, parse_tools

FORMAT = 1
ROLES = [role.value for role in Message.Role]
# Per-message extras kept under hexplay.messages, with the type each must have on import.
_NUMBER = (int, float)
EXTRAS: dict[str, type | tuple[type, ...]] = {
    "reasoning": str,
    "reasoning_ms": _NUMBER,
    "status": str,
    "finish_reason": str,
    "connection": str,
    "model": str,
    "usage": dict,
    "time_to_first_token_ms": _NUMBER,
    "duration_ms": _NUMBER,
    "tokens_per_second": _NUMBER,
}
# Top-level fields of a request body that are not options of the conversation.
_NOT_OPTIONS = {"model", "messages", "stream", "stream_options", "hexplay"}


class ImportRejected(Exception):
    """The file cannot be imported; the text names what is wrong in plain words."""


# ---- Export ----------------------------------------------------------------------------------


def export_json(conversation: Conversation) -> dict[str, Any]:
    """The request body for the conversation's next answer, plus everything HexPlay keeps."""
    connection = get_connection(conversation.connection)
    wire: list[dict[str, Any]] = []
    extras: list[dict[str, Any]] = []
    if conversation.system_prompt.strip():
        wire.append({"role": "system", "content": conversation.system_prompt})
        extras.append({"system_prompt": True})
    # As sent upstream: failed answers stay out.
    for message in conversation.history():
        wire.append(message.as_wire())
        extras.append(
            {
                name: getattr(message, name)
                for name in EXTRAS
                if getattr(message, name) not in (None, "", {}, Message.Status.COMPLETE)
            }
        )
    body = build_body(conversation, connection) if connection else {"model": conversation.model}
    body["messages"] = wire
    body["hexplay"] = {
        "format": FORMAT,
        "title": conversation.title,
        "connection": connection.slug if connection else "",
        "system_prompt": conversation.system_prompt,
        "options": conversation.options,
        "exported": timezone.now().isoformat(timespec="seconds"),
        "messages": extras,
    }
    return body


def export_markdown(conversation: Conversation) -> str:
    """A readable document: one section per message, reasoning folded in <details>."""
    connection = get_connection(conversation.connection)
    lines = [f"# {conversation.display_title}", ""]
    facts = [f"Model `{conversation.model}`"] if conversation.model else []
    if connection:
        facts.append(f"connection {connection.name}")
    facts.append(f"exported from HexPlay {timezone.now():%Y-%m-%d %H:%M} UTC")
    lines += [" · ".join(facts), ""]
    if connection:
        chosen = build_body(conversation, connection)
        used = {k: v for k, v in chosen.items() if k not in _NOT_OPTIONS}
        if used:
            lines += ["Options:", ""]
            lines += [f"- `{k}`: `{json.dumps(v, ensure_ascii=False)}`" for k, v in used.items()]
            lines.append("")
    if conversation.system_prompt.strip():
        lines += ["## System prompt", "", conversation.system_prompt, ""]
    for message in conversation.path():
        lines += _markdown_message(message)
    return "\n".join(lines).rstrip() + "\n"


def _markdown_message(message: Message) -> list[str]:
    heading = message.get_role_display()
    if message.role == Message.Role.TOOL:
        name = f"`{message.name}`, " if message.name else ""
        heading = f"Tool result ({name}call `{message.tool_call_id}`)"
    elif message.model:
        heading += f" · {message.model}"
    lines = [f"## {heading}", ""]
    if message.reasoning:
        took = f" · {format_seconds(message.reasoning_ms)}" if message.reasoning_ms else ""
        lines += ["<details>", f"<summary>Reasoning{took}</summary>", ""]
        lines += [message.reasoning, "", "</details>", ""]
    if message.content:
        lines += [message.content, ""]
    for call in message.tool_calls or []:
        function = call["function"]
        lines += [f"Calls `{function['name']}` (`{call['id']}`) with:", ""]
        lines += [*_fenced(function["arguments"], "json"), ""]
    if message.status == Message.Status.STOPPED:
        lines += ["*Stopped before the end.*", ""]
    elif message.status == Message.Status.ERROR:
        lines += [f"*The answer failed: {message.error}*", ""]
    elif message.finish_reason == "length":
        lines += ["*Stopped at the token limit.*", ""]
    return lines


def _fenced(text: str, language: str) -> list[str]:
    # A fence longer than any run of backticks inside, so the text cannot close it.
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{language}", text, fence]


def filename(conversation: Conversation, extension: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9]+", "-", conversation.display_title).strip("-").lower()[:60]
    return f"{stem or 'conversation'}-{conversation.pk}.{extension}"


# ---- Import ----------------------------------------------------------------------------------


def parse(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportRejected(
            f"This is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        ) from None
    if not isinstance(data, dict):
        raise ImportRejected(
            'The JSON must be an object with a messages list, like {"model": "…", '
            '"messages": [{"role": "user", "content": "Hi"}]}.'
        )
    return data


@dataclass
class _Plan:
    """A conversation read and checked in full before anything is written."""

    title: str = ""
    connection: Connection | None = None
    model: str = ""
    system_prompt: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    tools: list[ToolSpec] = field(default_factory=list)


@transaction.atomic
def import_conversation(owner: Any, data: dict[str, Any]) -> Conversation:
    """A new conversation of `owner`'s from an exported or plain request body; all or nothing."""
    plan = _read(data)
    conversation = Conversation.objects.create(
        owner=owner,
        title=plan.title,
        connection=plan.connection.slug if plan.connection else "",
        model=plan.model,
        system_prompt=plan.system_prompt,
        options=plan.options,
    )
    conversation.append_branch(plan.rows)
    _attach_imported_tools(conversation, plan.tools)
    if not conversation.title:
        conversation.rename("")  # suggested from the first message, as for a new conversation
    return conversation


def _attach_imported_tools(conversation: Conversation, specs: list[ToolSpec]) -> None:
    """Attach the body's tools: the owner's own when it is the same tool, else a new one.

    A tool whose name the owner uses for another definition comes in as name_copy, and a
    named tool choice follows it.
    """
    if not specs:
        return
    mine = {t.name: t for t in ToolDefinition.objects.filter(owner_id=conversation.owner_id)}
    attached, renamed = [], {}
    for spec in specs:
        tool = mine.get(spec.name)
        if tool is None or tool.as_openai() != spec.as_openai():
            tool = ToolDefinition.objects.create(
                owner_id=conversation.owner_id,
                name=free_tool_name(conversation.owner_id, spec.name),
                description=spec.description,
                parameters=spec.parameters,
                strict=spec.strict,
            )
            renamed[spec.name] = tool.name
        attached.append(tool)
    conversation.tools.set(attached)
    choice = conversation.options.get("tool_choice")
    if isinstance(choice, dict) and choice.get("function", {}).get("name") in renamed:
        name = renamed[choice["function"]["name"]]
        conversation.options = {
            **conversation.options,
            "tool_choice": options.named_tool_choice(name),
        }
        conversation.save(update_fields=["options"])


def _tools(data: dict[str, Any]) -> list[ToolSpec]:
    """The body's `tools`, checked like the tool library's import."""
    found = data.get("tools")
    if found is None or found == []:
        return []
    if not isinstance(found, list):
        raise ImportRejected("tools must be a list of tools.")
    try:
        return parse_tools(json.dumps(found))
    except ToolsRejected as exc:
        raise ImportRejected(f"tools: {exc}") from None


def _read(data: dict[str, Any]) -> _Plan:
    hexplay = data.get("hexplay", {})
    if not isinstance(hexplay, dict):
        raise ImportRejected("hexplay must be an object.")
    messages = data.get("messages")
    if messages is None:
        raise ImportRejected("messages is missing: a request body has a list of messages.")
    if not isinstance(messages, list):
        raise ImportRejected("messages must be a list.")
    if not messages:
        raise ImportRejected("messages is empty: there is nothing to import.")
    extras = hexplay.get("messages", [{} for _ in messages])
    if not isinstance(extras, list) or len(extras) != len(messages):
        raise ImportRejected(
            f"hexplay.messages must be a list with one entry per message ({len(messages)})."
        )
    plan = _Plan()
    plan.model = _text(data, "model", "model")
    plan.connection = (
        get_connection(_text(hexplay, "connection", "hexplay.connection"))
        if hexplay.get("connection")
        else default_connection()
    )
    wire: list[dict[str, Any]] = []
    for index, (raw, extra) in enumerate(zip(messages, extras, strict=True)):
        row = _message(raw, index)
        wire.append(raw)
        if not isinstance(extra, dict):
            raise ImportRejected(f"hexplay.messages[{index}] must be an object.")
        if extra.get("system_prompt") is True:
            continue  # the conversation's own system prompt, read from hexplay below
        row.update(_extras(extra, index))
        plan.rows.append(row)
    if "system_prompt" in hexplay:
        plan.system_prompt = _text(hexplay, "system_prompt", "hexplay.system_prompt")
    elif plan.rows and plan.rows[0]["role"] == Message.Role.SYSTEM:
        plan.system_prompt = plan.rows.pop(0)["content"]
    target = options.target_of(plan.connection.dialect if plan.connection else "")
    plan.tools = _tools(data)
    if "options" in hexplay:
        plan.options = _stored_options(hexplay["options"], target)
    else:
        attached = [spec.as_openai() for spec in plan.tools]
        plan.options = _options_from_body(data, target, wire, attached)
    plan.title = _text(hexplay, "title", "hexplay.title")[:200]
    return plan


def _text(data: dict[str, Any], key: str, where: str) -> str:
    value = data.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ImportRejected(f"{where} must be a string.")
    return value


def _message(raw: Any, index: int) -> dict[str, Any]:
    at = f"messages[{index}]"
    if not isinstance(raw, dict):
        raise ImportRejected(f"{at} must be an object with a role and content.")
    role = raw.get("role")
    if role not in ROLES:
        shown = "is missing" if role is None else f"is {json.dumps(role)}"
        raise ImportRejected(f"{at}.role must be one of {', '.join(ROLES)} ({shown}).")
    row: dict[str, Any] = {"role": role, "content": _content(raw.get("content"), at, role)}
    calls = raw.get("tool_calls")
    if calls:
        if role != Message.Role.ASSISTANT:
            raise ImportRejected(f"{at}.tool_calls is only allowed on assistant messages.")
        try:
            row["tool_calls"] = check_tool_calls(calls, f"{at}.tool_calls")
        except ValueError as exc:
            raise ImportRejected(f"{exc}.") from None
    if role == Message.Role.TOOL:
        call_id = raw.get("tool_call_id")
        if not isinstance(call_id, str) or not call_id.strip():
            raise ImportRejected(
                f"{at}.tool_call_id is missing: a tool message answers a tool call by its id."
            )
        row["tool_call_id"] = call_id
        row["name"] = _text(raw, "name", f"{at}.name")
    # Servers that return reasoning name it one of these; a plain body may carry it back.
    for key in ("reasoning_content", "reasoning"):
        if isinstance(raw.get(key), str) and role == Message.Role.ASSISTANT:
            row["reasoning"] = raw[key]
    if role == Message.Role.ASSISTANT:
        row["content_html"] = render_markdown(row["content"])
    return row


def _content(value: Any, at: str, role: str) -> str:
    if isinstance(value, str):
        return value
    if value is None and role == Message.Role.ASSISTANT:
        return ""  # an answer that only calls tools
    if isinstance(value, list):
        texts = []
        for number, part in enumerate(value):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind != "text" or not isinstance(part.get("text"), str):
                what = f"a {kind} part" if isinstance(kind, str) else "not a text part"
                raise ImportRejected(
                    f"{at}.content[{number}] is {what}: only text can be imported."
                )
            texts.append(part["text"])
        return "\n".join(texts)
    raise ImportRejected(f"{at}.content must be text or a list of text parts.")


def _extras(extra: dict[str, Any], index: int) -> dict[str, Any]:
    fields = {}
    for name, kind in EXTRAS.items():
        if extra.get(name) is None:
            continue
        value = extra[name]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ImportRejected(f"hexplay.messages[{index}].{name} has the wrong type.")
        fields[name] = value
    allowed = [s.value for s in Message.Status if s != Message.Status.STREAMING]
    if fields.get("status", "complete") not in allowed:
        raise ImportRejected(
            f"hexplay.messages[{index}].status must be one of {', '.join(allowed)}."
        )
    return fields


def _stored_options(stored: Any, target: str) -> dict[str, Any]:
    """Options as HexPlay stores them (an export's own), each checked by the registry."""
    if not isinstance(stored, dict):
        raise ImportRejected("hexplay.options must be an object.")
    result: dict[str, Any] = {}
    for key, value in stored.items():
        at = f"hexplay.options.{key}"
        if key == options.INVALID:
            # Text that could not be read when it was typed: kept, so the panel shows it again.
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                raise ImportRejected(f"{at} must be an object of texts.")
            result[key] = {k: v for k, v in value.items() if k in options.BY_KEY}
            continue
        option = options.BY_KEY.get(key)
        if option is None:
            raise ImportRejected(f"{at} is not an option HexPlay knows.")
        if not option.typed or value is None:
            if value is None:
                result[key] = None  # unset on purpose, where HexPlay has a starting value
            continue
        own = target if target in option.wire else next(iter(option.wire))
        result[key] = _checked(option, value, own, at)
    return result


def _checked(option: options.Option, value: Any, target: str, at: str) -> Any:
    try:
        return options.parse(option, options.to_text(option, value), target)
    except options.Invalid as exc:
        raise ImportRejected(f"{at}: {exc}") from None
    except (TypeError, ValueError, AttributeError):
        shown = json.dumps(value, ensure_ascii=False)
        shown = shown if len(shown) <= 40 else shown[:40] + "…"
        raise ImportRejected(f"{at} has a value of the wrong type ({shown}).") from None


def _options_from_body(
    data: dict[str, Any],
    target: str,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]],
) -> dict[str, Any]:
    """The options of a plain request body, found by their names on any server."""
    texts: dict[str, str] = {}
    used: set[str] = {"tools"}  # attached as tools, not stored as an option
    for option in options.OPTIONS:
        if option.kind in ("extra", "tools") or not option.sent:
            continue
        for name in dict.fromkeys(n for n in option.wire.values() if n):
            found, value = _lookup(data, name)
            if not found:
                continue
            used.add(name.split(".")[0])
            if option.kind != "fixed":
                if option.kind == "lines" and isinstance(value, str):
                    value = [value]  # `stop` may be one string
                texts[option.key] = options.to_text(option, _checked(option, value, target, name))
            if option.when and option.when[1] and len(option.when[1]) == 1:
                # A field that only exists under one choice (structured_outputs.json) picks it.
                texts.setdefault(option.when[0], str(option.when[1][0]))
            break
    extra = {k: v for k, v in data.items() if k not in used and k not in _NOT_OPTIONS}
    if extra:
        texts["extra_json"] = json.dumps(extra)
    checked = options.check(texts, target, messages=messages, tools=tools)
    if not checked.ok:
        problem = next(iter(checked.errors.values()))
        raise ImportRejected(f"The request options could not be used: {problem}")
    return options.update({}, texts, target)


def _lookup(data: dict[str, Any], path: str) -> tuple[bool, Any]:
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node
