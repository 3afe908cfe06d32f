"""The site under test: its database (a user, fresh conversations) and the stored-page timing.

Django runs in this process only to prepare the temp database and, at the end with the servers
stopped, to time the 1,000-message page; daphne serves everything else from its own process.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

from tests.bench.processes import MODEL

USERNAME = "bench"
PASSWORD = "bench-bench-bench"


@dataclass
class Site:
    """A running daphne, a logged-in session for the websocket clients, unused conversations."""

    port: int
    pid: int
    sim_port: int
    cookie: str
    conversations: list[int]
    # Further workers on the same Redis and PostgreSQL (the scale-out figures): each socket
    # goes to one of them, by its conversation, as a load balancer would spread them.
    more_workers: tuple[tuple[int, int], ...] = ()

    def port_for(self, pk: int) -> int:
        ports = [self.port, *(port for port, _ in self.more_workers)]
        return ports[pk % len(ports)]

    @property
    def pids(self) -> list[int]:
        return [self.pid, *(pid for _, pid in self.more_workers)]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def sim_url(self) -> str:
        return f"http://127.0.0.1:{self.sim_port}"

    def take(self, count: int) -> list[int]:
        """Fresh conversations: each answer's request is then as small as the bare page's."""
        if count > len(self.conversations):
            raise RuntimeError("the bench made too few conversations")
        taken, self.conversations = self.conversations[:count], self.conversations[count:]
        return taken


def prepare_database(count: int) -> tuple[str, list[int]]:
    """Migrate the temp database; a user, its session cookie and `count` fresh conversations.

    The conversations use the "simulator" connection, which SIMULATOR_URL points at the
    simulator itself: nothing sits between daphne and the upstream.
    """
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    from django.contrib.auth import get_user_model
    from django.test import Client

    from playground.models import Conversation

    user = get_user_model().objects.create_user(USERNAME, password=PASSWORD)
    made = Conversation.objects.bulk_create(
        Conversation(owner=user, connection="simulator", model=MODEL) for _ in range(count)
    )
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}", [c.pk for c in made]


def stored_page(count: int = 1000, repeat: int = 7) -> dict[str, Any]:
    """Server time and SQL queries of a conversation page holding `count` messages."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from playground.markdown import render_markdown
    from playground.models import Conversation, Message

    user = get_user_model().objects.get(username=USERNAME)
    conversation = Conversation.objects.create(owner=user, connection="simulator", model=MODEL)
    answer = "Tides rise and fall twice a day.\n\n- the **moon** pulls\n- the sun helps\n\n`code`"
    answer_html = render_markdown(answer)
    first_id = (Message.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    rows = []
    for i in range(count):
        user_turn = i % 2 == 0
        rows.append(
            Message(
                pk=first_id + i,
                conversation=conversation,
                parent_id=first_id + i - 1 if i else None,
                role="user" if user_turn else "assistant",
                content=f"Question {i} about tides?" if user_turn else answer,
                content_html="" if user_turn else answer_html,
                model="" if user_turn else MODEL,
                usage=None if user_turn else {"prompt_tokens": 20, "completion_tokens": 30},
                time_to_first_token_ms=None if user_turn else 12.0,
                duration_ms=None if user_turn else 300.0,
                tokens_per_second=None if user_turn else 100.0,
                finish_reason="" if user_turn else "stop",
            )
        )
    Message.objects.bulk_create(rows, batch_size=250)
    conversation.current_id = first_id + count - 1
    conversation.save(update_fields=["current"])

    client = Client(HTTP_HOST="127.0.0.1")  # "testserver" is not in ALLOWED_HOSTS
    client.force_login(user)
    url = conversation.get_absolute_url()
    timings = []
    queries = 0
    size = 0
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"the stored page answered {response.status_code}")
        queries, size = len(captured.captured_queries), len(response.content)
    return {
        "messages": count,
        "median_ms": statistics.median(timings[1:]),  # the first request warms caches
        "queries": queries,
        "page_bytes": size,
    }
