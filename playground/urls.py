"""Playground URLs."""

from django.urls import path

from playground.views import (
    conversations,
    exports,
    history,
    messages,
    options,
    sharing,
    tools,
)

urlpatterns = [
    path("", conversations.home, name="home"),
    path("conversations/new/", conversations.new_conversation, name="new_conversation"),
    path("conversations/<int:pk>/", conversations.conversation, name="conversation"),
    path(
        "conversations/<int:pk>/settings/",
        conversations.conversation_settings,
        name="conversation_settings",
    ),
    path("conversations/<int:pk>/send/", conversations.send_message, name="send_message"),
    path("conversations/<int:pk>/starter/", conversations.use_starter, name="use_starter"),
    path(
        "conversations/<int:pk>/variables/",
        conversations.conversation_variables,
        name="conversation_variables",
    ),
    path(
        "conversations/<int:pk>/messages/<int:message_pk>/show/",
        conversations.show_version,
        name="show_version",
    ),
    path("models/", conversations.model_picker, name="model_picker"),
    # Share links
    path("conversations/<int:pk>/share/", sharing.share_conversation, name="share_conversation"),
    path("conversations/<int:pk>/share/revoke/", sharing.revoke_share, name="revoke_share"),
    path("shares/", sharing.shares, name="shares"),
    path("s/<slug:token>/", sharing.shared, name="shared"),
    path("s/<slug:token>/copy/", sharing.copy_shared, name="copy_shared"),
    # History, export and import
    path("conversations/list/", history.conversation_list, name="conversation_list"),
    path("conversations/<int:pk>/rename/", history.rename_conversation, name="rename_conversation"),
    path(
        "conversations/<int:pk>/duplicate/",
        history.duplicate_conversation,
        name="duplicate_conversation",
    ),
    path("conversations/<int:pk>/delete/", history.delete_conversation, name="delete_conversation"),
    path("conversations/<int:pk>/export.json", exports.export_json, name="export_json"),
    path("conversations/<int:pk>/export.md", exports.export_markdown, name="export_markdown"),
    path("import/", exports.import_conversation, name="import_conversation"),
    # Messages set by hand
    path("conversations/<int:pk>/messages/add/", messages.add_message, name="add_message"),
    path(
        "conversations/<int:pk>/messages/earlier/",
        messages.earlier_messages,
        name="earlier_messages",
    ),
    path(
        "conversations/<int:pk>/messages/<int:message_pk>/editor/",
        messages.hand_edit_form,
        name="hand_edit_form",
    ),
    path(
        "conversations/<int:pk>/messages/<int:message_pk>/edit/",
        messages.edit_message,
        name="edit_message",
    ),
    path(
        "conversations/<int:pk>/messages/<int:message_pk>/move/",
        messages.move_message,
        name="move_message",
    ),
    path(
        "conversations/<int:pk>/messages/<int:message_pk>/delete/",
        messages.delete_message,
        name="delete_message",
    ),
    # Request options and the code view
    path("conversations/<int:pk>/options/", options.request_options, name="request_options"),
    path("conversations/<int:pk>/request/", options.request_preview, name="request_preview"),
    # The tool library
    path("tools/", tools.tool_list, name="tool_list"),
    path("tools/new/", tools.tool_new, name="tool_new"),
    path("tools/preview/", tools.tool_preview, name="tool_preview"),
    path("tools/import/", tools.tool_import, name="tool_import"),
    path("tools/export/", tools.tool_export_all, name="tool_export_all"),
    path("tools/<int:pk>/", tools.tool_edit, name="tool_edit"),
    path("tools/<int:pk>/duplicate/", tools.tool_duplicate, name="tool_duplicate"),
    path("tools/<int:pk>/delete/", tools.tool_delete, name="tool_delete"),
    path("tools/<int:pk>/export/", tools.tool_export, name="tool_export"),
]
