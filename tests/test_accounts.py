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


def test_a_person_changes_their_own_password(client, user):
    client.force_login(user)
    url = "/account/password/"

    wrong = client.post(
        url,
        {
            "old_password": "nope",
            "new_password1": "a brand new one 42",
            "new_password2": "a brand new one 42",
        },
    )
    right = client.post(
        url,
        {
            "old_password": RIGHT,
            "new_password1": "a brand new one 42",
            "new_password2": "a brand new one 42",
        },
    )

    assert "Your old password was entered incorrectly" in wrong.content.decode()
    assert right["Location"] == "/account/password/done/"
    user.refresh_from_db()
    assert user.check_password("a brand new one 42")
    assert client.get("/account/password/done/").status_code == 200  # still logged in


def invite_by_staff(django_user_model, **fields):
    from accounts.models import Invite

    staff = django_user_model.objects.create_superuser("grace", password="another long one")
    return Invite.objects.create(created_by=staff, note="for Lin", **fields)


def sign_up(client, invite, name="lin"):
    return client.post(
        invite.get_absolute_url(),
        {
            "username": name,
            "password1": "lin's own long pass 7",
            "password2": "lin's own long pass 7",
        },
    )


def test_an_invitation_signs_up_one_person_once(client, django_user_model):
    invite = invite_by_staff(django_user_model)

    page = client.get(invite.get_absolute_url())
    joined = sign_up(client, invite)
    again = sign_up(Client(), invite, name="mallory")

    assert "You were invited (for Lin)" in page.content.decode()
    assert joined["Location"] == "/"
    assert django_user_model.objects.get(username="lin").check_password("lin's own long pass 7")
    assert again.status_code == 410
    assert "It was used already" in again.content.decode()
    assert not django_user_model.objects.filter(username="mallory").exists()


def test_an_expired_or_unknown_invitation_says_so(client, django_user_model):
    from datetime import timedelta

    from django.utils import timezone

    expired = invite_by_staff(django_user_model, expires=timezone.now() - timedelta(minutes=1))

    gone = sign_up(client, expired)

    assert gone.status_code == 410 and "It expired on" in gone.content.decode()
    assert not django_user_model.objects.filter(username="lin").exists()
    unknown = client.get("/invite/not-a-real-token/")
    assert unknown.status_code == 410 and "No invitation has this link." in unknown.content.decode()


def test_staff_see_the_sign_up_link_in_the_admin(client, django_user_model):
    invite = invite_by_staff(django_user_model)
    client.force_login(django_user_model.objects.get(username="grace"))

    page = client.get(f"/admin/accounts/invite/{invite.pk}/change/").content.decode()

    assert f'href="/invite/{invite.token}/"' in page
