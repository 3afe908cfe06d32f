"""Browser-side defence: the Content-Security-Policy on every response, no script the policy
would have to allow inline, and a deployment behind HTTPS that Django's own checks accept."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {
        name: values
        for name, *values in (part.split() for part in policy.split(";") if part.strip())
    }


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/login/", "/", "/prompts/", "/static/playground/playground.js"])
def test_every_response_has_a_policy_without_inline_or_eval_scripts(logged_in, path):
    policy = directives(logged_in.get(path))

    assert policy["script-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]


def test_no_template_holds_inline_script_or_eval_features():
    for template in (ROOT / "templates").rglob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), f"inline script in {template}"
        assert not re.search(r"\son[a-z]+=", text), f"inline event handler in {template}"
        assert not re.search(r"\shx-on[:-]|=[\"']js:", text), f"htmx eval in {template}"
        # hx-trigger [filters] are evaluated as JavaScript.
        for trigger in re.findall(r'hx-trigger="([^"]*)"', text):
            assert "[" not in trigger, f"an eval'd trigger filter in {template}: {trigger}"


def test_htmx_is_told_not_to_eval():
    base = (ROOT / "templates" / "base.html").read_text()
    assert """<meta name="htmx-config" content='{"allowEval": false}'>""" in base


def test_behind_https_djangos_deployment_checks_have_nothing_to_say(tmp_path):
    env = {
        **os.environ,
        "HTTPS": "true",
        "SECRET_KEY": "k" * 20 + "-not-a-real-key-but-long-and-varied-0123456789",
        "HEXPLAY_VAR_DIR": str(tmp_path),
        "DEBUG": "false",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.django_db
def test_behind_https_cookies_are_secure_and_hsts_is_sent(settings, client):
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_HSTS_SECONDS = 31_536_000
    response = client.get("/login/", secure=True)
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")
    assert response.cookies["csrftoken"]["secure"]
    assert response.cookies["csrftoken"]["samesite"] == "Lax"


ADMIN_KEY = "sk-admin-entered-key-0042"


@pytest.mark.django_db
def test_the_admin_never_shows_a_stored_key_and_an_empty_field_keeps_it(
    client, django_user_model, simulator
):
    from playground.models import UpstreamConnection

    connection = UpstreamConnection.objects.create(
        slug="staging", name="Staging", base_url=simulator.base_url, api_key=ADMIN_KEY
    )
    staff = django_user_model.objects.create_superuser("grace", password="another long one")
    client.force_login(staff)
    url = f"/admin/playground/upstreamconnection/{connection.pk}/change/"

    pages = [client.get(url).content, client.get("/admin/playground/upstreamconnection/").content]
    client.post(
        url,
        {
            "slug": "staging",
            "name": "Staging renamed",
            "base_url": simulator.base_url,
            "dialect": "vllm",
            "default_model": "",
            "api_key": "",
        },
    )

    assert all(ADMIN_KEY.encode() not in page for page in pages)
    connection.refresh_from_db()
    assert connection.name == "Staging renamed" and connection.api_key == ADMIN_KEY


@pytest.mark.django_db
def test_health_says_the_database_and_the_channel_layer_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "channel_layer": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_health_says_which_part_fails(client, monkeypatch):
    from hexplay import health

    def broken() -> None:
        raise OSError("database gone")

    monkeypatch.setattr(health, "_database", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"database": "failing: OSError", "channel_layer": "ok"}
