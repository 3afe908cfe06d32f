"""The one registry of request options: the form, its checks, the body and the docs come from it.

Each option is declared once, by intent (`seed`), with the API name it has on each target
(`seed` for vLLM and llama.cpp, `random_seed` for Mistral's API). A target that does not list
an option does not accept it, so the option is hidden there and never sent: Mistral's API
answers unknown fields with 422 and vLLM silently ignores them.

A conversation stores the person's values under the option keys (`Conversation.options`);
an option that is not stored is unset and left out of the body, so the server's default
applies. Text that could not be read is stored as typed under `INVALID`, so the panel shows
it again with its error and nothing is sent until it is fixed.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from playground import tools

VLLM, MISTRAL, LLAMACPP = "vllm", "mistral", "llamacpp"
TARGETS = {VLLM: "vLLM", MISTRAL: "Mistral API", LLAMACPP: "llama.cpp"}
# Where text that could not be read is kept, as typed, by option key.
INVALID = "_invalid"
# Integers stay exact in every snippet: JavaScript numbers are doubles.
_SAFE_INT = 2**53 - 1


def target_of(dialect: str) -> str:
    """The option target for a connection's dialect (vLLM unless it says otherwise)."""
    return dialect if dialect in TARGETS else VLLM


@dataclass(frozen=True)
class Group:
    key: str
    title: str
    open: bool  # basic groups start open, advanced ones collapsed
    note: str = ""
    # What the panel says instead, on a target that accepts none of the group's options.
    elsewhere: Mapping[str, str] = field(default_factory=dict)


GROUPS = [
    Group("sampling", "Sampling", True),
    Group("length", "Length & stopping", True),
    Group("format", "Output format", True),
    Group(
        "tools",
        "Tools",
        True,
        elsewhere={
            LLAMACPP: "llama.cpp's local model does not use tools (SmolLM2 would answer in plain "
            "text), so none are sent to it. Switch the connection to the Simulator or HexGrid to "
            "try tools; a llama.cpp server whose model calls tools can get them through Extra "
            "JSON."
        },
    ),
    Group("penalties", "Penalties", False),
    Group("output", "Output", False),
    Group("reasoning", "Reasoning", False),
    Group("prompt", "Prompt", False),
    Group("serving", "Serving", False),
    Group("mistral", "Mistral API only", True),
    Group("extra", "Extra JSON", False, "For fields this panel does not have."),
]


@dataclass(frozen=True)
class Option:
    """One request option, as the form, the checks, the body and the docs all see it."""

    key: str  # the form field name and the key in Conversation.options
    label: str  # the plain name, shown beside the API name
    # See _PARSERS; "fixed" has a constant value, "extra" is merged into the body, "tools" is
    # the conversation's attached tools (a list of checkboxes, not typed).
    kind: str
    group: str
    help: str  # one plain sentence
    wire: Mapping[str, str]  # target -> dotted path in the body; absent target = not accepted
    default: str = "server default"  # what happens when unset, in words
    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None  # an exclusive lower bound
    limits: Mapping[str, tuple[float | None, float | None]] = field(default_factory=dict)
    special: Mapping[int, str] = field(default_factory=dict)  # allowed outside the range
    choices: tuple[str, ...] = ()
    target_choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    max_items: int | None = None
    max_length: int | None = None
    check: Callable[[Any], str | None] | None = None  # more checks; returns the problem
    initial: Any = None  # HexPlay's own starting value; None = unset
    # Only used while another option has one of these values (None: has any value).
    when: tuple[str, tuple[Any, ...] | None] | None = None
    required: bool = False  # needed while `when` holds
    value: Any = None  # the constant of a "fixed" option
    shown: bool = True  # hidden options are derived from others
    sent: bool = True  # a selector that only picks which other options apply

    @property
    def typed(self) -> bool:
        """Whether the person types (or picks) its value in a field of its own."""
        return self.kind not in ("fixed", "tools")

    def api_name(self, target: str) -> str:
        return self.wire[target]

    def range_for(self, target: str) -> tuple[float | None, float | None]:
        return self.limits.get(target, (self.minimum, self.maximum))

    def choices_for(self, target: str) -> tuple[str, ...]:
        return self.target_choices.get(target, self.choices)


def _on(*targets: str, name: str) -> dict[str, str]:
    return dict.fromkeys(targets, name)


def _all(name: str) -> dict[str, str]:
    return _on(VLLM, MISTRAL, LLAMACPP, name=name)


def _vllm(name: str) -> dict[str, str]:
    return {VLLM: name}


def _openai(name: str) -> dict[str, str]:
    """Fields of OpenAI's API that vLLM and llama.cpp both read."""
    return _on(VLLM, LLAMACPP, name=name)


def _cache_salt_problem(value: str) -> str | None:
    if any(c in value for c in "@/\\\0"):
        return "Cache salt cannot contain @, / or \\."
    return None


def _documents_problem(value: Any) -> str | None:
    if not isinstance(value, list) or not all(
        isinstance(doc, dict) and all(isinstance(v, str) for v in doc.values()) for doc in value
    ):
        return (
            "Documents must be a JSON list of objects with text values, "
            'like [{"title": "…", "text": "…"}].'
        )
    return None


def _structural_tag_problem(value: Any) -> str | None:
    if not isinstance(value.get("type"), str):
        return 'A structural tag is an object with a "type", like {"type": "triggered_tags", …}.'
    return None


