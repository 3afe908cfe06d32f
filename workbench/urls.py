"""Workbench URLs."""

from django.urls import path

from workbench import views

urlpatterns = [
    path("conversations/<int:pk>/tokens/", views.token_count, name="token_count"),
]
