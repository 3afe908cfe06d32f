"""Offline stand-in for vLLM 0.33's OpenAI-compatible server serving Mistral models.

Pure standard library, so tests, management commands and benchmarks can import it anywhere::

    sim = Simulator(chunks_per_second=50).start()      # port 0 = a free loopback port
    httpx.post(f"{sim.base_url}/chat/completions", json={"messages": [...], "stream": True})
    sim.wait_for(lambda r: r.completed)
    sim.stop()

What it does like vLLM: ``GET /v1/models``; ``POST /tokenize`` at the root (``count``,
``max_model_len``, ``tokens``, ``token_strs`` with ``return_token_strs``: the prompt laid out
as Mistral's template does, ``<s>[SYSTEM_PROMPT]…[/SYSTEM_PROMPT][AVAILABLE_TOOLS]…
[/AVAILABLE_TOOLS][INST]…[/INST]``, a word with the space before it one token, the same count
as the answers' ``usage.prompt_tokens``); ``POST /v1/chat/completions`` with vLLM's
request checks, status codes and error JSON; non-streaming bodies with vLLM's null fields;
SSE chunks in vLLM's exact shapes (role chunk, deltas, per-choice finish chunk with
``stop_reason``, optional usage chunk with empty ``choices``, ``data: [DONE]``);
``delta.reasoning`` / ``message.reasoning`` for the reasoning models; ``--api-key`` auth.
Answers are pseudo-text built from a word list and the words of the last user message. As in
vLLM, the same model, messages and ``seed`` give the same answer, a different seed a different
one, no seed a new one each time, and temperature 0 (greedy) always the same one. Hooks that fix
a length (``[[sim:tokens=N]]``) fix it whatever the seed. ``completion_tokens`` counts the
end-of-sequence token when the model stops by itself, as vLLM does (an answer of N pieces that
ends naturally reports N + 1).
A ``structured_outputs.grammar`` (xgrammar's EBNF or Lark) made of literals, character classes,
groups, alternatives, repeats and rule references is followed; any other is answered with a
sentence saying the simulator cannot follow it.

Every chat request is recorded (``Simulator.requests``); another process can read the log
with ``GET /_simulator/requests``, clear it with ``DELETE /_simulator/requests``, and change
the pacing with ``POST /_simulator/config {"chunks_per_second": 20, "first_token_delay": 0.5}``.
Every record notes when the request had been read, ``received`` (``time.time()``), and a
streamed answer's record when each piece of text went into the socket: ``writes``,
``(time.time(), text)`` for every frame that carries content or reasoning, in the order written.

Test hooks: put a marker in the text of the LAST user message (several may be combined).

``[[sim:status=503]]``
    Answer that HTTP status with vLLM's error JSON (503 ServiceUnavailableError,
    500 InternalServerError, 400 BadRequestError, 404 NotFoundError, ...).
``[[sim:stream-error]]``
    Stream a few chunks, then vLLM's in-stream error event
    ``data: {"error": {..., "code": 500}}`` and ``[DONE]``, all with HTTP 200.
``[[sim:no-done]]``
    Stream the text, then end the response without a finish chunk and without ``[DONE]``.
``[[sim:think-tags]]``
    Act like a server without a reasoning parser serving Magistral: the thinking comes inside
    ``delta.content`` as ``[THINK]…[/THINK]`` (markers split across chunks: "[TH", "INK]").
``[[sim:keepalive]]``
    Interleave ``: keep-alive`` SSE comment lines between the chunks.
``[[sim:long]]``
    A long answer of about 2,000 tokens.
``[[sim:tokens=N]]``
    Exactly N content tokens (then an end-of-sequence token, unless max tokens cut it short).
``[[sim:say=TEXT]]``
    Answer exactly TEXT (anything but ``]``), three characters a chunk.
``[[sim:tool-call]]``
    With ``tools`` and ``tool_choice`` auto, call the first tool. ``required`` or a named
    ``tool_choice`` always call a tool; so does auto when the message plainly asks for one (its
    name, or a telling word of it: "weather" for get_current_weather), each tool asked for
    unless ``parallel_tool_calls`` is false. Right after tool results, auto answers in words
    that quote them.
``[[sim:rate=N]]`` / ``[[sim:first-token-delay=S]]``
    Pace this request only (chunks per second, seconds before the first token).

Modules, by role: ``server`` (the Simulator, its request log, the HTTP handler and its pacing),
``checks`` and ``errors`` (vLLM's request checks and error JSON), ``plan`` (one answer, planned
before it is written), ``prompt`` (the prompt a request becomes, and its tokens), ``text``,
``tools``, ``structured``, ``regex`` and ``grammar`` (what the answer says), ``responses`` (its
JSON bodies, SSE chunks and /tokenize answers), ``catalog`` (the models served).
"""

from simulator.catalog import MAX_MODEL_LEN, MODELS, REASONING_MODELS
from simulator.server import RecordedRequest, Simulator

__all__ = ["MAX_MODEL_LEN", "MODELS", "REASONING_MODELS", "RecordedRequest", "Simulator"]
