"""Workbench URLs."""

from django.urls import path

from workbench.views import prompts, tokens

urlpatterns = [
    # The next request's size, counted by the server's tokenizer
    path("conversations/<int:pk>/tokens/", tokens.token_count, name="token_count"),
    # Saved prompts and their versions
    path("conversations/<int:pk>/save-prompt/", prompts.save_prompt, name="save_prompt"),
    path("prompts/", prompts.prompt_list, name="prompt_list"),
    path("prompts/import/", prompts.prompt_import, name="prompt_import"),
    path("prompts/<int:pk>/", prompts.prompt_detail, name="prompt"),
    path("prompts/<int:pk>/compare/", prompts.prompt_compare, name="prompt_compare"),
    path("prompts/<int:pk>/duplicate/", prompts.prompt_duplicate, name="prompt_duplicate"),
    path("prompts/<int:pk>/delete/", prompts.prompt_delete, name="prompt_delete"),
    path("prompts/<int:pk>/export.json", prompts.prompt_export, name="prompt_export"),
    path(
        "prompts/<int:pk>/versions/<int:number>/restore/",
        prompts.version_restore,
        name="version_restore",
    ),
    path(
        "prompts/<int:pk>/versions/<int:number>/start/",
        prompts.version_start,
        name="version_start",
    ),
]
