"""The registry of request options: declarations, per-target names, checks and the body."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from playground import options, turns
from playground.models import UpstreamConnection
from playground.options import LLAMACPP, MISTRAL, OPTIONS, VLLM
from playground.stream import build_body
from playground.upstream.connections import get_connection

USER_LAST = [{"role": "user", "content": "Hi"}]
ASSISTANT_LAST = [*USER_LAST, {"role": "assistant", "content": "Hello"}]

# vLLM 0.33's ChatCompletionRequest fields that change what is generated
# (../shared/reference/vllm-chat-protocol.md §1.1-1.5, 1.7).
VLLM_GENERATION_FIELDS = """
temperature top_p max_completion_tokens max_tokens n stop seed presence_penalty frequency_penalty
logit_bias logprobs top_logprobs response_format stream stream_options tools tool_choice
parallel_tool_calls reasoning_effort top_k min_p repetition_penalty min_tokens stop_token_ids
include_stop_str_in_output ignore_eos skip_special_tokens spaces_between_special_tokens bad_words
allowed_token_ids truncate_prompt_tokens truncation_side prompt_logprobs logprob_token_ids
use_beam_search length_penalty thinking_token_budget include_reasoning repetition_detection
watermarking stream_interval vllm_xargs add_generation_prompt continue_final_message echo
add_special_tokens documents chat_template chat_template_kwargs mm_processor_kwargs
media_io_kwargs structured_outputs priority request_id cache_salt kv_transfer_params
return_tokens_as_token_ids return_token_ids
""".split()  # noqa: SIM905 (reads better as prose)
# What Mistral's API accepts (§7.1); anything else is a 422.
MISTRAL_FIELDS = set(
    """model messages temperature top_p max_tokens stream stop random_seed metadata response_format
    tools tool_choice presence_penalty frequency_penalty n prediction parallel_tool_calls
    reasoning_effort prompt_mode guardrails prompt_cache_key service_tier safe_prompt""".split()  # noqa: SIM905
)


def texts(**typed: str) -> dict[str, str]:
    return typed


def body_of(target: str, messages=None, **typed: str) -> dict:
    checked = options.check(typed, target, messages=messages)
    assert checked.ok, checked.errors
    return checked.body_fields()


def errors_of(target: str, messages=None, **typed: str) -> dict[str, str]:
    return options.check(typed, target, messages=messages).errors


# --- The registry ------------------------------------------------------------------------------


def test_every_option_is_declared_once_with_a_group_a_sentence_of_help_and_its_targets():
    keys = [option.key for option in OPTIONS]
    assert len(keys) == len(set(keys))
    groups = {group.key for group in options.GROUPS}
    for option in OPTIONS:
        assert option.group in groups, option.key
        assert option.help.endswith(".") and len(option.help) < 200, option.key
        assert option.wire and set(option.wire) <= set(options.TARGETS), option.key
        assert option.label and option.label[0].isupper(), option.key
        if option.when:
            assert option.when[0] in options.BY_KEY, option.key


def test_no_two_fields_of_a_panel_send_the_same_api_name():
    for target in options.TARGETS:
        names = [
            option.api_name(target)
            for option in options.options_for(target)
            if option.shown and option.sent and option.kind != "extra"
        ]
        assert len(names) == len(set(names)), target


def test_every_vllm_field_that_changes_the_answer_has_a_place():
    offered = {
        option.api_name(VLLM).split(".")[0]
        for option in options.options_for(VLLM)
        if option.kind != "extra"
    }
    offered.add("structured_outputs")
    for name in VLLM_GENERATION_FIELDS:
        assert name in offered or name in options.NOT_IN_THE_FORM, name


def test_the_same_intent_has_each_targets_own_name():
    assert body_of(VLLM, seed="7") == {"seed": 7, "stream": True, "stream_options": {
        "include_usage": True}}  # fmt: skip
    assert body_of(MISTRAL, seed="7") == {"random_seed": 7, "stream": True}
    assert body_of(LLAMACPP, seed="7")["seed"] == 7
    assert body_of(VLLM, max_tokens="64")["max_completion_tokens"] == 64
    assert body_of(MISTRAL, max_tokens="64")["max_tokens"] == 64
    assert body_of(LLAMACPP, max_tokens="64")["max_tokens"] == 64
    assert body_of(VLLM, repetition_penalty="1.1")["repetition_penalty"] == 1.1
    assert body_of(LLAMACPP, repetition_penalty="1.1")["repeat_penalty"] == 1.1


def test_options_a_target_does_not_accept_are_hidden_and_never_sent():
    everything = {
        "temperature": "0.5",
        "top_k": "40",
        "min_p": "0.1",
        "logprobs": "true",
        "top_logprobs": "2",
        "seed": "3",
        "max_tokens": "100",
        "safe_prompt": "true",
        "prediction": "Paris",
        "prompt_mode": "reasoning",
        "structured_outputs": "regex",
        "structured_regex": "[a-z]+",
        "include_usage": "true",
        "mirostat": "2",
        "n": "2",
    }
    stored = options.update({}, everything, VLLM)
    stored = options.update(stored, everything, MISTRAL)
    stored = options.update(stored, everything, LLAMACPP)

    mistral = options.evaluate(stored, MISTRAL).body_fields()
    assert set(mistral) <= MISTRAL_FIELDS
    assert mistral["prediction"] == {"type": "content", "content": "Paris"}
    assert mistral["random_seed"] == 3 and mistral["max_tokens"] == 100

    vllm = options.evaluate(stored, VLLM).body_fields()
    assert not {"safe_prompt", "prediction", "prompt_mode", "random_seed", "mirostat"} & set(vllm)
    assert vllm["structured_outputs"] == {"regex": "[a-z]+"}

    llamacpp = options.evaluate(stored, LLAMACPP).body_fields()
    assert "n" not in llamacpp and "structured_outputs" not in llamacpp
    assert llamacpp["mirostat"] == 2 and llamacpp["top_k"] == 40
    assert "safe_prompt" not in [o.key for o in options.options_for(VLLM)]


def test_unset_options_are_left_out_so_the_servers_defaults_apply():
    assert body_of(VLLM) == {"stream": True, "stream_options": {"include_usage": True}}
    assert body_of(LLAMACPP) == {"stream": True, "stream_options": {"include_usage": True}}
    # Mistral's API always sends usage and refuses stream_options.
    assert body_of(MISTRAL) == {"stream": True}


def test_include_usage_starts_on_but_can_be_unset_on_purpose():
    stored = options.update({}, {"include_usage": ""}, VLLM)
    assert stored == {"include_usage": None}
    assert options.evaluate(stored, VLLM).body_fields() == {"stream": True}
    assert options.evaluate({}, VLLM).texts["include_usage"] == "true"


def test_response_format_json_schema_builds_the_nested_object():
    schema = '{"type": "object", "properties": {"city": {"type": "string"}}}'
    fields = body_of(
        VLLM,
        response_format="json_schema",
        json_schema_name="place",
        json_schema_strict="true",
        json_schema=schema,
    )
    assert fields["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "place", "strict": True, "schema": json.loads(schema)},
    }


def test_fields_of_another_choice_are_kept_but_not_sent():
    fields = body_of(
        VLLM, response_format="json_object", json_schema_name="unused", json_schema="{"
    )
    assert fields["response_format"] == {"type": "json_object"}


def test_structured_outputs_send_exactly_the_chosen_kind():
    assert body_of(VLLM, structured_outputs="choice", structured_choice="yes\nno")[
        "structured_outputs"
    ] == {"choice": ["yes", "no"]}
    assert body_of(VLLM, structured_outputs="json_object", disable_any_whitespace="true")[
        "structured_outputs"
    ] == {"json_object": True, "disable_any_whitespace": True}


def test_extra_json_is_merged_into_the_body():
    fields = body_of(VLLM, extra_json='{"vllm_xargs": {"session_id": "a1"}}')
    assert fields["vllm_xargs"] == {"session_id": "a1"}


def test_continue_final_message_switches_the_generation_prompt_off():
    fields = body_of(VLLM, ASSISTANT_LAST, continue_final_message="true")
    assert fields["continue_final_message"] is True and fields["add_generation_prompt"] is False


# --- Checks on one field -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "key", "typed", "message"),
    [
        (VLLM, "temperature", "5", "Temperature must be between 0 and 2."),
        (VLLM, "temperature", "warm", "Temperature must be a number, like 0.7."),
        (VLLM, "temperature", "nan", "Temperature must be a number, like 0.7."),
        (MISTRAL, "temperature", "1.8", "Temperature must be between 0 and 1.5."),
        (VLLM, "top_p", "0", "Top P must be more than 0 and at most 1."),
        (VLLM, "top_k", "-2", "Top K must be 0 or more (or -1 for no limit)."),
        (VLLM, "n", "2.5", "Candidates must be a whole number."),
        (VLLM, "n", "0", "Candidates must be between 1 and 16384."),
        (VLLM, "top_logprobs", "21", "Top logprobs must be between 0 and 20."),
        (VLLM, "presence_penalty", "-3", "Presence penalty must be between -2 and 2."),
        (VLLM, "repetition_penalty", "0", "Repetition penalty must be more than 0 and at most 10."),
        (VLLM, "max_tokens", "0", "Max tokens must be 1 or more."),
        (VLLM, "stop", "a\nb\nc\nd\ne", "Stop texts can have at most 4 entries; there are 5."),
        (
            VLLM,
            "stop_token_ids",
            "2, x",
            "Stop token ids must be token ids (whole numbers) separated by commas.",
        ),  # fmt: skip
        (VLLM, "logit_bias", "1234: 200", "Token bias: each bias must be between -100 and 100."),
        (
            VLLM,
            "logit_bias",
            "word: 1",
            'Token bias: write one "token id: bias" per line, like 1234: -100.',
        ),  # fmt: skip
        (VLLM, "include_reasoning", "maybe", "Include reasoning must be on or off."),
        (VLLM, "reasoning_effort", "medium", "Reasoning effort must be one of: none, high."),
        (VLLM, "cache_salt", "a/b", "Cache salt cannot contain @, / or \\."),
        (VLLM, "cache_salt", "x" * 129, "Cache salt can be at most 128 characters long."),
        (
            VLLM,
            "extra_json",
            "{oops",
            "Extra JSON is not valid JSON: Expecting property name "
            "enclosed in double quotes (line 1, column 2).",
        ),  # fmt: skip
        (VLLM, "extra_json", "[1]", "Extra JSON must be a JSON object, in { }."),
        (
            VLLM,
            "documents",
            '[{"title": 1}]',
            "Documents must be a JSON list of objects with "
            'text values, like [{"title": "…", "text": "…"}].',
        ),  # fmt: skip
    ],
)
def test_a_bad_value_is_refused_in_plain_words(target, key, typed, message):
    assert errors_of(target, **{key: typed}) == {key: message}


def test_a_json_schema_is_checked_against_the_meta_schema_in_plain_words():
    errors = errors_of(
        VLLM, response_format="json_schema", json_schema_name="x", json_schema='{"type": "objekt"}'
    )
    assert errors["json_schema"] == (
        "Schema is not a valid JSON Schema: type: must be one of string, number, integer, "
        'boolean, array, object, null (or a list of them), not "objekt".'
    )
    errors = errors_of(
        VLLM,
        response_format="json_schema",
        json_schema_name="x",
        json_schema='{"type": "object", "properties": {"age": "integer"}}',
    )
    assert (
        'properties → age: must be a schema in { }: write {"type": "integer"}'
        in (errors["json_schema"])
    )
    errors = errors_of(VLLM, structured_outputs="json", structured_json='{"minLength": -1}')
    assert "is not a valid JSON Schema" in errors["structured_json"]


def test_a_regular_expression_must_compile():
    errors = errors_of(VLLM, structured_outputs="regex", structured_regex="([a-z]")
    assert errors["structured_regex"].startswith(
        "Regular expression is not a valid regular expression: missing ), unterminated subpattern"
    )


def test_the_chosen_kind_needs_its_value():
    assert errors_of(VLLM, structured_outputs="grammar") == {
        "structured_grammar": "Grammar is needed when Structured output is grammar."
    }
    assert errors_of(VLLM, response_format="json_schema") == {
        "json_schema_name": "Schema name is needed when Response format is json_schema.",
        "json_schema": "Schema is needed when Response format is json_schema.",
    }


def test_stop_texts_take_escapes_for_line_breaks():
    assert body_of(VLLM, stop="\\n\\n\nEND\n")["stop"] == ["\n\n", "END"]
    option = options.BY_KEY["stop"]
    assert options.parse(option, options.to_text(option, ["a\\b", "\n", "\t"]), VLLM) == [
        "a\\b",
        "\n",
        "\t",
    ]


# --- vLLM's rules across fields ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "messages", "errors"),
    [
        (
            {"temperature": "0", "n": "2"},
            None,
            {"n": "With Temperature 0 every candidate would be the same: set Candidates to 1."},
        ),
        (
            {"top_logprobs": "5"},
            None,
            {"top_logprobs": "Top logprobs needs Logprobs switched on."},
        ),
        (
            {"prompt_logprobs": "1"},
            None,
            {
                "prompt_logprobs": "Prompt logprobs only come back without streaming, and "
                "HexPlay always streams: leave it unset or 0 here."
            },
        ),
        (
            {"response_format": "json_object", "structured_outputs": "json_object"},
            None,
            {
                "structured_outputs": "Use either Response format or Structured output, not "
                "both: vLLM refuses two constraints at once."
            },
        ),
        (
            {"min_tokens": "50", "max_tokens": "10"},
            None,
            {"min_tokens": "Min tokens cannot be more than Max tokens (10)."},
        ),
        (
            {"continue_final_message": "true"},
            USER_LAST,
            {
                "continue_final_message": "Continue final message carries on the last answer, "
                "but this request ends with your message: switch it off to send a new message."
            },
        ),
        (
            {"continue_final_message": "true", "add_generation_prompt": "true"},
            ASSISTANT_LAST,
            {
                "add_generation_prompt": "Add generation prompt must be off while Continue final "
                "message is on (leave it unset and HexPlay switches it off)."
            },
        ),
        (
            {"repetition_max_pattern": "4", "repetition_min_count": "1"},
            None,
            {
                "repetition_min_count": "Repetition: times repeated must be 2 or more when a "
                "longest pattern is set."
            },
        ),
        (
            {"extra_json": '{"temperature": 1}'},
            None,
            {
                "extra_json": "temperature has its own place (Temperature · temperature): set it "
                "there."
            },
        ),  # fmt: skip
        (
            {"extra_json": '{"stream": false}'},
            None,
            {"extra_json": "stream is always on: HexPlay streams every answer."},
        ),
        (
            {"extra_json": '{"messages": []}'},
            None,
            {"extra_json": "messages has its own place (the conversation): set it there."},
        ),
    ],
)
def test_combinations_vllm_refuses_are_refused_first(typed, messages, errors):
    assert errors_of(VLLM, messages, **typed) == errors


def test_combinations_that_vllm_accepts_pass():
    assert body_of(VLLM, temperature="0", n="1")["n"] == 1
    assert body_of(VLLM, temperature="0.5", n="3")["n"] == 3
    assert body_of(VLLM, logprobs="true", top_logprobs="20")["top_logprobs"] == 20
    assert body_of(VLLM, prompt_logprobs="0")["prompt_logprobs"] == 0
    # Not vLLM's rule, so not refused for Mistral's API.
    assert body_of(MISTRAL, temperature="0", n="2")["n"] == 2


def test_an_option_with_a_problem_is_left_out_of_the_body():
    checked = options.check({"temperature": "9", "top_p": "0.5"}, VLLM)
    assert "temperature" not in checked.body_fields() and checked.body_fields()["top_p"] == 0.5
    assert checked.refusal() == (
        "Nothing was sent. Fix the request options first: Temperature must be between 0 and 2."
    )


# --- Storing what the person typed -------------------------------------------------------------


def test_typed_values_are_stored_typed_and_unreadable_text_as_typed():
    stored = options.update({}, {"temperature": "0.7", "top_k": "many", "seed": ""}, VLLM)
    assert stored == {"temperature": 0.7, options.INVALID: {"top_k": "many"}}
    checked = options.evaluate(stored, VLLM)
    assert checked.texts["top_k"] == "many" and checked.texts["temperature"] == "0.7"
    assert checked.errors == {"top_k": "Top K must be a whole number."}

    fixed = options.update(stored, {"top_k": "40"}, VLLM)
    assert fixed == {"temperature": 0.7, "top_k": 40}


def test_options_the_panel_does_not_show_are_kept_for_when_the_target_comes_back():
    stored = options.update({}, {"top_k": "40", "temperature": "1.2"}, VLLM)
    stored = options.update(stored, {"temperature": "1.4"}, MISTRAL)
    assert stored == {"top_k": 40, "temperature": 1.4}


def test_a_value_valid_for_one_target_is_checked_again_for_another():
    stored = options.update({}, {"temperature": "1.8"}, VLLM)
    assert options.evaluate(stored, VLLM).ok
    assert options.evaluate(stored, MISTRAL).errors == {
        "temperature": "Temperature must be between 0 and 1.5."
    }


def _value_for(option, target):
    """A strategy for a valid value of `option` on `target`."""
    low, high = option.range_for(target)
    if option.kind == "number":
        low = option.above if low is None else low
        numbers = st.floats(low, high, allow_nan=False).map(lambda x: round(x, 3))
        return numbers.filter(lambda x: option.above is None or x > option.above)
    if option.kind == "integer":
        return st.integers(int(low), int(min(high, 10**9)))
    if option.kind == "boolean":
        return st.booleans()
    if option.kind == "choice":
        return st.sampled_from(option.choices_for(target))
    if option.kind == "tool_choice":
        named = options.named_tool_choice("get_current_weather")
        return st.sampled_from([*option.choices_for(target), named])
    printable = st.characters(blacklist_categories=("Cs",), blacklist_characters="\0")
    if option.kind in ("text", "longtext"):
        text = st.text(printable, min_size=1, max_size=option.max_length or 40)
        text = text.filter(lambda s: s.strip() and (option.kind == "longtext" or s == s.strip()))
        return text.filter(lambda s: option.check is None or option.check(s) is None)
    if option.kind == "lines":
        item = st.text(printable, min_size=1, max_size=12)
        items = st.lists(item, min_size=1, max_size=option.max_items or 5)
        return items.filter(lambda xs: "".join(xs).strip())
    if option.kind == "token_ids":
        return st.lists(st.integers(0, 200_000), min_size=1, max_size=5)
    if option.kind == "token_biases":
        bias = st.floats(-100, 100, allow_nan=False).map(lambda x: round(x, 2))
        return st.dictionaries(st.integers(0, 200_000).map(str), bias, min_size=1, max_size=3)
    schemas = [
        {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
        {"type": "array", "items": {"type": "integer"}},
        {"enum": ["it's", "ok"]},
    ]
    if option.kind == "schema":
        return st.sampled_from(schemas)
    if option.kind == "regex":
        return st.sampled_from(["[a-z]+", "(yes|no)", r"\d{3}-\d{4}", "it's"])
    if option.kind == "json_text":
        return st.sampled_from(['{"type": "triggered_tags", "triggers": ["<a>"], "tags": []}'])
    if option.kind == "json_array":
        doc = st.dictionaries(st.sampled_from(["title", "text"]), st.text(printable, max_size=9))
        return st.lists(doc, min_size=1, max_size=2)
    if option.kind == "json_object":
        return st.just({"type": "triggered_tags", "triggers": ["<a>"], "tags": []})
    if option.kind == "extra":
        return st.dictionaries(
            st.sampled_from(["vllm_xargs", "x_note", "metadata"]),
            st.recursive(
                st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(printable),
                lambda inner: st.lists(inner, max_size=2),
                max_leaves=4,
            ),
            min_size=1,
            max_size=2,
        )
    raise AssertionError(f"no strategy for {option.kind}")


def option_texts(target: str, max_size: int = 6):
    """A strategy for what a person might type into a few fields of the target's panel."""
    editable = [o for o in options.options_for(target) if o.typed]

    @st.composite
    def build(draw):
        chosen = draw(
            st.lists(st.sampled_from(editable), max_size=max_size, unique_by=lambda o: o.key)
        )
        return {
            option.key: options.to_text(option, draw(_value_for(option, target)))
            for option in chosen
        }

    return build()


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_every_value_reads_back_as_itself(data):
    target = data.draw(st.sampled_from(list(options.TARGETS)))
    option = data.draw(st.sampled_from([o for o in options.options_for(target) if o.typed]))
    value = data.draw(_value_for(option, target))
    text = options.to_text(option, value)
    parsed = options.parse(option, text, target)
    if option.kind == "json_text":
        assert json.loads(parsed) == json.loads(value)
    elif isinstance(value, float):
        assert math.isclose(parsed, value)
    else:
        assert parsed == value


