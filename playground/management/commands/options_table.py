"""Print the README's table of request options, or write it into README.md."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from playground import options


class Command(BaseCommand):
    help = "Print the request options table generated from playground/options.py."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--write", action="store_true", help="Replace the table in README.md in place."
        )

    def handle(self, *args, write: bool = False, **kwargs) -> None:
        table = options.readme_table()
        if not write:
            self.stdout.write(table)
            return
        readme = Path(settings.BASE_DIR) / "README.md"
        text = readme.read_text()
        start, end = text.find(options.TABLE_START), text.find(options.TABLE_END)
        if start == -1 or end == -1:
            raise CommandError(f"README.md has no {options.TABLE_START} … {options.TABLE_END}")
        readme.write_text(text[:start] + table + text[end + len(options.TABLE_END) :])
        self.stdout.write("README.md's options table is up to date.")
