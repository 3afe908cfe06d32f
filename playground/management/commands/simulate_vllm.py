"""Run the offline vLLM simulator in the foreground until Ctrl+C."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from simulator import MODELS, Simulator


class Command(BaseCommand):
    help = "Serve a fake vLLM OpenAI-compatible API (Mistral models) for offline work and tests."
    # It touches neither the database nor the project's apps, so it starts even when they're broken.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8182)
        parser.add_argument(
            "--chunks-per-second",
            type=float,
            default=0.0,
            help="Pace the streamed chunks; 0 sends them as fast as possible.",
        )
        parser.add_argument(
            "--first-token-delay", type=float, default=0.0, help="Seconds before the first token."
        )
        parser.add_argument("--api-key", default="", help="Require 'Authorization: Bearer KEY'.")
        parser.add_argument("--quiet", action="store_true", help="Do not log each request.")

    def handle(self, *args: object, **options: object) -> None:
        simulator = Simulator(
            options["host"],
            options["port"],
            chunks_per_second=options["chunks_per_second"],
            first_token_delay=options["first_token_delay"],
            api_key=options["api_key"],
        )
        simulator.quiet = bool(options["quiet"])
        self.stdout.write(f"vLLM simulator at {simulator.base_url}")
        self.stdout.write(f"Models: {', '.join(MODELS)}")
        self.stdout.write("Quit with CONTROL-C.")
        try:
            simulator.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")
