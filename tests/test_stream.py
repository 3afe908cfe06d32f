"""Pacing of deltas to the page, and the figures computed for each answer."""

from __future__ import annotations

import asyncio

from playground.fragments import merge
from playground.stream import Coalescer, Piece, format_seconds


def recorder():
    sent: list[list[Piece]] = []

    async def send(batch: list[Piece]) -> None:
        sent.append(batch)

    return sent, send


async def test_a_quiet_stream_sends_every_delta_at_once():
    sent, send = recorder()
    outbox = Coalescer(send, window=0.010)
    for n in range(5):
        await outbox.add(Piece("content", str(n)))
        # Sent before the next one arrives: nothing waited for a batch.
        assert [p.text for batch in sent for p in batch] == [str(i) for i in range(n + 1)]
        await asyncio.sleep(0.03)
    await outbox.close()
    assert len(sent) == 5


async def test_a_burst_is_batched_into_few_sends_in_order():
    sent, send = recorder()
    outbox = Coalescer(send, window=0.010)
    for n in range(5000):
        await outbox.add(Piece("content", f"{n} "))
    await outbox.close()
    assert len(sent) <= 3
    assert "".join(p.text for batch in sent for p in batch) == "".join(f"{n} " for n in range(5000))


async def test_pieces_waiting_for_the_window_go_out_by_themselves():
    sent, send = recorder()
    outbox = Coalescer(send, window=0.010)
    await outbox.add(Piece("content", "a"))
    await outbox.add(Piece("content", "b"))  # inside the window: waits
    assert len(sent) == 1
    await asyncio.sleep(0.05)  # no close(): the timer alone must deliver it
    assert [[p.text for p in batch] for batch in sent] == [["a"], ["b"]]


def test_neighbouring_pieces_of_one_kind_are_merged():
    batch = [
        Piece("reasoning", "a"),
        Piece("reasoning", "b"),
        Piece("reasoning_done", "1 s"),
        Piece("content", "c"),
        Piece("content", "d"),
    ]
    assert merge(batch) == [
        Piece("reasoning", "ab"),
        Piece("reasoning_done", "1 s"),
        Piece("content", "cd"),
    ]


def test_durations_read_naturally():
    assert format_seconds(87.4) == "87 ms"
    assert format_seconds(3240) == "3.2 s"
    assert format_seconds(None) == ""
