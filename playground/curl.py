"""A request body as a runnable cURL command, and as Python and JavaScript that post the same."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from playground import options

BASE_URL_VARIABLE = "MISTRAL_BASE_URL"
# The SDK the Python snippet imports, with the major versions its code is written for.
OPENAI_REQUIREMENT = "openai>=3,<4"
MISTRAL_REQUIREMENT = "mistralai>=3,<4"
# The body fields mistralai 3.x's chat.stream and chat.complete take (a test holds this to the
# SDK). It has no extra_body, so a body with any other field is written for the openai SDK,
# which Mistral's API also answers.
MISTRAL_SDK_FIELDS = frozenset(
    [
        "model",
        "messages",
        "temperature",
        "top_p",
        "max_tokens",
        "stream",
        "stop",
        "random_seed",
        "metadata",
        "response_format",
        "tools",
        "tool_choice",
        "presence_penalty",
        "frequency_penalty",
        "min_tokens",
        "repetition_penalty",
        "top_k",
        "logprobs",
        "top_logprobs",
        "prompt_logprobs",
        "top_prompt_logprobs",
        "n",
        "prediction",
        "parallel_tool_calls",
        "reasoning_effort",
        "prompt_mode",
        "guardrails",
        "prompt_cache_key",
        "service_tier",
        "safe_prompt",
    ]
)


def key_variable(target: str) -> str:
    """The environment variable the snippets read the key from (HexGrid's docs name it)."""
    return "MISTRAL_API_KEY" if target == options.MISTRAL else "HEXGRID_API_KEY"


@dataclass(frozen=True)
class Snippets:
    setup: str  # the environment the snippets expect
    curl: str
    python: str
    javascript: str


def snippets(
    body: dict[str, Any], *, target: str, base_url: str, with_key: bool, literal_url: bool = False
) -> Snippets:
    """The request in three languages. With `literal_url` (any server but HexGrid's) they name
    its base URL, so a copied command runs as it is; otherwise `$MISTRAL_BASE_URL`, as in
    HexGrid's docs."""
    url = _public(base_url) if literal_url else None
    return Snippets(
        setup=setup(
            body, target=target, base_url=base_url, with_key=with_key, literal_url=literal_url
        ),
        curl=curl_command(body, target=target, with_key=with_key, base_url=url),
        python=python(body, target=target, with_key=with_key, base_url=url),
        javascript=javascript_fetch(body, target=target, with_key=with_key, base_url=url),
    )


def uses_mistral_sdk(body: dict[str, Any], target: str) -> bool:
    return target == options.MISTRAL and set(body) <= MISTRAL_SDK_FIELDS


def shell_quote(text: str) -> str:
    """`text` as one single-quoted shell word: a ' inside becomes '\\''."""
    return "'" + text.replace("'", "'\\''") + "'"


def _public(url: str) -> str:
    """The URL without any user name or password it may carry."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


def setup(
    body: dict[str, Any], *, target: str, base_url: str, with_key: bool, literal_url: bool = False
) -> str:
    lines = [] if literal_url else [f"export {BASE_URL_VARIABLE}={shell_quote(_public(base_url))}"]
    if with_key:
        lines.append(f"# and your key: export {key_variable(target)}='…' (HexPlay never shows it)")
    requirement = MISTRAL_REQUIREMENT if uses_mistral_sdk(body, target) else OPENAI_REQUIREMENT
    lines.append(f'pip install "{requirement}"  # for the Python snippet')
    return "\n".join(lines)


def pretty_json(body: Any) -> str:
    return json.dumps(body, indent=2, ensure_ascii=False)


def curl_command(
    body: dict[str, Any], *, target: str, with_key: bool, base_url: str | None = None
) -> str:
    """The cURL command in the style of HexGrid's docs; its JSON is exactly `body`."""
    streaming = "-N " if body.get("stream") else ""
    url = (
        shell_quote(f"{base_url}/chat/completions")
        if base_url
        else f'"${BASE_URL_VARIABLE}/chat/completions"'
    )
    lines = [f"curl {streaming}-X POST {url}"]
    if with_key:
        lines.append(f'-H "Authorization: Bearer ${key_variable(target)}"')
    lines.append('-H "Content-Type: application/json"')
    lines.append("-d " + shell_quote(pretty_json(body)))
    return " \\\n  ".join(lines)


# --- Python ------------------------------------------------------------------------------------


def python_literal(value: Any, indent: int = 0) -> str:
    """`value` as Python source, laid out like pretty-printed JSON."""
    pad, inner = " " * indent, " " * (indent + 4)
    if isinstance(value, dict) and value:
        items = [
            f"{inner}{json.dumps(k)}: {python_literal(v, indent + 4)}," for k, v in value.items()
        ]
        return "{\n" + "\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list) and value:
        items = [f"{inner}{python_literal(v, indent + 4)}," for v in value]
        return "[\n" + "\n".join(items) + f"\n{pad}]"
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, dict | list):
        return "{}" if isinstance(value, dict) else "[]"
    # JSON's number and string syntax is valid Python (strings: same escapes, double quotes).
    return json.dumps(value, ensure_ascii=False)


def _arguments(arguments: dict[str, Any], indent: int) -> str:
    pad = " " * indent
    return "\n".join(f"{pad}{name}={python_literal(v, indent)}," for name, v in arguments.items())


