"""Accounts: wrong passwords throttled per account and address, unlocked by staff."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.test import Client

pytestmark = pytest.mark.django_db

RIGHT = "correct horse battery"


def log_in(client: Client, password: str, address: str = "10.0.0.1"):
    return client.post("/login/", {"username": "ada", "password": password}, REMOTE_ADDR=address)


def test_a_burst_of_wrong_passwords_locks_that_account_from_that_address(client, user, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in(client, "wrong").status_code == 200  # the form again, with its error

    locked = log_in(client, "wrong")
    right_but_locked = log_in(client, RIGHT)

    assert locked.status_code == 429
    assert "Too many wrong passwords" in locked.content.decode()
    assert "Try again in 15 minutes, or ask an administrator to unlock it." in (
        right_but_locked.content.decode()
    )
    assert "_auth_user_id" not in client.session


def test_the_right_password_from_another_address_still_works(client, user, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "wrong")

    elsewhere = log_in(Client(), RIGHT, address="10.0.0.2")

    assert elsewhere.status_code == 302


def test_a_few_wrong_passwords_then_the_right_one_logs_in(client, user):
    log_in(client, "wrong")
    log_in(client, "wrong")
    assert log_in(client, RIGHT).status_code == 302


def test_staff_unlock_an_account_in_the_admin(client, user, settings, django_user_model):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "wrong")
    staff = django_user_model.objects.create_superuser("grace", password="another long one")
    admin = Client()
    admin.force_login(staff)
    attempt = AccessAttempt.objects.get(username="ada")

    listed = admin.get("/admin/axes/accessattempt/")
    admin.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )

    assert "10.0.0.1" in listed.content.decode()
    assert log_in(client, RIGHT).status_code == 302