# --- The conversation's next request -----------------------------------------------------------


@pytest.mark.django_db
def test_the_body_carries_the_conversations_options_and_messages(simulator, make_conversation):
    conversation = make_conversation(
        system_prompt="Be brief.",
        options={"temperature": 0.2, "top_k": 20, "stop": ["END"]},
    )
    conversation.add_user_message("Hi")
    connection = get_connection("simulator")
    body = build_body(conversation, connection)
    assert body == {
        "model": conversation.model,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
        ],
        "temperature": 0.2,
        "top_k": 20,
        "stop": ["END"],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    preview = build_body(conversation, connection, typing="  And then?  ")
    assert preview["messages"][-1] == {"role": "user", "content": "And then?"}


@pytest.mark.django_db
def test_invalid_saved_options_block_sending(simulator, make_conversation):
    conversation = make_conversation(options={options.INVALID: {"temperature": "9"}})
    conversation.add_user_message("Hi")
    with pytest.raises(turns.TurnRejected) as refused:
        turns.prepare_answer(conversation)
    assert str(refused.value) == (
        "Nothing was sent. Fix the request options first: Temperature must be between 0 and 2."
    )
    assert not conversation.messages.filter(role="assistant").exists()


def test_the_readme_table_is_the_one_the_registry_generates():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert options.readme_table() in readme
    for option in OPTIONS:
        if option.shown:
            assert f"| {option.label} |" in readme