OPTIONS: list[Option] = [
    # --- Sampling ---------------------------------------------------------------------------
    Option(
        "temperature", "Temperature", "number", "sampling",
        "How adventurous the word choice is: 0 always takes the likeliest word, higher values "
        "vary more.",
        _all("temperature"), "1.0, or the model's own default",
        minimum=0, maximum=2, limits={MISTRAL: (0, 1.5)},
    ),
    Option(
        "top_p", "Top P", "number", "sampling",
        "Sample only from the likeliest words whose probabilities add up to this share "
        "(1 = all words).",
        _all("top_p"), "1.0", above=0, maximum=1,
    ),
    Option(
        "top_k", "Top K", "integer", "sampling",
        "Sample only from the K likeliest words (0 = no limit).",
        _openai("top_k"), "0 (no limit)", minimum=0, maximum=_SAFE_INT, special={-1: "no limit"},
    ),
    Option(
        "min_p", "Min P", "number", "sampling",
        "Drop words less likely than this fraction of the likeliest word's probability "
        "(0 = off).",
        _openai("min_p"), "0.0", minimum=0, maximum=1,
    ),
    Option(
        "typical_p", "Typical P", "number", "sampling",
        "Keep only words about as surprising as the text so far (1 = off).",
        {LLAMACPP: "typical_p"}, "1.0", minimum=0, maximum=1,
    ),
    Option(
        "mirostat", "Mirostat", "integer", "sampling",
        "Adapt the sampling as it goes to keep the text's surprise near a target (1 or 2 picks "
        "the algorithm's version, 0 is off).",
        {LLAMACPP: "mirostat"}, "0 (off)", minimum=0, maximum=2,
    ),
    Option(
        "mirostat_tau", "Mirostat target", "number", "sampling",
        "With Mirostat on, the surprise it aims for: lower is more focused.",
        {LLAMACPP: "mirostat_tau"}, "5.0", minimum=0, maximum=20,
    ),
    Option(
        "mirostat_eta", "Mirostat learning rate", "number", "sampling",
        "With Mirostat on, how quickly it reacts to the text so far.",
        {LLAMACPP: "mirostat_eta"}, "0.1", minimum=0, maximum=1,
    ),
    Option(
        "seed", "Seed", "integer", "sampling",
        "The same seed, settings and messages give the same answer again (best effort).",
        {VLLM: "seed", LLAMACPP: "seed", MISTRAL: "random_seed"}, "a random one each time",
        minimum=0, maximum=_SAFE_INT, limits={LLAMACPP: (0, 2**32 - 2)},
    ),
    # --- Length & stopping ------------------------------------------------------------------
    Option(
        "max_tokens", "Max tokens", "integer", "length",
        "The longest answer, in tokens; the model stops there with finish reason length.",
        {VLLM: "max_completion_tokens", MISTRAL: "max_tokens", LLAMACPP: "max_tokens"},
        "as much as the context allows", minimum=1, maximum=_SAFE_INT,
        limits={MISTRAL: (0, _SAFE_INT)},
    ),
    Option(
        "min_tokens", "Min tokens", "integer", "length",
        "The model may not end, or stop at a stop text, before writing this many tokens.",
        _vllm("min_tokens"), "0", minimum=0, maximum=_SAFE_INT,
    ),
    Option(
        "stop", "Stop texts", "lines", "length",
        "The answer ends where the model writes one of these, one per line (up to 4; write \\n "
        "for a line break).",
        _all("stop"), "none", max_items=4,
    ),
    Option(
        "stop_token_ids", "Stop token ids", "token_ids", "length",
        "Token ids that also end the answer, besides the model's own end token.",
        _vllm("stop_token_ids"), "none",
    ),
    Option(
        "include_stop_str_in_output", "Keep the stop text", "boolean", "length",
        "Keep the stop text at the end of the answer instead of cutting it off.",
        _vllm("include_stop_str_in_output"), "off",
    ),
    Option(
        "ignore_eos", "Ignore end of text", "boolean", "length",
        "Keep writing past the model's end-of-text token, until Max tokens or a stop text.",
        _openai("ignore_eos"), "off",
    ),
    # --- Output format ----------------------------------------------------------------------
    Option(
        "response_format", "Response format", "choice", "format",
        "Text is free; JSON object is any JSON; JSON schema is JSON that fits your schema; "
        "structural tag is tagged sections.",
        _all("response_format.type"), "text",
        choices=("text", "json_object", "json_schema", "structural_tag"),
        target_choices={
            MISTRAL: ("text", "json_object", "json_schema"),
            LLAMACPP: ("text", "json_object", "json_schema"),
        },
    ),
    Option(
        "json_schema_name", "Schema name", "text", "format",
        "A name for the schema, such as person.",
        _all("response_format.json_schema.name"), "none", max_length=64,
        when=("response_format", ("json_schema",)), required=True,
    ),
    Option(
        "json_schema_description", "Schema description", "text", "format",
        "What the schema is for, in words the model reads.",
        _all("response_format.json_schema.description"), "none",
        when=("response_format", ("json_schema",)),
    ),
    Option(
        "json_schema_strict", "Strict schema", "boolean", "format",
        "Ask for exact adherence to the schema.",
        _all("response_format.json_schema.strict"), "off",
        when=("response_format", ("json_schema",)),
    ),
    Option(
        "json_schema", "Schema", "schema", "format",
        "The JSON Schema the answer must fit.",
        _all("response_format.json_schema.schema"), "none",
        when=("response_format", ("json_schema",)), required=True,
    ),
    Option(
        "structural_tag_format", "Structural tag", "json_object", "format",
        "The structural tag, as xgrammar defines it: a JSON object with its own type.",
        _vllm("response_format.format"), "none", check=_structural_tag_problem,
        when=("response_format", ("structural_tag",)), required=True,
    ),
    Option(
        "structured_outputs", "Structured output", "choice", "format",
        "Constrain the answer with one rule: a JSON schema, a regular expression, a list of "
        "choices, a grammar, any JSON, or a structural tag.",
        _vllm("structured_outputs"), "none",
        choices=("json", "regex", "choice", "grammar", "json_object", "structural_tag"),
        sent=False,
    ),
    Option(
        "structured_json", "JSON schema", "schema", "format",
        "The JSON Schema the answer must fit.",
        _vllm("structured_outputs.json"), "none",
        when=("structured_outputs", ("json",)), required=True,
    ),
    Option(
        "structured_regex", "Regular expression", "regex", "format",
        "The answer matches this regular expression.",
        _vllm("structured_outputs.regex"), "none",
        when=("structured_outputs", ("regex",)), required=True,
    ),
    Option(
        "structured_choice", "Choices", "lines", "format",
        "The answer is exactly one of these, one per line.",
        _vllm("structured_outputs.choice"), "none",
        when=("structured_outputs", ("choice",)), required=True,
    ),
    Option(
        "structured_grammar", "Grammar", "longtext", "format",
        "An EBNF (GBNF) or Lark grammar the answer must follow.",
        _vllm("structured_outputs.grammar"), "none",
        when=("structured_outputs", ("grammar",)), required=True,
    ),
    Option(
        "structured_json_object", "Any JSON", "fixed", "format",
        "The answer is a JSON object.",
        _vllm("structured_outputs.json_object"), value=True, shown=False,
        when=("structured_outputs", ("json_object",)),
    ),
    Option(
        "structured_structural_tag", "Structural tag", "json_text", "format",
        "The structural tag, as xgrammar defines it, in JSON.",
        _vllm("structured_outputs.structural_tag"), "none",
        when=("structured_outputs", ("structural_tag",)), required=True,
    ),
    Option(
        "disable_any_whitespace", "No free whitespace", "boolean", "format",
        "Generate JSON without optional spaces and line breaks.",
        _vllm("structured_outputs.disable_any_whitespace"), "off",
        when=("structured_outputs", None),
    ),
    Option(
        "disable_additional_properties", "No extra properties", "boolean", "format",
        "Objects get only the properties the schema names.",
        _vllm("structured_outputs.disable_additional_properties"), "off",
        when=("structured_outputs", None),
    ),
    Option(
        "whitespace_pattern", "Whitespace pattern", "regex", "format",
        "A regular expression for the whitespace allowed between JSON tokens.",
        _vllm("structured_outputs.whitespace_pattern"), "the backend's default",
        when=("structured_outputs", None),
    ),
    # --- Tools ------------------------------------------------------------------------------
    Option(
        "tools", "Tools", "tools", "tools",
        "The tools you tick here, from your tool library, each sent with its name, description "
        "and parameters' JSON Schema.",
        _on(VLLM, MISTRAL, name="tools"), "no tools",
    ),
    Option(
        "tool_choice", "Tool choice", "tool_choice", "tools",
        "auto lets the model decide, none never calls, required (any) must call a tool, a tool's "
        "name must call it; after tool results auto is sent, so the model can answer.",
        _on(VLLM, MISTRAL, name="tool_choice"), "auto with tools, none without",
        choices=("auto", "none", "required"),
        target_choices={MISTRAL: ("auto", "none", "any", "required")},
    ),
    Option(
        "parallel_tool_calls", "Parallel tool calls", "boolean", "tools",
        "On lets the model call several tools in one answer; off allows one call at most.",
        _on(VLLM, MISTRAL, name="parallel_tool_calls"), "on",
    ),
    # --- Penalties --------------------------------------------------------------------------
    Option(
        "presence_penalty", "Presence penalty", "number", "penalties",
        "Above 0 steers towards words not used yet; below 0 towards repeating them.",
        _all("presence_penalty"), "0.0", minimum=-2, maximum=2,
    ),
    Option(
        "frequency_penalty", "Frequency penalty", "number", "penalties",
        "Above 0 makes a word less likely the more often it already appeared.",
        _all("frequency_penalty"), "0.0", minimum=-2, maximum=2,
    ),
    Option(
        "repetition_penalty", "Repetition penalty", "number", "penalties",
        "Above 1 makes every token already in the prompt or answer less likely (1 = off).",
        {VLLM: "repetition_penalty", LLAMACPP: "repeat_penalty"}, "1.0",
        above=0, maximum=10, limits={LLAMACPP: (0, 10)},
    ),
    Option(
        "repeat_last_n", "Penalty window", "integer", "penalties",
        "How many recent tokens the penalties look back over (0 = none, -1 = the whole context).",
        {LLAMACPP: "repeat_last_n"}, "64", minimum=0, maximum=_SAFE_INT,
        special={-1: "the whole context"},
    ),
    Option(
        "logit_bias", "Token bias", "token_biases", "penalties",
        'Make tokens likelier or rarer: one "token id: bias" per line, from -100 (never) to 100 '
        "(always).",
        _openai("logit_bias"), "none",
    ),
    Option(
        "bad_words", "Banned words", "lines", "penalties",
        "Words or phrases the model may not write, one per line.",
        _vllm("bad_words"), "none", max_items=128,
    ),
    Option(
        "allowed_token_ids", "Allowed token ids", "token_ids", "penalties",
        "Only these token ids may be written; every other token is banned.",
        _vllm("allowed_token_ids"), "all tokens",
    ),
    Option(
        "repetition_max_pattern", "Repetition: longest pattern", "integer", "penalties",
        "Stop with finish reason repetition when a run of up to this many tokens repeats "
        "(0 = off).",
        _vllm("repetition_detection.max_pattern_size"), "0 (off)", minimum=0, maximum=_SAFE_INT,
    ),
    Option(
        "repetition_min_pattern", "Repetition: shortest pattern", "integer", "penalties",
        "Ignore repeated runs shorter than this many tokens.",
        _vllm("repetition_detection.min_pattern_size"), "0", minimum=0, maximum=_SAFE_INT,
    ),
    Option(
        "repetition_min_count", "Repetition: times repeated", "integer", "penalties",
        "How many times in a row a run must repeat to stop the answer (2 or more).",
        _vllm("repetition_detection.min_count"), "0", minimum=0, maximum=_SAFE_INT,
    ),
    # --- Output -----------------------------------------------------------------------------
    Option(
        "n", "Candidates", "integer", "output",
        "How many different answers the server writes at once, from the same messages.",
        {VLLM: "n", MISTRAL: "n"}, "1", minimum=1, maximum=16384,
    ),
    Option(
        "logprobs", "Logprobs", "boolean", "output",
        "Return the probability of each token of the answer, and its likeliest alternatives.",
        _openai("logprobs"), "off",
    ),
    Option(
        "top_logprobs", "Top logprobs", "integer", "output",
        "How many likely alternatives to list for each token, up to 20 (needs Logprobs).",
        _openai("top_logprobs"), "0", minimum=0, maximum=20,
    ),
    Option(
        "prompt_logprobs", "Prompt logprobs", "integer", "output",
        "Probabilities of the prompt's own tokens; vLLM returns them only without streaming, "
        "and HexPlay always streams, so only 0 can be sent from here.",
        _vllm("prompt_logprobs"), "none", minimum=0, maximum=20, special={-1: "all"},
    ),
    Option(
        "logprob_token_ids", "Logprobs of token ids", "token_ids", "output",
        "Also return the probability of these token ids at every position (needs Logprobs; "
        "up to 128).",
        _vllm("logprob_token_ids"), "none", max_items=128,
    ),
    Option(
        "echo", "Echo", "boolean", "output",
        "Start the answer with the last message when it has the answer's role (with Continue "
        "final message).",
        _vllm("echo"), "off",
    ),
    Option(
        "skip_special_tokens", "Skip special tokens", "boolean", "output",
        "Leave special tokens such as [INST] out of the answer text.",
        _vllm("skip_special_tokens"), "on",
    ),
    Option(
        "spaces_between_special_tokens", "Spaces between special tokens", "boolean", "output",
        "Put a space between special tokens when they are shown.",
        _vllm("spaces_between_special_tokens"), "on",
    ),
    Option(
        "return_token_ids", "Return token ids", "boolean", "output",
        "Also return the token ids of the prompt and of every piece of the answer.",
        _vllm("return_token_ids"), "off",
    ),
    Option(
        "return_tokens_as_token_ids", "Tokens as ids in logprobs", "boolean", "output",
        "Name the tokens in logprobs as token_id:1234 instead of by their text.",
        _vllm("return_tokens_as_token_ids"), "the server's setting",
    ),
    Option(
        "use_beam_search", "Beam search", "boolean", "output",
        "Explore several continuations at once and keep the best (Candidates is the beam "
        "width).",
        _vllm("use_beam_search"), "off",
    ),
    Option(
        "length_penalty", "Length penalty", "number", "output",
        "Beam search: above 1 favours longer answers, below 1 shorter ones.",
        _vllm("length_penalty"), "1.0", minimum=-10, maximum=10,
        when=("use_beam_search", (True,)),
    ),
    # --- Reasoning --------------------------------------------------------------------------
    Option(
        "reasoning_effort", "Reasoning effort", "choice", "reasoning",
        "How much the model thinks before answering: none skips the thinking, high thinks "
        "fully (Mistral models know only these two).",
        {VLLM: "reasoning_effort", MISTRAL: "reasoning_effort"}, "the model's own habit",
        choices=("none", "high"),
        target_choices={MISTRAL: ("none", "minimal", "low", "medium", "high", "xhigh")},
    ),
    Option(
        "include_reasoning", "Include reasoning", "boolean", "reasoning",
        "Off leaves the model's reasoning out of the response (it still thinks).",
        _vllm("include_reasoning"), "on",
    ),
    Option(
        "thinking_token_budget", "Thinking budget", "integer", "reasoning",
        "The most tokens the model may spend thinking; needs a server started with a "
        "reasoning parser.",
        _vllm("thinking_token_budget"), "no limit", minimum=0, maximum=_SAFE_INT,
        special={-1: "no limit"},
    ),
    # --- Prompt -----------------------------------------------------------------------------
    Option(
        "continue_final_message", "Continue final message", "boolean", "prompt",
        "Carry on the last assistant message instead of starting a new one (Add generation "
        "prompt is switched off for you).",
        _vllm("continue_final_message"), "off",
    ),
    Option(
        "generation_prompt_off", "Add generation prompt", "fixed", "prompt",
        "Switched off for you while Continue final message is on.",
        _vllm("add_generation_prompt"), value=False, shown=False,
        when=("continue_final_message", (True,)),
    ),
    Option(
        "add_generation_prompt", "Add generation prompt", "boolean", "prompt",
        "Open the assistant's turn after the messages, as the chat template does.",
        _vllm("add_generation_prompt"), "on",
    ),
    Option(
        "add_special_tokens", "Add special tokens", "boolean", "prompt",
        "Add special tokens such as BOS on top of those the chat template adds.",
        _vllm("add_special_tokens"), "off",
    ),
    Option(
        "documents", "Documents", "json_array", "prompt",
        'Documents for chat templates that cite sources, as a JSON list of {"title": …, '
        '"text": …} objects.',
        _vllm("documents"), "none", check=_documents_problem,
    ),
    Option(
        "truncate_prompt_tokens", "Truncate prompt", "integer", "prompt",
        "Keep only this many prompt tokens (-1 = as many as the model takes).",
        _vllm("truncate_prompt_tokens"), "no truncation", minimum=1, maximum=_SAFE_INT,
        special={-1: "as many as the model takes"},
    ),
    Option(
        "truncation_side", "Truncation side", "choice", "prompt",
        "Which end Truncate prompt cuts: left keeps the newest tokens, right the oldest.",
        _vllm("truncation_side"), "the tokenizer's", choices=("left", "right"),
    ),
    # --- Serving ----------------------------------------------------------------------------
    Option(
        "stream", "Stream", "fixed", "serving",
        "Always on: HexPlay streams every answer so you watch it arrive (for one JSON reply, "
        "copy the request and set it to false).",
        _all("stream"), value=True,
    ),
    Option(
        "include_usage", "Include usage", "boolean", "serving",
        "Send the token counts in a last chunk; HexPlay shows them under each answer.",
        _openai("stream_options.include_usage"), "off", initial=True,
    ),
    Option(
        "continuous_usage_stats", "Running usage", "boolean", "serving",
        "Send running token counts with every chunk (with Include usage).",
        _vllm("stream_options.continuous_usage_stats"), "off",
    ),
    Option(
        "priority", "Priority", "integer", "serving",
        "Lower numbers are served first, on servers started with --scheduling-policy priority.",
        _vllm("priority"), "0", minimum=-_SAFE_INT, maximum=_SAFE_INT,
    ),
    Option(
        "request_id", "Request id", "text", "serving",
        "The answer's id becomes chatcmpl- and this, to find the request in the server's logs.",
        _vllm("request_id"), "a random id", max_length=128,
    ),
    Option(
        "cache_salt", "Cache salt", "text", "serving",
        "Keeps this request's cached prompt apart: only requests with the same salt share it.",
        _vllm("cache_salt"), "none", max_length=128, check=_cache_salt_problem,
    ),
    # --- Mistral API only -------------------------------------------------------------------
    Option(
        "safe_prompt", "Safe prompt", "boolean", "mistral",
        "Put Mistral's safety instructions before the conversation.",
        {MISTRAL: "safe_prompt"}, "off",
    ),
    Option(
        "prompt_mode", "Prompt mode", "choice", "mistral",
        "reasoning: use Mistral's own system prompt for reasoning models.",
        {MISTRAL: "prompt_mode"}, "none", choices=("reasoning",),
    ),
    Option(
        "prediction_type", "Prediction type", "fixed", "mistral",
        "Predicted content.",
        {MISTRAL: "prediction.type"}, value="content", shown=False, when=("prediction", None),
    ),
    Option(
        "prediction", "Prediction", "longtext", "mistral",
        "Text you expect the answer to contain; the parts that match come back faster.",
        {MISTRAL: "prediction.content"}, "none",
    ),
    # --- Extra JSON -------------------------------------------------------------------------
    Option(
        "extra_json", "Extra JSON", "extra", "extra",
        'Any other fields, as one JSON object merged into the request, e.g. {"vllm_xargs": '
        '{"session_id": "a1"}}.',
        _all(""), "none",
    ),
]  # fmt: skip

