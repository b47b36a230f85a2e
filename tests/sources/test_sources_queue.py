"""The frame queue: bounded, never blocking, shedding by policy, safe across threads."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pytest

from fieldagent.sources.queue import FrameQueue, WorkItem


def _item(camera: str, n: int) -> WorkItem:
    return WorkItem(camera, Path(f"/inbox/{camera}/{n}.jpg"), None)


def test_drop_oldest_sheds_the_longest_waiting_item_and_returns_it() -> None:
    q = FrameQueue(3, "drop_oldest")
    items = [_item("a", 0), _item("b", 1), _item("a", 2), _item("a", 3), _item("b", 4)]
    shed = [q.put(i) for i in items]
    assert shed == [None, None, None, items[0], items[1]]
    assert len(q) == 3
    assert [q.get(0) for _ in range(3)] == items[2:]
    assert q.dropped() == {"a": 1, "b": 1}


def test_drop_newest_refuses_the_new_item_and_returns_it() -> None:
    q = FrameQueue(2, "drop_newest")
    items = [_item("a", n) for n in range(4)]
    shed = [q.put(i) for i in items]
    assert shed == [None, None, items[2], items[3]]
    assert [q.get(0), q.get(0)] == items[:2]
    assert q.dropped() == {"a": 2}


def test_get_waits_for_an_item_or_times_out() -> None:
    q = FrameQueue(1, "drop_oldest")
    assert q.get(timeout=0.01) is None
    got: list[WorkItem | None] = []
    consumer = threading.Thread(target=lambda: got.append(q.get(timeout=10)))
    consumer.start()
    q.put(_item("a", 1))
    consumer.join(10)
    assert got == [_item("a", 1)]


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        FrameQueue(0, "drop_oldest")
    with pytest.raises(ValueError, match="drop_oldest or drop_newest"):
        FrameQueue(1, "drop_random")  # type: ignore[arg-type]


@pytest.mark.parametrize("shed", ["drop_oldest", "drop_newest"])
def test_many_producers_and_a_consumer_lose_nothing_and_never_exceed_the_bound(
    shed: str,
) -> None:
    q = FrameQueue(8, shed)  # type: ignore[arg-type]
    cameras, per_camera = ["c0", "c1", "c2", "c3"], 2000
    shed_items: list[WorkItem] = []  # list.append is atomic: no lock needed in the test
    consumed: list[WorkItem] = []
    sizes: list[int] = []
    done = threading.Event()

    def produce(camera: str) -> None:
        for n in range(per_camera):
            out = q.put(_item(camera, n))
            sizes.append(len(q))
            if out is not None:
                shed_items.append(out)

    def consume() -> None:
        while not (done.is_set() and len(q) == 0):
            item = q.get(timeout=0.01)
            if item is not None:
                consumed.append(item)

    consumer = threading.Thread(target=consume)
    producers = [threading.Thread(target=produce, args=(c,)) for c in cameras]
    consumer.start()
    for t in producers:
        t.start()
    for t in producers:
        t.join(30)
    done.set()
    consumer.join(30)

    assert max(sizes) <= 8
    everything = consumed + shed_items
    assert sorted(everything, key=repr) == sorted(
        (_item(c, n) for c in cameras for n in range(per_camera)), key=repr
    )  # each item was either analysed or handed back, exactly once
    assert q.dropped() == Counter(i.camera for i in shed_items)
    assert shed_items, "the producers should have outrun the consumer at least once"
    for camera in cameras:  # each camera's frames still come out in order
        seq = [int(i.path.stem) for i in consumed if i.camera == camera]
        assert seq == sorted(seq)
