"""Keeping the garbage collector's full passes off the objects that exist before a launch (a speed trick)."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

_frozen_by_us = [0]  # how many heap_frozen blocks that froze the heap are open


@contextlib.contextmanager
def heap_frozen() -> Iterator[None]:
    """Leave the objects that exist before a launch out of the garbage collector's passes during it.

    Each job allocates thousands of objects, so the collector runs often, and its full passes
    walk the whole heap (flyte, Hydra, every module): about a sixth of a remote sweep's time.
    `gc.freeze` moves what exists now to a generation no pass visits; `gc.unfreeze` puts it back
    after, where the next pass frees whatever became garbage meanwhile. Objects made during the
    launch are collected as usual (but see `freeze_kept`). If something else froze objects
    already (a pre-forking server, say), the heap is left as it is: unfreezing would undo that too.
    """
    if gc.get_freeze_count() and not _frozen_by_us[0]:
        yield
        return
    if _frozen_by_us[0]:  # nested in one of ours: the outer one unfreezes
        yield
        return
    gc.freeze()
    _frozen_by_us[0] += 1
    try:
        yield
    finally:
        _frozen_by_us[0] -= 1
        gc.unfreeze()


def freeze_kept() -> None:
    """Inside `heap_frozen`: freeze what exists now too (the configs a sweep keeps for all its jobs).

    A sweep keeps every job's composed config until it ends; without this, each full collector
    pass walks all the configs kept so far, a fifth of a 2,000-job dry run's time. Whatever is
    frozen here is collected as usual once the outer `heap_frozen` ends.
    """
    if _frozen_by_us[0]:
        gc.freeze()
