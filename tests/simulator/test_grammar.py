"""Grammars in structured outputs: text a simple EBNF or Lark grammar accepts, or why not."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.simulator.helpers import chat, content_of, stream


def grammar_answer(client: httpx.Client, grammar: str, **extra) -> str:
    body = chat(client, structured_outputs={"grammar": grammar}, **extra).json()
    return body["choices"][0]["message"]["content"]


@pytest.mark.parametrize(
    "grammar",
    [
        'root ::= "yes" | "no" | "maybe"',  # xgrammar's EBNF (GBNF)
        "# one word\nroot ::= answer\nanswer ::= 'yes' | 'no' | 'maybe'",
        'start: "yes" | "no"\n     | "maybe"',  # Lark
    ],
)
def test_a_grammar_of_literal_choices_answers_one_of_them(client, grammar):
    answers = {grammar_answer(client, grammar) for _ in range(12)}
    assert answers <= {"yes", "no", "maybe"} and len(answers) > 1


def test_a_grammar_of_a_simple_sequence_answers_text_it_accepts(client):
    ebnf = 'root ::= greeting " " name "!"\ngreeting ::= "hello" | "hi"\nname ::= [A-Z] [a-z]{2,5}'
    assert re.fullmatch(r"(hello|hi) [A-Z][a-z]{2,5}!", grammar_answer(client, ebnf))
    lark = 'start: "on" SEP NUMBER\nSEP: ":"\n%import common.NUMBER'
    assert re.fullmatch(r"on:\d+(\.\d+)?", grammar_answer(client, lark))
    recursive = 'root ::= list\nlist ::= "[" (item ("," item)*)? "]"\nitem ::= list | [0-9]'
    text = grammar_answer(client, recursive)
    assert re.fullmatch(r"[\[\],0-9]+", text) and text.count("[") == text.count("]")
    events = stream(client, seed=2, structured_outputs={"grammar": ebnf})
    assert content_of(events) == grammar_answer(client, ebnf, seed=2)


@pytest.mark.parametrize(
    ("grammar", "why"),
    [
        ('start: %json {"type": "object"}', "it uses syntax it does not know at `%json"),
        ('root ::= "a" (= "b")', "it uses syntax it does not know at `="),
        ("root ::= value", "the rule `value` is not defined"),
        ('expr ::= "x"', "it has no `root` rule"),
    ],
)
def test_a_grammar_the_simulator_cannot_follow_is_answered_with_a_sentence_saying_so(
    client, grammar, why
):
    content = grammar_answer(client, grammar)
    assert content.startswith("The simulator cannot follow this grammar: ")
    assert why in content and content.endswith(".")
