"""Playground URLs."""

from django.urls import path

from playground import views

urlpatterns = [
    path("", views.home, name="home"),
    path("conversations/new/", views.new_conversation, name="new_conversation"),
    path("conversations/<int:pk>/", views.conversation, name="conversation"),
    path(
        "conversations/<int:pk>/settings/",
        views.conversation_settings,
        name="conversation_settings",
    ),
    path("conversations/<int:pk>/send/", views.send_message, name="send_message"),
    path(
        "conversations/<int:pk>/messages/<int:message_pk>/show/",
        views.show_version,
        name="show_version",
    ),
    path("models/", views.model_picker, name="model_picker"),
    # Share links
    path("conversations/<int:pk>/share/", views.share_conversation, name="share_conversation"),
    path("conversations/<int:pk>/share/revoke/", views.revoke_share, name="revoke_share"),
    path("shares/", views.shares, name="shares"),
    path("s/<slug:token>/", views.shared, name="shared"),
    path("s/<slug:token>/copy/", views.copy_shared, name="copy_shared"),
    # History, export and import
    path("conversations/list/", views.conversation_list, name="conversation_list"),
    path("conversations/<int:pk>/rename/", views.rename_conversation, name="rename_conversation"),
    path(
        "conversations/<int:pk>/duplicate/",
        views.duplicate_conversation,
        name="duplicate_conversation",
    ),
    path("conversations/<int:pk>/delete/", views.delete_conversation, name="delete_conversation"),
    path("conversations/<int:pk>/export.json", views.export_json, name="export_json"),
    path("conversations/<int:pk>/export.md", views.export_markdown, name="export_markdown"),
    path("import/", views.import_conversation, name="import_conversation"),
    # Messages set by hand
    path("conversations/<int:pk>/messages/add/", views.add_message, name="add_message"),
    path(
        "conversations/<int:pk>/messages/earlier/",
        views.earlier_messages,
        name="earlier_messages",
    ),
    path(
        "conversations/<int:pk>/messages/<int:message_pk>/editor/",
        views.hand_edit_form,
        name="hand_edit_form",
    ),
    path(
        "conversations/<int:pk>/messages/<int:message_pk>/edit/",
        views.edit_message,
        name="edit_message",
    ),
    path(
        "conversations/<int:pk>/messages/<int:message_pk>/move/",
        views.move_message,
        name="move_message",
    ),
    path(
        "conversations/<int:pk>/messages/<int:message_pk>/delete/",
        views.delete_message,
        name="delete_message",
    ),
    # Request options and the code view
    path("conversations/<int:pk>/options/", views.request_options, name="request_options"),
    path("conversations/<int:pk>/request/", views.request_preview, name="request_preview"),
    # The tool library
    path("tools/", views.tool_list, name="tool_list"),
    path("tools/new/", views.tool_new, name="tool_new"),
    path("tools/preview/", views.tool_preview, name="tool_preview"),
    path("tools/import/", views.tool_import, name="tool_import"),
    path("tools/export/", views.tool_export_all, name="tool_export_all"),
    path("tools/<int:pk>/", views.tool_edit, name="tool_edit"),
    path("tools/<int:pk>/duplicate/", views.tool_duplicate, name="tool_duplicate"),
    path("tools/<int:pk>/delete/", views.tool_delete, name="tool_delete"),
    path("tools/<int:pk>/export/", views.tool_export, name="tool_export"),
]