BY_KEY = {option.key: option for option in OPTIONS}

# vLLM request fields that change the answer but have no field of their own above: what to
# do instead. The README's table lists them too.
NOT_IN_THE_FORM = {
    "max_tokens": "The older name of max_completion_tokens, which Max tokens sends.",
    "chat_template": "Refused with Mistral tokenizers (400); other servers: Extra JSON.",
    "chat_template_kwargs": "Refused with Mistral tokenizers (400); other servers: Extra JSON.",
    "mm_processor_kwargs": "Images and audio, with --trust-request-mm-kwargs: Extra JSON.",
    "media_io_kwargs": "Images and audio, with --trust-request-mm-kwargs: Extra JSON.",
    "vllm_xargs": "Server extensions' own arguments: Extra JSON.",
    "watermarking": "Only on servers with a watermark config: Extra JSON.",
    "stream_interval": "Tokens per streamed chunk (pacing, not the answer): Extra JSON.",
    "kv_transfer_params": "Disaggregated serving plumbing: Extra JSON.",
    "user": "Accepted and ignored by vLLM.",
}


def options_for(target: str) -> list[Option]:
    """The options a target accepts, in the panel's order."""
    return [option for option in OPTIONS if target in option.wire]


# --- Reading what was typed ----------------------------------------------------------------


