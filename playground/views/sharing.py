"""Share links: create, update, revoke, the read-only page and Open a copy."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from playground import sharing
from playground.models import Conversation, Share
from playground.views.common import own_conversation


def _back(request: HttpRequest, default: Conversation) -> HttpResponse:
    """After a plain form: back to the page that sent it (the list of shares), else `default`."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(default)


def _share_panel(request: HttpRequest, conversation: Conversation) -> HttpResponse:
    share = Share.objects.filter(conversation=conversation).first()
    context = {"conversation": conversation, "share": share}
    return render(request, "playground/shares.html#share_panel", context)


@require_POST
@login_required
def share_conversation(request: HttpRequest, pk: int) -> HttpResponse:
    """Create the link, or update its snapshot to the conversation as it is now (same link)."""
    conversation = own_conversation(request, pk)
    sharing.share(conversation)
    if request.headers.get("HX-Request"):
        return _share_panel(request, conversation)
    return _back(request, conversation)


@require_POST
@login_required
def revoke_share(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = own_conversation(request, pk)
    sharing.revoke(conversation)
    if request.headers.get("HX-Request"):
        return _share_panel(request, conversation)
    return _back(request, conversation)


@require_GET
@login_required
def shares(request: HttpRequest) -> HttpResponse:
    """The person's active share links."""
    found = (
        Share.objects.filter(conversation__owner=request.user)
        .select_related("conversation")
        .defer("snapshot")  # can be large; the list shows the conversation's own title
    )
    return render(request, "playground/shares.html", {"shares": found})


@require_GET
def shared(request: HttpRequest, token: str) -> HttpResponse:
    """A share link: read-only, for anyone who has it, logged in or not."""
    share = get_object_or_404(Share, token=token)
    context = {
        "share": share,
        "snapshot": share.snapshot,
        "messages": sharing.shared_messages(share),
        "request_json": sharing.request_json(share),
    }
    response = render(request, "playground/share.html", context)
    response["X-Robots-Tag"] = "noindex"
    # The token is the key: no Referer takes it to sites the content links to, and no cache
    # keeps the page once the owner revokes it. same-origin, not no-referrer: with no-referrer
    # Chromium posts "Open a copy" with `Origin: null`, which Django's CSRF check refuses.
    response["Referrer-Policy"] = "same-origin"
    add_never_cache_headers(response)
    return response


@require_POST
@login_required
def copy_shared(request: HttpRequest, token: str) -> HttpResponse:
    """Open a copy: the snapshot becomes a new conversation of the viewer's own."""
    share = get_object_or_404(Share, token=token)
    return redirect(sharing.open_copy(share, request.user))
