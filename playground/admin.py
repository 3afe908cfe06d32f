"""Admin: staff add connections here; keys are entered but never shown back."""

from django import forms
from django.contrib import admin

from playground.models import Conversation, Message, UpstreamConnection


class UpstreamConnectionForm(forms.ModelForm):
    base_url = forms.URLField(
        assume_scheme="http", help_text=UpstreamConnection.base_url.field.help_text
    )
    api_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the current key.",
    )

    class Meta:
        model = UpstreamConnection
        fields = ["slug", "name", "base_url", "dialect", "default_model", "api_key"]
        help_texts = {
            "default_model": "The model a conversation starts on when someone picks this "
            "connection. Leave empty to use the first model its server lists (/v1/models); "
            "if the server cannot be reached then, the connection cannot be picked.",
        }

    def clean_api_key(self) -> str:
        return self.cleaned_data["api_key"] or (self.instance.api_key if self.instance.pk else "")


@admin.register(UpstreamConnection)
class UpstreamConnectionAdmin(admin.ModelAdmin):
    form = UpstreamConnectionForm
    list_display = ["name", "slug", "base_url", "dialect", "default_model"]


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["__str__", "owner", "connection", "model", "updated"]
    list_select_related = ["owner"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["__str__", "conversation", "status", "model", "created"]
    list_select_related = ["conversation"]