class Invalid(ValueError):
    """What is wrong with a value, in plain words."""


_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")
_TRUE, _FALSE = ("true", "on", "yes", "1"), ("false", "off", "no", "0")


def _num(value: float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _range_problem(option: Option, value: float, target: str) -> str | None:
    if value in option.special:
        return None
    low, high = option.range_for(target)
    above = option.above
    fits = (
        (low is None or value >= low)
        and (above is None or value > above)
        and (high is None or value <= high)
    )
    if fits:
        return None
    if high is not None and high >= _SAFE_INT:
        if value > high:
            return f"{option.label} must be at most {_num(high)}."
        high = None  # a technical limit, not worth saying unless reached
    if above is not None and high is not None:
        words = f"more than {_num(above)} and at most {_num(high)}"
    elif low is not None and high is not None:
        words = f"between {_num(low)} and {_num(high)}"
    elif low is not None:
        words = f"{_num(low)} or more"
    else:
        words = f"at most {_num(high)}"
    extra = "".join(f" (or {k} for {meaning})" for k, meaning in option.special.items())
    return f"{option.label} must be {words}{extra}."


def _parse_number(option: Option, text: str, target: str) -> float:
    if not _NUMBER.fullmatch(text):
        raise Invalid(f"{option.label} must be a number, like 0.7.")
    value = float(text)
    if not math.isfinite(value):
        raise Invalid(f"{option.label} must be a number, like 0.7.")
    if problem := _range_problem(option, value, target):
        raise Invalid(problem)
    return value


def _parse_integer(option: Option, text: str, target: str) -> int:
    if not _INTEGER.fullmatch(text):
        raise Invalid(f"{option.label} must be a whole number.")
    value = int(text)
    if problem := _range_problem(option, value, target):
        raise Invalid(problem)
    return value


def _parse_boolean(option: Option, text: str, target: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise Invalid(f"{option.label} must be on or off.")


def _parse_choice(option: Option, text: str, target: str) -> str:
    choices = option.choices_for(target)
    if text not in choices:
        raise Invalid(f"{option.label} must be one of: {', '.join(choices)}.")
    return text


def _parse_text(option: Option, text: str, target: str) -> str:
    if option.max_length is not None and len(text) > option.max_length:
        raise Invalid(f"{option.label} can be at most {option.max_length} characters long.")
    return text


_UNESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\"}


def _unescape(line: str) -> str:
    return re.sub(r"\\([nrt\\])", lambda m: _UNESCAPES[m.group(1)], line)


def _parse_lines(option: Option, text: str, target: str) -> list[str]:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    items = [_unescape(line) for line in lines if line]
    if option.max_items is not None and len(items) > option.max_items:
        raise Invalid(
            f"{option.label} can have at most {option.max_items} entries; there are {len(items)}."
        )
    return items


def _parse_token_ids(option: Option, text: str, target: str) -> list[int]:
    parts = [part for part in re.split(r"[\s,]+", text) if part]
    if not all(part.isdigit() for part in parts):
        raise Invalid(f"{option.label} must be token ids (whole numbers) separated by commas.")
    if option.max_items is not None and len(parts) > option.max_items:
        raise Invalid(f"{option.label} can have at most {option.max_items} token ids.")
    return [int(part) for part in parts]


_BIAS = re.compile(r"\s*(\d+)\s*[:=]\s*(\S+)\s*")


def _parse_token_biases(option: Option, text: str, target: str) -> dict[str, float]:
    biases: dict[str, float] = {}
    for line in re.split(r"[\n,]+", text):
        if not line.strip():
            continue
        match = _BIAS.fullmatch(line)
        if match is None or not _NUMBER.fullmatch(match.group(2)):
            raise Invalid(f'{option.label}: write one "token id: bias" per line, like 1234: -100.')
        bias = float(match.group(2))
        if not -100 <= bias <= 100:
            raise Invalid(f"{option.label}: each bias must be between -100 and 100.")
        biases[match.group(1)] = bias
    return biases


def _load_json(option: Option, text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        where = getattr(exc, "msg", str(exc))
        line, column = getattr(exc, "lineno", None), getattr(exc, "colno", None)
        at = f" (line {line}, column {column})" if line else ""
        raise Invalid(f"{option.label} is not valid JSON: {where}{at}.") from None


def _parse_json_object(option: Option, text: str, target: str) -> dict[str, Any]:
    value = _load_json(option, text)
    if not isinstance(value, dict):
        raise Invalid(f"{option.label} must be a JSON object, in {{ }}.")
    return value


def _parse_json_array(option: Option, text: str, target: str) -> list[Any]:
    value = _load_json(option, text)
    if not isinstance(value, list):
        raise Invalid(f"{option.label} must be a JSON list, in [ ].")
    return value


def _parse_json_text(option: Option, text: str, target: str) -> str:
    _parse_json_object(option, text, target)
    return text


def _parse_schema(option: Option, text: str, target: str) -> dict[str, Any]:
    schema = _parse_json_object(option, text, target)
    # The tool library's words for the same mistakes, so both say them alike.
    problems = tools.meta_schema_problems(schema)
    if problems:
        raise Invalid(f"{option.label} is not a valid JSON Schema: {'; '.join(problems)}.")
    return schema


def _parse_regex(option: Option, text: str, target: str) -> str:
    if "\0" in text:
        raise Invalid(f"{option.label} cannot contain a NUL character.")
    try:
        re.compile(text)
    except re.error as exc:
        raise Invalid(f"{option.label} is not a valid regular expression: {exc}.") from None
    return text


# How a named tool choice is written in its field: "function:" and the tool's name.
NAMED_TOOL = "function:"
_TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")


def named_tool_choice(name: str) -> dict[str, Any]:
    """The `tool_choice` that makes the model call the tool called `name`."""
    return {"type": "function", "function": {"name": name}}


def _parse_tool_choice(option: Option, text: str, target: str) -> str | dict[str, Any]:
    choices = option.choices_for(target)
    if text in choices:
        return text
    name = text.removeprefix(NAMED_TOOL)
    if text.startswith(NAMED_TOOL) and _TOOL_NAME.fullmatch(name):
        return named_tool_choice(name)
    if text == "any":
        raise Invalid("Tool choice any is the Mistral API's word for required: choose required.")
    raise Invalid(f"{option.label} must be one of: {', '.join(choices)}, or an attached tool.")


_PARSERS: dict[str, Callable[[Option, str, str], Any]] = {
    "number": _parse_number,
    "integer": _parse_integer,
    "boolean": _parse_boolean,
    "choice": _parse_choice,
    "text": _parse_text,
    "longtext": _parse_text,
    "lines": _parse_lines,
    "token_ids": _parse_token_ids,
    "token_biases": _parse_token_biases,
    "json_object": _parse_json_object,
    "json_array": _parse_json_array,
    "json_text": _parse_json_text,
    "schema": _parse_schema,
    "regex": _parse_regex,
    "tool_choice": _parse_tool_choice,
    "extra": _parse_json_object,
}
# Kinds whose spaces matter: the text is kept as typed.
_VERBATIM = {"longtext", "regex", "lines", "json_text"}


def parse(option: Option, raw: str, target: str) -> Any:
    """The typed value of what was typed into `option`'s field; None when it is unset."""
    if not raw.strip():
        return None
    text = raw if option.kind in _VERBATIM else raw.strip()
    value = _PARSERS[option.kind](option, text, target)
    if option.check is not None and (problem := option.check(value)):
        raise Invalid(problem)
    return value


def _escape(line: str) -> str:
    for char, escaped in (("\\", "\\\\"), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
        line = line.replace(char, escaped)
    return line


def to_text(option: Option, value: Any) -> str:
    """A stored value as its field shows it (parse() reads it back to the same value)."""
    if value is None:
        return ""
    kind = option.kind
    if kind == "number":
        return _num(float(value))
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "lines":
        return "\n".join(_escape(item) for item in value)
    if kind == "token_ids":
        return ", ".join(str(item) for item in value)
    if kind == "token_biases":
        return "\n".join(f"{token}: {_num(float(bias))}" for token, bias in value.items())
    if kind in ("json_object", "json_array", "schema", "extra"):
        return json.dumps(value, indent=2, ensure_ascii=False)
    if kind == "tool_choice" and isinstance(value, dict):
        return NAMED_TOOL + str((value.get("function") or {}).get("name", ""))
    return str(value)


# --- Checking a whole set of options -------------------------------------------------------


@dataclass
class Evaluation:
    """The options of one request: what the fields show, the values to send, the problems."""

    target: str
    texts: dict[str, str]  # by key, what each field shows
    values: dict[str, Any]  # by key, the typed values that apply (unset ones are absent)
    errors: dict[str, str]  # by key, in plain words

    @property
    def ok(self) -> bool:
        return not self.errors

    def body_fields(self) -> dict[str, Any]:
        """The request fields the options add, in the registry's order; Extra JSON last."""
        body: dict[str, Any] = {}
        usable = {k: v for k, v in self.values.items() if k not in self.errors}
        for option in options_for(self.target):
            if option.key not in usable or not option.sent or option.kind == "extra":
                continue
            _put(body, option.api_name(self.target), usable[option.key])
        body.update(usable.get("extra_json") or {})
        return body

    def refusal(self) -> str:
        """Why nothing can be sent, for the chat's notice."""
        first = next(iter(self.errors.values()))
        more = len(self.errors) - 1
        rest = f" (and {more} more)" if more else ""
        return f"Nothing was sent. Fix the request options first: {first}{rest}"


def _put(body: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        body = body.setdefault(part, {})
    body[last] = value


def _active(option: Option, values: Mapping[str, Any]) -> bool:
    if option.when is None:
        return True
    key, wanted = option.when
    if key not in values:
        return False
    return wanted is None or values[key] in wanted


def stored_texts(stored: Mapping[str, Any], target: str) -> dict[str, str]:
    """What each field of the target's panel shows for a conversation's stored options."""
    invalid = stored.get(INVALID) or {}
    texts = {}
    for option in options_for(target):
        if not option.typed:
            continue
        if option.key in invalid:
            texts[option.key] = invalid[option.key]
        else:
            texts[option.key] = to_text(option, stored.get(option.key, option.initial))
    return texts


def check(
    texts: Mapping[str, str],
    target: str,
    *,
    messages: list[dict[str, Any]] | None = None,
    tools: list[dict[str, Any]] | None = None,
) -> Evaluation:
    """Read every field of the target's panel and apply vLLM's rules across them.

    A field missing from `texts` has HexPlay's starting value. `messages` are those of the
    request the options go with, for the rules that look at them; `tools` are the attached
    tools (`ToolDefinition.as_openai()`), sent as the body's `tools` when there are any.
    """
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    shown: dict[str, str] = {}
    for option in options_for(target):
        if option.kind == "fixed":
            values[option.key] = option.value
            continue
        if option.kind == "tools":
            if tools:  # vLLM refuses `tools: []`: no tools, no key
                values[option.key] = list(tools)
            continue
        text = texts.get(option.key, to_text(option, option.initial))
        shown[option.key] = text
        try:
            value = parse(option, text, target)
        except Invalid as exc:
            errors[option.key] = str(exc)
            continue
        if value is not None:
            values[option.key] = value
    for option in options_for(target):
        if not _active(option, values):
            values.pop(option.key, None)
            errors.pop(option.key, None)
        elif option.required and option.key not in values and option.key not in errors:
            key, _ = option.when or ("", None)
            controller = BY_KEY[key]
            errors[option.key] = (
                f"{option.label} is needed when {controller.label} is {values[key]}."
            )
    for rule in RULES:
        for key, message in rule(values, target, messages):
            errors.setdefault(key, message)
    _answer_after_tool_results(values, messages)
    return Evaluation(target=target, texts=shown, values=values, errors=errors)


def _answer_after_tool_results(values: dict[str, Any], messages: list[dict[str, Any]] | None):
    """After tool results, a forcing tool choice becomes auto, so the model can answer.

    required, any and a named tool make vLLM (and Mistral's grammar) call a tool in every
    answer; kept after the results, the model would call again and again instead of using
    them. The forcing applies to the answer to the person's message, as OpenAI's Agents SDK
    resets tool_choice after a call.
    """
    choice = values.get("tool_choice")
    forcing = isinstance(choice, dict) or choice in ("required", "any")
    if forcing and messages and messages[-1].get("role") == "tool":
        values["tool_choice"] = "auto"


def evaluate(
    stored: Mapping[str, Any],
    target: str,
    *,
    messages: list[dict[str, Any]] | None = None,
    tools: list[dict[str, Any]] | None = None,
) -> Evaluation:
    """The options a conversation has stored, checked for the target they will be sent to."""
    return check(stored_texts(stored, target), target, messages=messages, tools=tools)


def update(stored: Mapping[str, Any], texts: Mapping[str, str], target: str) -> dict[str, Any]:
    """The stored options after the person typed `texts` into the target's panel.

    Readable values are stored typed; unreadable text is kept as typed (so the panel shows it
    again and nothing is sent); options the target does not show are left as they were.
    """
    result = {k: v for k, v in stored.items() if k != INVALID}
    invalid = dict(stored.get(INVALID) or {})
    for option in options_for(target):
        if not option.typed or option.key not in texts:
            continue
        text = texts[option.key]
        invalid.pop(option.key, None)
        try:
            value = parse(option, text, target)
        except Invalid:
            invalid[option.key] = text
            result.pop(option.key, None)
            continue
        if value is None and option.initial is None:
            result.pop(option.key, None)
        else:
            # An option HexPlay sets by default remembers being unset on purpose.
            result[option.key] = value
    if invalid:
        result[INVALID] = invalid
    return result


# --- vLLM's rules across fields ------------------------------------------------------------

Rule = Callable[[dict[str, Any], str, "list[dict[str, Any]] | None"], Iterator[tuple[str, str]]]


def _greedy_means_one_candidate(v, target, messages):
    greedy = v.get("temperature") is not None and v["temperature"] < 1e-5
    if target == VLLM and greedy and v.get("n", 1) > 1 and not v.get("use_beam_search"):
        yield "n", "With Temperature 0 every candidate would be the same: set Candidates to 1."


def _top_logprobs_need_logprobs(v, target, messages):
    if v.get("top_logprobs") and not v.get("logprobs"):
        yield "top_logprobs", "Top logprobs needs Logprobs switched on."
    if v.get("logprob_token_ids") and not v.get("logprobs"):
        yield "logprob_token_ids", "Logprobs of token ids needs Logprobs switched on."


def _logprob_token_ids_fit(v, target, messages):
    ids = v.get("logprob_token_ids")
    if ids and v.get("use_beam_search"):
        yield "logprob_token_ids", "Logprobs of token ids cannot be used with Beam search."
    if ids and v.get("top_logprobs") is not None and v["top_logprobs"] != len(ids):
        yield (
            "top_logprobs",
            f"With Logprobs of token ids, Top logprobs must be their number ({len(ids)}) or unset.",
        )


def _prompt_logprobs_need_no_streaming(v, target, messages):
    if v.get("prompt_logprobs") not in (None, 0) and v.get("stream"):
        yield (
            "prompt_logprobs",
            "Prompt logprobs only come back without streaming, and HexPlay always streams: "
            "leave it unset or 0 here.",
        )


def _continue_final_message(v, target, messages):
    if not v.get("continue_final_message"):
        return
    if v.get("add_generation_prompt") is True:
        yield (
            "add_generation_prompt",
            "Add generation prompt must be off while Continue final message is on (leave it "
            "unset and HexPlay switches it off).",
        )
    if messages is not None and (not messages or messages[-1].get("role") != "assistant"):
        yield (
            "continue_final_message",
            "Continue final message carries on the last answer, but this request ends with "
            "your message: switch it off to send a new message.",
        )


def _min_tokens_within_max(v, target, messages):
    low, high = v.get("min_tokens"), v.get("max_tokens")
    if low is not None and high is not None and low > high:
        yield "min_tokens", f"Min tokens cannot be more than Max tokens ({high})."


def _one_output_constraint(v, target, messages):
    constrained = v.get("response_format") not in (None, "text")
    if constrained and "structured_outputs" in v:
        yield (
            "structured_outputs",
            "Use either Response format or Structured output, not both: vLLM refuses two "
            "constraints at once.",
        )


def _tool_choice_fits_the_tools(v, target, messages):
    choice = v.get("tool_choice")
    attached = [tool["function"]["name"] for tool in v.get("tools") or []]
    if choice in (None, "none"):
        return
    if not attached:
        yield "tool_choice", "Attach a tool first, or set Tool choice to none."
    elif isinstance(choice, dict) and choice["function"]["name"] not in attached:
        name = choice["function"]["name"]
        yield (
            "tool_choice",
            f"Tool choice names {name}, which is not attached: tick it under Tools, or choose "
            "another.",
        )


def _named_tool_choice_is_its_own_constraint(v, target, messages):
    if isinstance(v.get("tool_choice"), dict) and v.get("structured_outputs") in (
        "json",
        "regex",
        "choice",
    ):
        yield (
            "tool_choice",
            "A named Tool choice already constrains the answer to that tool's arguments: use it "
            f"or Structured output {v['structured_outputs']}, not both.",
        )


def _repetition_detection(v, target, messages):
    largest = v.get("repetition_max_pattern") or 0
    smallest = v.get("repetition_min_pattern") or 0
    if smallest > largest and "repetition_min_pattern" in v:
        yield (
            "repetition_min_pattern",
            "Repetition: shortest pattern cannot be more than the longest pattern.",
        )
    if largest > 0 and (v.get("repetition_min_count") or 0) < 2:
        yield (
            "repetition_min_count",
            "Repetition: times repeated must be 2 or more when a longest pattern is set.",
        )


# Body fields that come from elsewhere than this panel, and where they are set. Every option
# owns its own name too (see below), `tools` included where tools are sent.
OWNED_ELSEWHERE = {"model": "the Model setting", "messages": "the conversation"}


def _extra_json_stays_extra(v, target, messages):
    extra = v.get("extra_json") or {}
    owners = dict(OWNED_ELSEWHERE)
    for option in options_for(target):
        if option.kind == "tools":
            owners.setdefault("tools", "tick them under Tools, from your tool library")
        elif option.kind != "extra":
            top = option.api_name(target).split(".")[0]
            owners.setdefault(top, f"{BY_KEY[option.key].label} · {top}")
    for key in extra:
        if key == "stream":
            yield "extra_json", "stream is always on: HexPlay streams every answer."
        elif key in owners:
            yield "extra_json", f"{key} has its own place ({owners[key]}): set it there."


RULES: list[Rule] = [
    _greedy_means_one_candidate,
    _top_logprobs_need_logprobs,
    _logprob_token_ids_fit,
    _prompt_logprobs_need_no_streaming,
    _continue_final_message,
    _min_tokens_within_max,
    _one_output_constraint,
    _tool_choice_fits_the_tools,
    _named_tool_choice_is_its_own_constraint,
    _repetition_detection,
    _extra_json_stays_extra,
]


# --- The README's table --------------------------------------------------------------------

TABLE_START = "<!-- options-table:start (python manage.py options_table --write) -->"
TABLE_END = "<!-- options-table:end -->"


def _range_words(option: Option) -> str:
    if option.choices:
        per_target = {TARGETS[t]: ", ".join(option.choices_for(t)) for t in option.wire}
        if len(set(per_target.values())) == 1:
            words = next(iter(per_target.values()))
        else:
            words = "; ".join(f"{words} ({target})" for target, words in per_target.items())
        if option.kind == "tool_choice":
            words += "; or an attached tool's name"
        return words
    parts = []
    for target in option.wire:
        low, high = option.range_for(target)
        if low is None and high is None and option.above is None:
            continue
        lower = f"> {_num(option.above)}" if option.above is not None else f"≥ {_num(low)}"
        upper = f", ≤ {_num(high)}" if high is not None and high < _SAFE_INT else ""
        words = f"{lower}{upper}"
        if option.limits and target in option.limits:
            words += f" ({TARGETS[target]})"
        if words not in parts:
            parts.append(words)
    extra = [f"{k} = {meaning}" for k, meaning in option.special.items()]
    if option.max_items:
        extra.append(f"up to {option.max_items}")
    return "; ".join(parts + extra)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def readme_table() -> str:
    """Every option, where it lives and what it is called on each target, as Markdown."""
    titles = {group.key: group.title for group in GROUPS}
    lines = [
        TABLE_START,
        "",
        "| Option | Panel group | vLLM | Mistral API | llama.cpp | Range / choices | "
        "Unset means | What it does |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for option in OPTIONS:
        if not option.shown:
            continue
        names = [
            f"`{option.wire[t]}`" if option.wire.get(t) else ("merged" if t in option.wire else "—")
            for t in TARGETS
        ]
        default = "always on" if option.kind == "fixed" else option.default
        if option.initial is not None:
            default = f"{default} (HexPlay starts it {to_text(option, option.initial)})"
        row = [
            option.label,
            titles[option.group],
            *names,
            _range_words(option),
            default,
            option.help,
        ]
        lines.append("| " + " | ".join(_cell(cell) for cell in row) + " |")
    lines += [
        "",
        "vLLM fields without a field of their own:",
        "",
        "| vLLM field | Where |",
        "|---|---|",
    ]
    lines += [f"| `{name}` | {_cell(where)} |" for name, where in NOT_IN_THE_FORM.items()]
    lines += ["", TABLE_END]
    return "\n".join(lines)
