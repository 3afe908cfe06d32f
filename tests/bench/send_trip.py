"""What one Send costs in the database thread (`python -m tests.bench.send_trip`).

The consumer's trip for a Send (ownership check, the message saved, the request prepared)
and the fragments drawn for it, on a temp SQLite database, 100 times: SQL queries per Send
and milliseconds per Send. Channels runs these trips one at a time in one thread shared by
every socket of the process, so at 100 Sends at once the last waits for all the others.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from tests.bench.processes import ROOT
from tests.servers import site_environment

SENDS = 100


def main() -> None:
    os.environ.update(site_environment(Path(tempfile.mkdtemp()), "http://127.0.0.1:9/v1"))
    for name in ("DATABASE_URL", "SECRET_KEY"):
        os.environ.pop(name, None)
    sys.path.insert(0, str(ROOT))
    from tests.bench.site import prepare_database

    _, pks = prepare_database(SENDS + 11)  # sets Django up on the temp database
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from playground import fragments, turns
    from playground.models import Conversation, Message

    user = Conversation.objects.get(pk=pks[0]).owner

    def send(pk: int) -> None:
        conversation = turns.own_conversation(user, pk)
        message, prepared = turns.send_and_prepare(conversation, {"message": "Why are tides?"})
        fragments.append_message(message) + fragments.retitle(conversation)
        Message.objects.filter(pk=prepared[1].pk).update(status=Message.Status.COMPLETE)

    for pk in pks[:10]:  # warm the caches
        send(pk)
    with CaptureQueriesContext(connection) as captured:
        send(pks[10])
    started = time.perf_counter()
    for pk in pks[11 : 11 + SENDS]:
        send(pk)
    per_send = (time.perf_counter() - started) * 1000 / SENDS
    # One query per Send above marks the answer done, as the stream would at its end.
    print(f"a Send's database trip: {len(captured.captured_queries) - 1} queries, "
          f"{per_send:.2f} ms (mean of {SENDS}, SQLite, this machine)")  # fmt: skip


if __name__ == "__main__":
    main()
