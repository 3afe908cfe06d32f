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
]
