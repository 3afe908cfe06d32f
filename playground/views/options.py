"""The request options panel and the code view (cURL, Python, JavaScript) of the next request."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from playground import curl, options, turns
from playground.forms.options import RequestOptionsForm
from playground.models import Conversation, ToolDefinition, tool_turns_problem
from playground.stream import build_body
from playground.upstream.connections import HEXGRID, get_connection
from playground.views.common import own_conversation, variables_context

_OPTIONS = "playground/options.html"
_CODE_TABS = [("curl", "cURL"), ("python", "Python"), ("javascript", "JavaScript")]


def target_of(conversation: Conversation) -> str:
    connection = get_connection(conversation.connection)
    return options.target_of(connection.dialect if connection else "")


def options_context(conversation: Conversation, *, typing: str = "", tab: str = "curl") -> dict:
    """The request options panel, and the request the next Send posts in three languages."""
    connection = get_connection(conversation.connection)
    target = options.target_of(connection.dialect if connection else "")
    # A Send always ends the request with the person's message.
    after_send = [*conversation.upstream_messages(), {"role": "user", "content": typing}]
    library = _tool_library(conversation)
    form = RequestOptionsForm.for_stored(
        conversation.options,
        target=target,
        messages=after_send,
        tools=[tool.as_openai() for tool in library if tool.attached],
    )
    context = {
        "conversation": conversation,
        "options_form": form,
        "tool_library": library,
        # Calls waiting for results: a Send is refused until they are given.
        "turns_problem": tool_turns_problem(after_send),
        "target": target,
        "target_label": options.TARGETS[target],
        "typing": bool(typing.strip()),
        "tab": tab if tab in dict(_CODE_TABS) else "curl",
        "code": None,
    }
    if connection is not None:
        body = build_body(conversation, connection, typing=typing)
        code = curl.snippets(
            body,
            target=target,
            base_url=connection.base_url,
            with_key=bool(connection.api_key),
            literal_url=connection.slug != HEXGRID,
        )
        context["code"] = code
        context["code_tabs"] = [(key, title, getattr(code, key)) for key, title in _CODE_TABS]
    return context


def _tool_library(conversation: Conversation) -> list[ToolDefinition]:
    """The owner's tools, by name, each knowing whether it is attached (two queries)."""
    attached = set(conversation.tools.values_list("pk", flat=True))
    library = list(ToolDefinition.objects.filter(owner_id=conversation.owner_id))
    for tool in library:
        tool.attached = tool.pk in attached
    return library


@require_POST
@login_required
def request_options(request: HttpRequest, pk: int) -> HttpResponse:
    """Autosave of the options panel: store what was typed, say what is wrong, show the request."""
    conversation = own_conversation(request, pk)
    target = target_of(conversation)
    shown = request.POST.get("shown_target", target)
    tools_changed = False
    # A panel drawn for another target (the connection changed meanwhile) saves nothing.
    if shown == target:
        try:
            tools_changed = turns.attach_ticked_tools(conversation, request.POST)
        except turns.TurnRejected:
            raise Http404("No such tool of yours") from None
        form = RequestOptionsForm(request.POST, target=target)
        conversation.options = options.update(conversation.options, form.texts(), target)
        conversation.save(update_fields=["options"])
    if not request.headers.get("HX-Request"):
        return redirect(conversation)
    context = options_context(
        conversation, typing=request.POST.get("message", ""), tab=request.POST.get("tab", "")
    )
    context["stale_panel"] = shown != target
    # Tool choice offers the attached tools by name: its group is drawn again.
    context["tools_changed"] = tools_changed
    return render(request, f"{_OPTIONS}#options_saved", context)


@require_GET
@login_required
def request_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """The code view again, after the settings, the conversation or the typed message changed."""
    conversation = own_conversation(request, pk)
    context = options_context(
        conversation, typing=request.GET.get("message", ""), tab=request.GET.get("tab", "")
    )
    context["stale_panel"] = request.GET.get("shown_target", context["target"]) != context["target"]
    # A {{variable}} written or removed: the Variables group is drawn again (only then, so the
    # value being typed in it is not swapped away).
    found = variables_context(conversation, request.GET.get("message", ""))
    if found["variables_shown"] != request.GET.get("variables_shown", found["variables_shown"]):
        context |= found | {"variables_changed": True}
    return render(request, f"{_OPTIONS}#code_view_refresh", context)
