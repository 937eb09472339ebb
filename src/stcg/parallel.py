"""Independent fits (one per seed) side by side in forked processes on one CPU machine.

Small models (the Table 1 networks, GNNWR, GTNNWR) gain little from a second thread, so on a
few cores their seeds finish sooner as one-thread processes running together than one after
another with every thread.  The processes are forked, so they share the parent's loaded data
without a copy or pickling; only each fit's result travels back.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def available_threads(threads: int = 0) -> int:
    """``threads`` if positive, else every core this process may use."""
    if threads > 0:
        return threads
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def side_by_side(requested: int, n: int, gpu: bool) -> int:
    """How many processes run ``n`` independent fits together.

    ``requested`` (0 = one per fit), at most ``n``; one where the fits may use a GPU (they share
    it one after another) or off Linux (forking a process that has loaded torch is not safe on
    macOS).
    """
    if requested < 0:
        raise ValueError(f"processes: expected >= 0 (0 = one per fit), got {requested}")
    procs = max(1, min(n, requested or n))
    if procs > 1 and (sys.platform != "linux" or gpu):
        return 1
    return procs


def threads_per_process(procs: int, threads: int = 0) -> int:
    """``threads`` if positive, else the cores shared out over ``procs`` processes (>= 1)."""
    return threads if threads > 0 else max(1, available_threads() // procs)


# what a forked child calls: (fn, items, torch threads), set just before the fork
_TASK: tuple[Callable[[Any], Any], Sequence[Any], int | None] | None = None


def _call_in_child(i: int) -> Any:
    fn, items, threads = _TASK  # type: ignore[misc]
    if threads is not None and "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    return fn(items[i])


def fork_map(fn: Callable[[T], R], items: Sequence[T], procs: int,
             threads: int | None = None) -> list[R]:
    """``[fn(x) for x in items]``, in ``procs`` forked processes when ``procs > 1``.

    ``fn`` may be a closure (the children inherit it; it is not pickled); its results must
    pickle.  ``threads``: torch's intra-op threads in each child (the parent's are left alone).
    Results come back in the order of ``items``; an exception in a child is raised here.
    """
    global _TASK
    if procs <= 1 or len(items) <= 1:
        return [fn(x) for x in items]
    if _TASK is not None:
        raise RuntimeError("fork_map inside fork_map")
    _TASK = (fn, items, threads)
    try:
        with multiprocessing.get_context("fork").Pool(min(procs, len(items))) as pool:
            return pool.map(_call_in_child, range(len(items)), chunksize=1)
    finally:
        _TASK = None
