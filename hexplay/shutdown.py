"""Work a server process finishes before it stops: daphne stops its Twisted reactor on SIGTERM,
and waits for what the reactor's "before shutdown" triggers return."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable

_hooked: set[Callable[[], Awaitable[None]]] = set()


def before_stop(finish: Callable[[], Awaitable[None]]) -> None:
    """Await `finish()` when this daphne process stops (once per callable; outside daphne,
    in tests and commands, nothing happens)."""
    if finish in _hooked or "twisted.internet.reactor" not in sys.modules:
        return
    from twisted.internet import defer, reactor

    if not reactor.running:
        return
    _hooked.add(finish)
    reactor.addSystemEventTrigger(
        "before", "shutdown", lambda: defer.Deferred.fromFuture(asyncio.ensure_future(finish()))
    )
