"""Create the first account on a fresh install, so `make run` needs no setup."""

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

USERNAME = "hexplay"


class Command(BaseCommand):
    help = "Create a superuser with a random password when there is no user yet."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--url", default="http://127.0.0.1:8000/", help="where the site will be served"
        )

    def handle(self, *args: Any, url: str, **options: Any) -> None:
        User = get_user_model()
        if User.objects.exists():
            self.stdout.write(
                f"Sign in at {url} with an existing account "
                f"(forgotten password: python manage.py changepassword NAME)."
            )
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(USERNAME, email="", password=password)
        # Shown once: only the hash is stored.
        self.stdout.write(
            self.style.SUCCESS("\nCreated the first account. Open the playground and sign in:\n")
            + f"\n    {url}\n"
            + f"\n    user name: {USERNAME}"
            + f"\n    password:  {password}\n"
            + "\nThis password is not shown again; reset it with "
            + f"`python manage.py changepassword {USERNAME}`.\n"
        )
