"""Websocket URLs of runs."""

from django.urls import path

from evals import consumers

websocket_urlpatterns = [
    path("ws/runs/<int:pk>/", consumers.RunConsumer.as_asgi()),
]
