"""Websocket URLs."""

from django.urls import path

from playground import consumers

websocket_urlpatterns = [
    path("ws/conversations/<int:pk>/", consumers.ChatConsumer.as_asgi()),
]
