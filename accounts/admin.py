"""Staff create invitations here and copy the link; the person picks their name and password."""

from django.contrib import admin
from django.utils.html import format_html

from accounts.models import Invite


@admin.register(Invite)
class InviteAdmin(admin.ModelAdmin):
    list_display = ["__str__", "created", "expires", "used", "used_by"]
    fields = ["note", "expires", "link", "used", "used_by"]
    readonly_fields = ["link", "used", "used_by"]

    @admin.display(description="Sign-up link")
    def link(self, invite: Invite) -> str:
        if not invite.pk:
            return "Saved, the invitation gets its link: send it to the person, it works once."
        # A link on this site: "Copy link" in the browser gives the whole address to send.
        return format_html('<a href="{0}">{0}</a>', invite.get_absolute_url())

    def save_model(self, request, obj: Invite, form, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