# --- The panel and the code view ---------------------------------------------------------------


HX = {"HTTP_HX_REQUEST": "true"}


@pytest.mark.django_db
def test_the_page_shows_every_option_with_its_api_name_and_the_request_as_curl(
    logged_in, simulator, make_conversation
):
    conversation = make_conversation(options={"temperature": 0.3})
    page = logged_in.get(conversation.get_absolute_url()).content.decode()
    assert (
        '<label for="id_opt-temperature">Temperature · <code class="api-name">temperature'
        "</code></label>" in page
    )
    for option in options.options_for(VLLM):
        if option.shown and option.typed:
            assert f'id="id_opt-{option.key}"' in page, option.key
    assert "Mirostat" not in page and "Safe prompt" not in page  # other targets' options
    # Not HexGrid's connection: the command names the simulator's own URL, to run as it is.
    assert f"curl -N -X POST &#x27;{simulator.base_url}/chat/completions&#x27;" in page
    assert "&quot;temperature&quot;: 0.3" in page


@pytest.mark.django_db
def test_the_autosave_stores_what_was_typed_and_answers_with_errors_beside_the_fields(
    logged_in, simulator, make_conversation
):
    conversation = make_conversation()
    url = f"/conversations/{conversation.pk}/options/"
    response = logged_in.post(
        url, {"shown_target": "vllm", "opt-temperature": "5", "opt-top_k": "40"}, **HX
    )
    text = response.content.decode()
    assert (
        '<p id="id_opt-temperature_error" class="field-error" hx-swap-oob="true">'
        "Temperature must be between 0 and 2. </p>" in text
    )
    assert "1 option to fix: nothing is sent until it is." in text
    assert 'id="code-view"' in text and "&quot;top_k&quot;: 40" in text
    conversation.refresh_from_db()
    assert conversation.options == {"top_k": 40, options.INVALID: {"temperature": "5"}}

    # The page shows it again as typed, with its error.
    page = logged_in.get(conversation.get_absolute_url()).content.decode()
    assert 'name="opt-temperature" value="5"' in page
    assert "Temperature must be between 0 and 2." in page

    response = logged_in.post(url, {"shown_target": "vllm", "opt-temperature": "0.5"}, **HX)
    assert "field-error" in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.options == {"top_k": 40, "temperature": 0.5}


