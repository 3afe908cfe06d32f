"""What the simulated server serves: its models, its version and vLLM's default limits."""

MODELS = [
    "mistralai/Mistral-Small-3.2-24B-Instruct-2506",
    "mistralai/Magistral-Small-2506",
    "mistralai/Ministral-3-14B-Reasoning-2512",
    "mistralai/Mistral-7B-Instruct-v0.3",
    "mistralai/Mistral-Large-Instruct-2411",
]
REASONING_MODELS = [
    "mistralai/Magistral-Small-2506",
    "mistralai/Ministral-3-14B-Reasoning-2512",
]
MAX_MODEL_LEN = 32768
SYSTEM_FINGERPRINT = "vllm-0.33.0-4ba787ec"

# Limits vLLM applies by default (envs.py, --max-logprobs).
MAX_LOGPROBS = 20
MAX_STOP_STRINGS = 4
MAX_N = 16384
SAMPLING_EPS = 1e-5  # below this temperature vLLM samples greedily
