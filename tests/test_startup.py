"""Start-up that explains itself: a taken port or a mistaken MISTRAL_BASE_URL is one plain line,
never a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from hexplay.settings import _base_url

ROOT = Path(__file__).resolve().parents[1]


# The default set-up each command here starts from (not the suite's PostgreSQL or Redis).
_OWN_SETUP = {"DATABASE_URL", "REDIS_URL", "MISTRAL_BASE_URL"}


def manage(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **{k: v for k, v in os.environ.items() if k not in _OWN_SETUP},
        "HEXPLAY_VAR_DIR": str(tmp_path),
        "LOCAL_MODEL_ENABLED": "false",
        **env,
    }
    environment.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def taken_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_taken_site_port_is_one_line_naming_the_variable(tmp_path, taken_port):
    result = manage(
        "serve", "--port", str(taken_port), tmp_path=tmp_path, SIMULATOR_ENABLED="false"
    )

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"Port {taken_port} on 127.0.0.1 is taken (another HexPlay still running?): " in (
        result.stderr
    )
    assert "choose another with PORT (make run PORT=8001)." in result.stderr


def test_a_taken_simulator_port_is_one_line_naming_the_variable(tmp_path, taken_port):
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        site_port = free.getsockname()[1]
    result = manage(
        "serve",
        "--port",
        str(site_port),
        tmp_path=tmp_path,
        SIMULATOR_ENABLED="true",
        SIMULATOR_PORT=str(taken_port),
    )

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "choose another with SIMULATOR_PORT." in result.stderr


@pytest.mark.parametrize(
    ("value", "url", "said"),
    [
        ("", "", ""),
        ("https://hexgrid.example/v1/", "https://hexgrid.example/v1", ""),
        (
            "hexgrid.example/v1",
            "",
            "MISTRAL_BASE_URL must start with http:// or https:// (it is 'hexgrid.example/v1'): "
            "that connection is off until it is fixed.",
        ),
        (
            "https://hexgrid.example/v1/chat/completions",
            "https://hexgrid.example/v1",
            "MISTRAL_BASE_URL should end at /v1, not at /chat/completions: "
            "using https://hexgrid.example/v1.",
        ),
    ],
)
def test_a_mistaken_base_url_is_said_plainly(monkeypatch, value, url, said):
    monkeypatch.setenv("MISTRAL_BASE_URL", value)
    assert _base_url("MISTRAL_BASE_URL") == (url, said)


@pytest.mark.parametrize("variable", ["MISTRAL_BASE_URL", "LOCAL_MODEL_URL", "SIMULATOR_URL"])
def test_a_base_url_without_a_scheme_does_not_stop_the_site(tmp_path, variable):
    result = manage("check", tmp_path=tmp_path, **{variable: "hexgrid.example/v1"})
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.django_db
def test_the_pages_say_what_is_wrong_with_the_configuration(logged_in, settings, simulator):
    settings.CONFIGURATION_PROBLEMS = ["MISTRAL_BASE_URL must start with http:// or https://"]
    page = logged_in.get("/prompts/").content.decode()
    assert '<div class="warning configuration-problems" role="alert">' in page
    assert "MISTRAL_BASE_URL must start with http:// or https://" in page


def test_an_unreachable_hexgrid_is_one_line_and_the_site_still_starts(tmp_path):
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        site_port = free.getsockname()[1]
    manage("migrate", "--noinput", tmp_path=tmp_path)
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(site_port)],
        cwd=ROOT,
        env={
            **{
                k: v
                for k, v in os.environ.items()
                if k not in _OWN_SETUP | {"DJANGO_SETTINGS_MODULE"}
            },
            "HEXPLAY_VAR_DIR": str(tmp_path),
            "LOCAL_MODEL_ENABLED": "false",
            "SIMULATOR_ENABLED": "false",
            "MISTRAL_BASE_URL": "http://127.0.0.1:9/v1",  # discard: nothing listens
            "UPSTREAM_CONNECT_TIMEOUT": "1",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stderr.readline()
        started = process.stdout.readline() + process.stdout.readline()
    finally:
        process.terminate()
        process.wait(timeout=20)

    assert line.startswith("HexGrid at http://127.0.0.1:9/v1: Could not fetch the list of models")
    assert "HexPlay: http://127.0.0.1:" in started


def test_several_workers_without_redis_are_refused_in_words(tmp_path):
    result = manage("serve", "--workers", "2", tmp_path=tmp_path, SIMULATOR_ENABLED="false")

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "2 workers need REDIS_URL" in result.stderr


def test_workers_share_one_port_over_redis(tmp_path):
    import httpx

    from tests.backends import redis_server
    from tests.servers import free_port, wait_for_port

    manage("migrate", "--noinput", tmp_path=tmp_path)
    port = free_port()
    with redis_server(tmp_path) as redis_url:
        environment = {
            **{k: v for k, v in os.environ.items() if k not in _OWN_SETUP},
            "HEXPLAY_VAR_DIR": str(tmp_path),
            "LOCAL_MODEL_ENABLED": "false",
            "SIMULATOR_ENABLED": "false",
            "REDIS_URL": redis_url,
            "WORKERS": "2",
        }
        environment.pop("DJANGO_SETTINGS_MODULE", None)
        process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(port)],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            wait_for_port(port, process, "serve")
            answers = {httpx.get(f"http://127.0.0.1:{port}/healthz").json()["channel_layer"]}
            children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text()
        finally:
            process.terminate()
            output = process.communicate(timeout=30)[0]
    assert answers == {"ok"}
    assert len(children.split()) == 2, output  # two daphne processes
    assert "2 daphne workers share the port, over Redis." in output