# The body fields the openai 3.x SDK's chat.completions.create names (a test holds this to the
# SDK); any other field goes in extra_body, as vLLM's docs say.
OPENAI_SDK_FIELDS = frozenset(
    [
        "messages",
        "model",
        "audio",
        "frequency_penalty",
        "function_call",
        "functions",
        "logit_bias",
        "logprobs",
        "max_completion_tokens",
        "max_tokens",
        "metadata",
        "modalities",
        "moderation",
        "n",
        "parallel_tool_calls",
        "prediction",
        "presence_penalty",
        "prompt_cache_key",
        "prompt_cache_options",
        "prompt_cache_retention",
        "reasoning_effort",
        "response_format",
        "safety_identifier",
        "seed",
        "service_tier",
        "stop",
        "store",
        "stream",
        "stream_options",
        "temperature",
        "tool_choice",
        "tools",
        "top_logprobs",
        "top_p",
        "user",
        "verbosity",
        "web_search_options",
    ]
)


def _python_url(base_url: str | None) -> str:
    return json.dumps(base_url) if base_url else f'os.environ["{BASE_URL_VARIABLE}"]'


def python(
    body: dict[str, Any], *, target: str, with_key: bool, base_url: str | None = None
) -> str:
    """The Python for the target's own SDK, where it can send every field of the body."""
    if uses_mistral_sdk(body, target):
        return mistral_python(body, target=target, with_key=with_key, base_url=base_url)
    source = openai_python(body, target=target, with_key=with_key, base_url=base_url)
    if target != options.MISTRAL:
        return source
    others = ", ".join(sorted(set(body) - MISTRAL_SDK_FIELDS))
    return (
        f"# The mistralai SDK cannot send {others}. Mistral's API also answers the openai SDK,\n"
        "# which sends such fields in extra_body.\n" + source
    )


def openai_python(
    body: dict[str, Any], *, target: str, with_key: bool, base_url: str | None = None
) -> str:
    """The openai SDK's call; fields it does not name go in extra_body, as vLLM's docs say."""
    arguments = {k: v for k, v in body.items() if k in OPENAI_SDK_FIELDS}
    extra = {k: v for k, v in body.items() if k not in OPENAI_SDK_FIELDS}
    if extra:
        arguments["extra_body"] = extra
    key = f'os.environ["{key_variable(target)}"]' if with_key else '"none"'
    streaming = bool(body.get("stream"))
    result = "stream" if streaming else "completion"
    lines = [
        "import os",
        "",
        "from openai import OpenAI",
        "",
        f"client = OpenAI(base_url={_python_url(base_url)}, api_key={key})",
        f"{result} = client.chat.completions.create(",
        _arguments(arguments, 4),
        ")",
    ]
    if streaming:
        lines += [
            "for chunk in stream:",
            "    for choice in chunk.choices:",
            '        print(choice.delta.content or "", end="", flush=True)',
            "print()",
        ]
    else:
        lines.append("print(completion.choices[0].message.content)")
    return "\n".join(lines)


def mistral_python(
    body: dict[str, Any], *, target: str, with_key: bool, base_url: str | None = None
) -> str:
    """The mistralai SDK's call, as in Mistral's reference: chat.stream or chat.complete."""
    streaming = bool(body.get("stream"))
    arguments = {k: v for k, v in body.items() if k != "stream"}
    key = f'os.getenv("{key_variable(target)}", "")'
    lines = [
        "import os",
        "",
        "from mistralai.client import Mistral",
        "",
        "# The SDK adds /v1 itself.",
        f'server_url = {_python_url(base_url)}.removesuffix("/v1")',
        f"with Mistral(api_key={key}, server_url=server_url) as mistral:",
        f"    res = mistral.chat.{'stream' if streaming else 'complete'}(",
        _arguments(arguments, 8),
        "    )",
    ]
    if streaming:
        lines += [
            "    with res as events:",
            "        for event in events:",
            "            for choice in event.data.choices:",
            '                print(choice.delta.content or "", end="", flush=True)',
            "    print()",
        ]
    else:
        lines.append("    print(res.choices[0].message.content)")
    return "\n".join(lines)


# --- JavaScript --------------------------------------------------------------------------------


def _javascript_url(base_url: str | None) -> str:
    if base_url:
        return json.dumps(f"{base_url}/chat/completions")
    return f"`${{process.env.{BASE_URL_VARIABLE}}}/chat/completions`"


def javascript_fetch(
    body: dict[str, Any], *, target: str, with_key: bool, base_url: str | None = None
) -> str:
    """A Node 18+ ES module (request.mjs) posting `body` with fetch and printing the answer."""
    headers = ['    "Content-Type": "application/json",']
    if with_key:
        headers.append(f"    Authorization: `Bearer ${{process.env.{key_variable(target)}}}`,")
    # JSON is valid JavaScript, so the object below is the body itself.
    payload = pretty_json(body).replace("\n", "\n  ")
    lines = [
        "// Node 18 or later: save as request.mjs and run `node request.mjs`.",
        f"const response = await fetch({_javascript_url(base_url)}, {{",
        '  method: "POST",',
        "  headers: {",
        *headers,
        "  },",
        f"  body: JSON.stringify({payload}),",
        "});",
        "if (!response.ok) throw new Error(`${response.status}: ${await response.text()}`);",
    ]
    if body.get("stream"):
        lines += [
            "const decoder = new TextDecoder();",
            'let buffer = "";',
            "for await (const bytes of response.body) {",
            "  buffer += decoder.decode(bytes, { stream: true });",
            '  const events = buffer.split("\\n\\n");',
            "  buffer = events.pop();",
            "  for (const event of events) {",
            '    if (!event.startsWith("data: ") || event === "data: [DONE]") continue;',
            "    for (const choice of JSON.parse(event.slice(6)).choices ?? []) {",
            '      process.stdout.write(choice.delta?.content ?? "");',
            "    }",
            "  }",
            "}",
            'process.stdout.write("\\n");',
        ]
    else:
        lines.append("console.log((await response.json()).choices[0].message.content);")
    return "\n".join(lines)
