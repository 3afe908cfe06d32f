"""Starters: one click sets an empty conversation up to show a feature, its message ready."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction

from playground import options
from playground.models import Conversation, ToolDefinition
from playground.upstream.connections import get_connection


@dataclass(frozen=True)
class Starter:
    key: str
    title: str
    teaches: str  # what it shows, in a line
    message: str
    system_prompt: str = ""
    texts: dict[str, str] = field(default_factory=dict)  # options, as typed in the panel
    variables: dict[str, str] = field(default_factory=dict)
    weather_tool: bool = False
    targets: tuple[str, ...] = (options.VLLM, options.MISTRAL, options.LLAMACPP)


STARTERS = [
    Starter(
        "extract",
        "Pull data out as JSON",
        "Response format json_schema: the answer is a JSON object with the fields you define.",
        "Ada Lovelace, born in London in 1815, wrote the first published program at 27.",
        system_prompt="Extract the person's details from the text.",
        texts={
            "response_format": "json_schema",
            "json_schema_name": "person",
            "json_schema": '{"type": "object", "properties": {"name": {"type": "string"}, '
            '"born": {"type": "integer"}, "city": {"type": "string"}}, '
            '"required": ["name", "born", "city"]}',
        },
    ),
    Starter(
        "classify",
        "Sort text into fixed labels",
        "Structured output choice: the model can only answer one of the labels you list.",
        "The delivery came two weeks late and the box was crushed.",
        system_prompt="Classify the customer's message by its sentiment.",
        texts={"structured_outputs": "choice", "structured_choice": "positive\nneutral\nnegative"},
        targets=(options.VLLM,),
    ),
    Starter(
        "tool",
        "Let the model call a tool",
        "Tools: the model asks to call get_current_weather; you give the result, it answers.",
        "What's the weather like in Paris today?",
        texts={"tool_choice": "auto"},
        weather_tool=True,
        targets=(options.VLLM, options.MISTRAL),
    ),
    Starter(
        "reason",
        "Ask a question to think through",
        "Reasoning: with a reasoning model (Magistral, pick it under Model) its thinking folds "
        "above the answer.",
        "A bat and a ball cost 1.10 in total. The bat costs 1.00 more than the ball. "
        "How much is the ball?",
    ),
    Starter(
        "variables",
        "Reuse a prompt with variables",
        "Variables: {{city}} gets a box in the settings; change it and send again.",
        "Plan one day in {{city}} for someone who loves {{interest}}.",
        system_prompt="You are a friendly local guide to {{city}}.",
        variables={"city": "Lisbon", "interest": "tiles and trams"},
    ),
]
BY_KEY = {starter.key: starter for starter in STARTERS}

WEATHER_PARAMETERS = {
    "type": "object",
    "properties": {
        "location": {"type": "string", "description": "City and country"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["location"],
}


def for_target(target: str) -> list[Starter]:
    return [starter for starter in STARTERS if target in starter.targets]


class StarterRefused(Exception):
    """The starter cannot be applied; the text says why."""


@transaction.atomic
def apply(conversation: Conversation, starter: Starter) -> None:
    """Set the (empty) conversation up as the starter says; its message is for the composer."""
    if conversation.messages.exists():
        raise StarterRefused("Starters are for an empty conversation: start a new one first.")
    connection = get_connection(conversation.connection)
    target = options.target_of(connection.dialect if connection else "")
    if target not in starter.targets:
        raise StarterRefused(f"{starter.title} needs a server that supports it (vLLM).")
    conversation.system_prompt = starter.system_prompt
    conversation.variables = dict(starter.variables)
    conversation.options = options.update({}, starter.texts, target)
    conversation.save(update_fields=["system_prompt", "variables", "options"])
    if starter.weather_tool:
        tool, _ = ToolDefinition.objects.get_or_create(
            owner_id=conversation.owner_id,
            name="get_current_weather",
            defaults={
                "description": "The current weather in a city.",
                "parameters": WEATHER_PARAMETERS,
                "canned_result": '{"temperature": 18, "unit": "celsius", "sky": "sunny"}',
            },
        )
        conversation.tools.add(tool)
