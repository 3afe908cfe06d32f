"""Import a conversation: a HexPlay export (format 2 with the whole tree, or format 1) or any
plain OpenAI chat request body, checked whole before anything is stored.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from playground import options, variables
from playground.exports import FORMAT, NOT_OPTIONS, TREE_NUMBERS, TREE_TEXTS
from playground.markdown import render_markdown
from playground.models import (
    Conversation,
    Message,
    ToolDefinition,
    check_tool_calls,
    free_tool_name,
)
from playground.tools import ToolSpec, ToolsRejected, parse_tools
from playground.upstream.connections import Connection, default_connection, get_connection

ROLES = [role.value for role in Message.Role]
# The most messages one import may hold; a 20 MB file of short messages could hold millions.
MAX_MESSAGES = 10_000
# Format 1: per-message extras kept under hexplay.messages, with the type each must have.
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


class ImportRejected(Exception):
    """The file cannot be imported; the text names what is wrong in plain words."""


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
    variables: dict[str, str] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)  # format 1 and plain bodies
    tree: list[_Node] | None = None  # format 2: every message, by position
    current: int | None = None  # the position of the message on screen in `tree`
    tools: list[ToolSpec] = field(default_factory=list)


@dataclass
class _Node:
    """One message of hexplay.tree: its fields, and its links by position in the tree."""

    fields: dict[str, Any]
    parent: int | None = None
    candidate_of: int | None = None


def check(data: dict[str, Any]) -> None:
    """Raise ImportRejected when `data` could not be imported; store nothing."""
    if not isinstance(data, dict):
        raise ImportRejected("The JSON must be an object with a messages list.")
    _read(data)


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
        variables=plan.variables,
    )
    if plan.tree is None:
        conversation.append_branch(plan.rows)
    else:
        _create_tree(conversation, plan.tree, plan.current)
    _attach_imported_tools(conversation, plan.tools)
    if not conversation.title:
        conversation.rename("")  # suggested from the first message, as for a new conversation
    return conversation


def _create_tree(conversation: Conversation, tree: list[_Node], current: int | None) -> None:
    """Every message in file order, so each version is created after the ones before it."""
    saved: list[Message] = []
    for node in tree:
        parent = saved[node.parent] if node.parent is not None else None
        saved.append(conversation.messages.create(parent=parent, **node.fields))
    # A candidate may come before the first of its group (after a move by hand), hence after.
    linked = []
    for message, node in zip(saved, tree, strict=True):
        if node.candidate_of is not None:
            message.candidate_of = saved[node.candidate_of]
            linked.append(message)
    Message.objects.bulk_update(linked, ["candidate_of"])
    conversation.current = saved[current] if current is not None else None
    conversation.save(update_fields=["current", "updated"])


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
    version = _format(hexplay)
    messages = data.get("messages")
    if messages is None:
        raise ImportRejected("messages is missing: a request body has a list of messages.")
    if not isinstance(messages, list):
        raise ImportRejected("messages must be a list.")
    if len(messages) > MAX_MESSAGES:
        raise ImportRejected(f"messages has {len(messages):,} messages: at most {MAX_MESSAGES:,}.")
    plan = _Plan()
    if version >= 2:
        # The tree is the conversation; `messages` is only the body to post.
        plan.tree, plan.current = _tree(hexplay)
    if not messages and not plan.tree:
        raise ImportRejected("messages is empty: there is nothing to import.")
    extras = hexplay.get("messages", [{} for _ in messages]) if version < 2 else None
    if extras is not None and (not isinstance(extras, list) or len(extras) != len(messages)):
        raise ImportRejected(
            f"hexplay.messages must be a list with one entry per message ({len(messages)})."
        )
    plan.model = _text(data, "model", "model")
    plan.connection = (
        get_connection(_text(hexplay, "connection", "hexplay.connection"))
        if hexplay.get("connection")
        else default_connection()
    )
    wire: list[dict[str, Any]] = []
    for index, raw in enumerate(messages):
        row = _message(raw, index)
        wire.append(raw)
        extra = extras[index] if extras is not None else {}
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
    plan.variables = _variables(hexplay.get("variables", {}))
    return plan


def _format(hexplay: dict[str, Any]) -> int:
    version = hexplay.get("format", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ImportRejected("hexplay.format must be a whole number (1 or 2).")
    if version > FORMAT:
        raise ImportRejected(
            f"This file is format {version}, from a newer HexPlay; this one reads formats 1 "
            f"to {FORMAT}."
        )
    return version


def _tree(hexplay: dict[str, Any]) -> tuple[list[_Node], int | None]:
    """hexplay.tree and hexplay.current, every field checked: the file is untrusted."""
    tree = hexplay.get("tree")
    if not isinstance(tree, list):
        raise ImportRejected(
            "hexplay.tree is missing or not a list: a format 2 file lists every message there."
        )
    if len(tree) > MAX_MESSAGES:
        raise ImportRejected(
            f"hexplay.tree has {len(tree):,} messages: HexPlay imports at most {MAX_MESSAGES:,}."
        )
    nodes = [_tree_node(raw, index) for index, raw in enumerate(tree)]
    for index in range(len(nodes)):
        _check_candidate(nodes, index)
    current = hexplay.get("current")
    if current is not None and not _position(current, len(nodes)):
        raise ImportRejected(
            "hexplay.current must be the position of a message in hexplay.tree "
            f"(0 to {len(nodes) - 1}), or null."
        )
    return nodes, current


def _position(value: Any, below: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < below


def _tree_node(raw: Any, index: int) -> _Node:
    at = f"hexplay.tree[{index}]"
    if not isinstance(raw, dict):
        raise ImportRejected(f"{at} must be an object with a role and content.")
    parent = raw.get("parent")
    if parent is not None and not _position(parent, index):
        raise ImportRejected(
            f"{at}.parent must be the position of an earlier message in hexplay.tree "
            f"(0 to {index - 1}), or null for a first message."
            if index
            else f"{at}.parent must be null: the first message follows none."
        )
    role = raw.get("role")
    if role not in ROLES:
        shown = "is missing" if role is None else f"is {json.dumps(role)}"
        raise ImportRejected(f"{at}.role must be one of {', '.join(ROLES)} ({shown}).")
    fields: dict[str, Any] = {"role": role}
    for name in TREE_TEXTS:
        value = raw.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise ImportRejected(f"{at}.{name} must be a string.")
        longest = Message._meta.get_field(name).max_length
        if longest and len(value) > longest:
            raise ImportRejected(f"{at}.{name} is longer than {longest} characters.")
        fields[name] = value
    allowed = [s.value for s in Message.Status if s != Message.Status.STREAMING]
    if fields.get("status", Message.Status.COMPLETE) not in allowed:
        raise ImportRejected(f"{at}.status must be one of {', '.join(allowed)}.")
    for name in TREE_NUMBERS:
        value = raw.get(name)
        if value is None:
            continue
        if not isinstance(value, _NUMBER) or isinstance(value, bool) or not math.isfinite(value):
            raise ImportRejected(f"{at}.{name} must be a number.")
        if value < 0:
            raise ImportRejected(f"{at}.{name} cannot be negative.")
        fields[name] = value
    if raw.get("tool_calls"):
        if role != Message.Role.ASSISTANT:
            raise ImportRejected(f"{at}.tool_calls is only allowed on assistant messages.")
        try:
            fields["tool_calls"] = check_tool_calls(raw["tool_calls"], f"{at}.tool_calls")
        except ValueError as exc:
            raise ImportRejected(f"{exc}.") from None
    if role == Message.Role.TOOL and not fields.get("tool_call_id", "").strip():
        raise ImportRejected(
            f"{at}.tool_call_id is missing: a tool message answers a tool call by its id."
        )
    if raw.get("usage") is not None:
        fields["usage"] = _usage(raw["usage"], f"{at}.usage")
    if raw.get("logprobs") is not None:
        fields["logprobs"] = _logprobs(raw["logprobs"], f"{at}.logprobs") or None
    if raw.get("request_body") is not None:
        fields["request_body"] = _request_body(raw["request_body"], f"{at}.request_body")
    # The HTML is made here from the Markdown, never taken from a file.
    fields["content_html"] = (
        render_markdown(fields.get("content", "")) if role == Message.Role.ASSISTANT else ""
    )
    node = _Node(fields, parent)
    if raw.get("candidate_of") is not None:
        node.candidate_of = raw["candidate_of"]
        number = raw.get("candidate_index")
        if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= 32767:
            raise ImportRejected(f"{at}.candidate_index must be a whole number from 1 to 32767.")
        fields["candidate_index"] = number
    return node


def _check_candidate(nodes: list[_Node], index: int) -> None:
    """A candidate points to the first answer of its group: another answer, itself first."""
    target = nodes[index].candidate_of
    if target is None:
        return
    at = f"hexplay.tree[{index}]"
    if nodes[index].fields["role"] != Message.Role.ASSISTANT:
        raise ImportRejected(f"{at}.candidate_of is only allowed on assistant messages.")
    if (
        not _position(target, len(nodes))
        or target == index
        or nodes[target].fields["role"] != Message.Role.ASSISTANT
        or nodes[target].candidate_of is not None
    ):
        raise ImportRejected(
            f"{at}.candidate_of must be the position of another answer in hexplay.tree, the "
            "first candidate of its group."
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, _NUMBER) and not isinstance(value, bool) and math.isfinite(value)


def _usage(value: Any, at: str) -> dict[str, Any]:
    """Token counts: numbers, flags, or one level of details of numbers (vLLM's shape)."""
    if not isinstance(value, dict):
        raise ImportRejected(f"{at} must be an object of token counts.")
    for key, count in value.items():
        nested = isinstance(count, dict) and all(c is None or _is_number(c) for c in count.values())
        if not (count is None or isinstance(count, bool) or _is_number(count) or nested):
            raise ImportRejected(f"{at}.{key} must be a number.")
    return value


def _logprobs(value: Any, at: str) -> list[dict[str, Any]]:
    """vLLM's `logprobs.content` entries, keeping only the fields of that format."""
    if not isinstance(value, list):
        raise ImportRejected(f"{at} must be a list of tokens with their logprob.")
    entries = []
    for number, entry in enumerate(value):
        token = _token(entry, f"{at}[{number}]")
        alternatives = entry.get("top_logprobs")
        if alternatives is not None:
            if not isinstance(alternatives, list):
                raise ImportRejected(f"{at}[{number}].top_logprobs must be a list.")
            token["top_logprobs"] = [
                _token(alt, f"{at}[{number}].top_logprobs[{n}]")
                for n, alt in enumerate(alternatives)
            ]
        entries.append(token)
    return entries


def _token(entry: Any, at: str) -> dict[str, Any]:
    if not isinstance(entry, dict) or not isinstance(entry.get("token"), str):
        raise ImportRejected(f"{at} must be an object with a token (a string) and a logprob.")
    if not _is_number(entry.get("logprob")):
        raise ImportRejected(f"{at}.logprob must be a number.")
    token = {"token": entry["token"], "logprob": entry["logprob"]}
    if "bytes" in entry:
        raw = entry["bytes"]
        if raw is not None and not (
            isinstance(raw, list)
            and all(isinstance(b, int) and not isinstance(b, bool) and 0 <= b < 256 for b in raw)
        ):
            raise ImportRejected(f"{at}.bytes must be a list of bytes (0 to 255), or null.")
        token["bytes"] = raw
    return token


def _request_body(value: Any, at: str) -> dict[str, Any]:
    """The body an answer was asked with; the page reads its n and its tools."""
    if not isinstance(value, dict):
        raise ImportRejected(f"{at} must be an object.")
    body = {k: v for k, v in value.items() if k != "messages"}
    n = body.get("n")
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
        raise ImportRejected(f"{at}.n must be a whole number of at least 1.")
    found = body.get("tools")
    if found:
        if not isinstance(found, list):
            raise ImportRejected(f"{at}.tools must be a list of tools.")
        try:
            body["tools"] = [spec.as_openai() for spec in parse_tools(json.dumps(found))]
        except ToolsRejected as exc:
            raise ImportRejected(f"{at}.tools: {exc}") from None
    return body


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
    extra = {k: v for k, v in data.items() if k not in used and k not in NOT_OPTIONS}
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


def _variables(value: Any) -> dict[str, str]:
    named = isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    if (
        not named
        or variables.posted({f"var-{k}": v for k, v in value.items()}).keys() != value.keys()
    ):
        raise ImportRejected(
            'hexplay.variables must be an object of texts by variable name, like {"city": "Paris"}.'
        )
    return dict(value)
