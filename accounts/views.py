"""A person's own password, and signing up by an invitation."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.forms import UserCreationForm
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from accounts.models import Invite


@require_http_methods(["GET", "POST"])
def invite(request: HttpRequest, token: str) -> HttpResponse:
    """The invitation's sign-up form: once used or past its date, the link says so."""
    found = Invite.objects.filter(token=token).first()
    if found is None or not found.usable:
        return render(request, "accounts/invite_gone.html", {"invite": found}, status=410)
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            # Locked: two sign-ups at once through one link cannot both succeed.
            locked = Invite.objects.select_for_update().get(pk=found.pk)
            if not locked.usable:
                return render(request, "accounts/invite_gone.html", {"invite": locked}, status=410)
            user = form.save()
            locked.used, locked.used_by = timezone.now(), user
            locked.save(update_fields=["used", "used_by"])
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome, {user.get_username()}.")
        return redirect("home")
    return render(request, "accounts/invite.html", {"form": form, "invite": found})
