"""HexPlay settings: the only module that reads the environment."""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
# Everything the site writes at run time (database, generated secret, model files) lives here.
VAR_DIR = Path(os.environ.get("HEXPLAY_VAR_DIR", BASE_DIR / "var"))


def _env_str(name: str, default: str) -> str:
    return os.environ.get(name, default).strip()


def _env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    return value


def _env_float(name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    return value


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def _env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept in VAR_DIR."""
    key = _env_str("SECRET_KEY", "")
    if key:
        return key
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = _env_bool("DEBUG", False)
ALLOWED_HOSTS = _env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = _env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "template_partials",
    "playground",
    "workbench",
    "evals",
    "accounts",
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it answers a locked-out login.
    "axes.middleware.AxesMiddleware",
]

# Login throttling (django-axes): after LOGIN_FAILURE_LIMIT wrong passwords for one account
# from one address, that pair is refused for LOGIN_LOCKOUT_MINUTES; the same account from
# another address still logs in. Staff unlock under "Axes" in the admin (delete the attempt).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = _env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=_env_float("LOGIN_LOCKOUT_MINUTES", 15.0, minimum=0.1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "registration/locked.html"
AXES_RESET_ON_SUCCESS = True
# How long a sign-up link staff create in the admin works (once).
INVITE_DAYS = _env_int("INVITE_DAYS", 7, minimum=1)
# Attempts are kept in the database (the admin lists them); no banner at every start.
AXES_VERBOSE = False

# Content-Security-Policy on every response (django-csp). Scripts only from our own static files:
# no inline script, no eval (htmx runs with allowEval off). Styles keep 'unsafe-inline': the
# token bar's widths are style attributes and htmx adds its indicator <style>; with every
# model and user text escaped, inline CSS is a far smaller door than inline script.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        # The websockets are same-origin: 'self' covers ws:// and wss:// (CSP 3).
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

ROOT_URLCONF = "hexplay.urls"
ASGI_APPLICATION = "hexplay.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "hexplay.context.configuration_problems",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        _env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'hexplay.sqlite3'}"),
        # Kept open between requests and websocket messages: each Send's trip to the database
        # thread would otherwise open a connection (and run SQLite's PRAGMAs) again.
        conn_max_age=_env_int("DATABASE_CONN_MAX_AGE", 600),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets page views read while a stream checkpoints; IMMEDIATE + timeout makes concurrent
    # writers queue instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's connection pool (psycopg_pool): every worker thread borrows a connection for a
    # request or a websocket message and gives it back; persistent connections cannot be
    # combined with it.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "pool": {"min_size": 1, "max_size": _env_int("DATABASE_POOL_SIZE", 20, minimum=1)}
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"

# Redis (REDIS_URL) lets every server process, on any machine, reach every socket and every
# answer; without it, one process with its in-memory layer. A channel holds a burst of frames
# of a fast answer while its socket catches up (the default, 100, would drop some).
REDIS_URL = _env_str("REDIS_URL", "")
# Daphne processes `manage.py serve` (and `make run`) starts on one port; more need REDIS_URL.
WORKERS = _env_int("WORKERS", 1, minimum=1)
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # redis-py 8 reads with a 5 s socket timeout by default, which cuts off the
                # layer's 5 s blocking pop (channels_redis#422): every idle socket would drop.
                "hosts": [{"address": REDIS_URL, "socket_timeout": 30}],
                "capacity": 1000,
                "expiry": 60,
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 1000}}
    }

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Behind HTTPS (HTTPS=true): cookies only over TLS, HSTS, plain HTTP redirected, and the proxy's
# X-Forwarded-Proto trusted to say the request came in over TLS (the proxy must set it).
HTTPS = _env_bool("HTTPS", False)
if HTTPS:
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = _env_int("HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = _env_bool("HSTS_PRELOAD", False)
    if not SECURE_HSTS_PRELOAD:
        # Joining the browsers' preload list is a choice of the domain's owner, hard to undo.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]

# --- Upstream connections -------------------------------------------------------------------
# HexGrid (vLLM): named as in HexGrid's docs. When MISTRAL_BASE_URL is empty the local model
# is the default connection.


CONFIGURATION_PROBLEMS: list[str] = []


def _env_url(name: str, default: str = "") -> str:
    """The base URL of an OpenAI-compatible server from the environment.

    A mistake here does not stop the site: the connection is off (or the URL corrected) and one
    line says so in CONFIGURATION_PROBLEMS, printed at start and shown on the pages.
    """
    url, problem = _base_url(name, default)
    if problem:
        CONFIGURATION_PROBLEMS.append(problem)
    return url


def _base_url(name: str, default: str = "") -> tuple[str, str]:
    """The URL, and what is wrong with it in one line ("" when nothing is)."""
    value = _env_str(name, default).strip().rstrip("/")
    if not value:
        return "", ""
    if not value.startswith(("http://", "https://")):
        return "", (
            f"{name} must start with http:// or https:// (it is {value!r}): "
            "that connection is off until it is fixed."
        )
    for tail in ("/chat/completions", "/models"):
        if value.endswith(tail):
            fixed = value.removesuffix(tail)
            return fixed, f"{name} should end at /v1, not at {tail}: using {fixed}."
    return value, ""


MISTRAL_BASE_URL = _env_url("MISTRAL_BASE_URL")
HEXGRID_API_KEY = _env_str("HEXGRID_API_KEY", "")
MISTRAL_MODEL = _env_str("MISTRAL_MODEL", "mistralai/Mistral-Small-3.2-24B-Instruct-2506")

# The embedded llama.cpp server that `make run` starts (see playground/upstream/localmodel.py).
LOCAL_MODEL_ENABLED = _env_bool("LOCAL_MODEL_ENABLED", True)
LOCAL_MODEL_HOST = "127.0.0.1"
LOCAL_MODEL_PORT = _env_int("LOCAL_MODEL_PORT", 8181, minimum=1)
LOCAL_MODEL_URL = _env_url("LOCAL_MODEL_URL", f"http://{LOCAL_MODEL_HOST}:{LOCAL_MODEL_PORT}/v1")
LOCAL_MODEL_FILE = Path(
    _env_str("LOCAL_MODEL_FILE", str(VAR_DIR / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"))
)
LOCAL_MODEL_NAME = "SmolLM2-135M-Instruct"

# The offline vLLM simulator that `make run` starts beside the site.
SIMULATOR_ENABLED = _env_bool("SIMULATOR_ENABLED", True)
SIMULATOR_PORT = _env_int("SIMULATOR_PORT", 8182, minimum=1)
SIMULATOR_URL = _env_url("SIMULATOR_URL", f"http://127.0.0.1:{SIMULATOR_PORT}/v1")

UPSTREAM_CONNECT_TIMEOUT = _env_float("UPSTREAM_CONNECT_TIMEOUT", 10.0, minimum=0.1)
# Generation can pause for a long time (queueing, long reasoning): the read timeout is the
# longest silence we accept between two chunks, not the length of the answer.
UPSTREAM_READ_TIMEOUT = _env_float("UPSTREAM_READ_TIMEOUT", 300.0, minimum=0.1)
MODELS_CACHE_SECONDS = _env_float("MODELS_CACHE_SECONDS", 60.0)
# The token count asks the server as the person types: a slow tokenizer makes it "unknown",
# never holds up typing or sending.
TOKENIZE_TIMEOUT = _env_float("TOKENIZE_TIMEOUT", 2.0, minimum=0.1)
# Rows of a test run sent at once by default (each run can say otherwise, up to 16).
EVAL_CONCURRENCY = min(_env_int("EVAL_CONCURRENCY", 4, minimum=1), 16)
# Per person (staff too): answers arriving at once, and answers asked for per minute.
ANSWERS_AT_ONCE = _env_int("ANSWERS_AT_ONCE", 3, minimum=1)
ANSWERS_PER_MINUTE = _env_int("ANSWERS_PER_MINUTE", 30, minimum=1)
# The most messages (every version counted) one conversation holds, as an import may.
MAX_CONVERSATION_MESSAGES = _env_int("MAX_CONVERSATION_MESSAGES", 10_000, minimum=10)
# The conversation's websocket: the largest frame the page may send (a message with its
# settings), and how many frames a socket may send at once and per second after that.
WEBSOCKET_MAX_BYTES = _env_int("WEBSOCKET_MAX_BYTES", 1024 * 1024, minimum=1024)
WEBSOCKET_BURST = _env_int("WEBSOCKET_BURST", 20, minimum=1)
WEBSOCKET_PER_SECOND = _env_float("WEBSOCKET_PER_SECOND", 5.0, minimum=0.1)
# A long stream is saved every few seconds so a crash loses at most that much.
STREAM_CHECKPOINT_SECONDS = _env_float("STREAM_CHECKPOINT_SECONDS", 5.0, minimum=0.1)
# An answer nobody has open (every tab closed) is stopped after this long; a reload is quicker.
ANSWER_GRACE_SECONDS = _env_float("ANSWER_GRACE_SECONDS", 30.0, minimum=0.0)
# Deltas arriving faster than this are sent to the page together.
STREAM_COALESCE_SECONDS = _env_float("STREAM_COALESCE_SECONDS", 0.010)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": _env_str("LOG_LEVEL", "INFO")},
}
