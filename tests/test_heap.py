"""The daemon's collector settings (runner.heap): a frozen start-up heap, and a reload that does
not keep the retired documents' cycles forever."""

import gc
import weakref

import pytest

from runner import heap


class Node:
    """An object in a reference cycle: only the cycle collector frees it."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def restore_gc():
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_settle_freezes_what_is_alive_and_raises_the_young_threshold(restore_gc):
    heap.settle()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] == heap.YOUNG_THRESHOLD


def test_a_cycle_frozen_at_start_up_is_kept_by_collections_but_freed_by_resettle(restore_gc):
    node = Node()
    alive = weakref.ref(node)
    heap.settle()  # node is part of the start-up heap now
    del node  # retired, like the previous documents after a reload
    gc.collect()
    assert alive() is not None, "a frozen cycle is out of the collector's sight"
    heap.resettle()
    assert alive() is None


def test_resettle_does_nothing_where_nothing_was_settled(restore_gc):
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    heap.resettle()
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == (700, 10, 10)