@pytest.mark.django_db
def test_without_javascript_the_options_form_saves_and_returns_to_the_page(
    logged_in, simulator, make_conversation
):
    conversation = make_conversation()
    response = logged_in.post(
        f"/conversations/{conversation.pk}/options/", {"opt-seed": "12", "opt-logprobs": "true"}
    )
    assert response.status_code == 302 and response.url == conversation.get_absolute_url()
    conversation.refresh_from_db()
    assert conversation.options == {"seed": 12, "logprobs": True}


@pytest.mark.django_db
def test_the_code_view_shows_the_message_being_typed(logged_in, simulator, make_conversation):
    conversation = make_conversation(system_prompt="Be brief.")
    response = logged_in.get(
        f"/conversations/{conversation.pk}/request/",
        {"message": "It's me", "tab": "python", "shown_target": "vllm"},
        **HX,
    )
    text = response.content.decode()
    assert "The request your next Send posts, with the message you are typing" in text
    assert "It&#x27;\\&#x27;&#x27;s me" in text  # in the cURL, quoted for the shell
    assert 'aria-selected="true" tabindex="0">Python</button>' in text
    assert 'id="request-options"' not in text  # the panel is still right


@pytest.mark.django_db
def test_a_mistral_connection_has_its_own_fields_names_and_key_variable(
    logged_in, simulator, make_conversation
):
    UpstreamConnection.objects.create(
        slug="mistral",
        name="Mistral",
        base_url="https://api.mistral.ai/v1",
        api_key="sk-very-secret",
        dialect="mistral",
        default_model="mistral-small-latest",
    )
    conversation = make_conversation(model="mistral-small-latest")
    conversation.connection, conversation.options = "mistral", {"seed": 5, "top_k": 40}
    conversation.save()
    page = logged_in.get(conversation.get_absolute_url()).content.decode()
    assert 'Seed · <code class="api-name">random_seed</code>' in page
    assert 'id="id_opt-top_k"' not in page and 'id="id_opt-safe_prompt"' in page
    assert "Bearer $MISTRAL_API_KEY" in page and "from mistralai.client import Mistral" in page
    assert "&quot;random_seed&quot;: 5" in page and "top_k" not in page.split('id="code-view"')[1]
    assert "sk-very-secret" not in page

    # A panel still showing vLLM's fields is redrawn, and saves nothing meanwhile.
    response = logged_in.post(
        f"/conversations/{conversation.pk}/options/",
        {"shown_target": "vllm", "opt-top_k": "1"},
        **HX,
    )
    assert '<form id="request-options"' in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.options["top_k"] == 40
    response = logged_in.get(
        f"/conversations/{conversation.pk}/request/", {"shown_target": "vllm"}, **HX
    )
    assert 'hx-swap-oob="true">' in response.content.decode().split('<form id="request-options"')[1]


