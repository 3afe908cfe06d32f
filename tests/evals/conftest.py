"""Fixtures of test cases: a saved prompt with {{variables}}, its rows and checks."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from evals.models import Check, TestCase
from workbench import prompts
from workbench.models import Prompt


@pytest.fixture
def make_prompt(user, make_conversation) -> Callable:
    """A prompt of `user` whose v1 is a conversation with `message` (and `system_prompt`)."""

    def make(message: str = "Where is {{text}}?", owner=None, **fields) -> Prompt:
        conversation = make_conversation(owner=owner or user, **fields)
        conversation.add_user_message(message)
        prompt = Prompt.objects.create(owner=owner or user, name="Cities")
        prompt.add_version(prompts.setup_of(conversation))
        prompt.conversations.add(conversation)
        return prompt

    return make


@pytest.fixture
def rows() -> Callable:
    def add(prompt: Prompt, *values: dict[str, str]) -> list[TestCase]:
        return [
            TestCase.objects.create(prompt=prompt, position=i, values=v)
            for i, v in enumerate(values)
        ]

    return add


@pytest.fixture
def check() -> Callable:
    def add(prompt: Prompt, kind: str, value: str = "", **fields) -> Check:
        return Check.objects.create(prompt=prompt, kind=kind, value=value, **fields)

    return add
