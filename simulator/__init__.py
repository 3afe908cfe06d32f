"""The offline vLLM simulator: a stand-in server for tests, benchmarks and offline work."""

from simulator.server import (
    MAX_MODEL_LEN,
    MODELS,
    REASONING_MODELS,
    RecordedRequest,
    Simulator,
)

__all__ = ["MAX_MODEL_LEN", "MODELS", "REASONING_MODELS", "RecordedRequest", "Simulator"]