@pytest.mark.django_db
def test_another_persons_options_are_out_of_reach(logged_in, other_user, make_conversation):
    theirs = make_conversation(owner=other_user)
    assert logged_in.post(f"/conversations/{theirs.pk}/options/", {"opt-n": "2"}).status_code == 404
    assert logged_in.get(f"/conversations/{theirs.pk}/request/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.options == {}


@pytest.mark.django_db(transaction=True)
async def test_an_answer_is_made_with_the_options_and_records_its_body(
    simulator, user, make_conversation
):
    from asgiref.sync import sync_to_async

    from tests.conftest import ANSWER_DONE, open_socket, receive_until

    stored = {"temperature": 0.4, "max_tokens": 5, "n": 2, "logprobs": True, "top_logprobs": 2}
    conversation = await sync_to_async(make_conversation)(options=stored)
    socket, _ = await open_socket(conversation.pk, user)
    await socket.send_json_to({"message": "Count to ten"})
    await receive_until(socket, ANSWER_DONE)
    await socket.disconnect()

    sent = simulator.requests[-1].body
    assert sent["temperature"] == 0.4 and sent["max_completion_tokens"] == 5 and sent["n"] == 2
    answer, other = [m async for m in conversation.messages.filter(role="assistant")]
    assert answer.request_body == sent
    assert answer.finish_reason == "length"
    assert other.candidate_of_id == answer.pk and other.request_body == sent


@pytest.mark.django_db(transaction=True)
async def test_options_sent_with_the_message_are_used_even_before_the_autosave(
    simulator, user, make_conversation
):
    from asgiref.sync import sync_to_async

    from tests.conftest import ANSWER_DONE, open_socket, receive_until

    conversation = await sync_to_async(make_conversation)()
    socket, _ = await open_socket(conversation.pk, user)
    await socket.send_json_to(
        {"message": "Hi", "shown_target": "vllm", "opt-temperature": "0.1", "opt-seed": "9"}
    )
    await receive_until(socket, ANSWER_DONE)

    # A wrong value is stored as typed, and nothing is sent until it is fixed.
    count = len(simulator.requests)
    await socket.send_json_to({"message": "Again", "shown_target": "vllm", "opt-temperature": "3"})
    refused = await receive_until(socket, "Nothing was sent")
    await socket.disconnect()

    assert simulator.requests[0].body["temperature"] == 0.1
    assert simulator.requests[0].body["seed"] == 9
    assert len(simulator.requests) == count
    assert "Temperature must be between 0 and 2." in refused[-1]
    await conversation.arefresh_from_db()
    assert conversation.options == {"seed": 9, options.INVALID: {"temperature": "3"}}
