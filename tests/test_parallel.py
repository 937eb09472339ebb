"""Fits side by side in forked processes: same results, in order, errors surfaced."""

from __future__ import annotations

import os
import sys

import pytest

from stcg.parallel import fork_map, side_by_side, threads_per_process

linux = pytest.mark.skipif(sys.platform != "linux", reason="forked processes: Linux only")


@linux
def test_fork_map_runs_a_closure_in_other_processes_and_keeps_the_order():
    offset = 10  # a closure: the children inherit it, nothing is pickled but the results

    def f(x: int) -> tuple[int, int]:
        return x + offset, os.getpid()

    out = fork_map(f, [3, 1, 2, 5], procs=2)
    assert [v for v, _ in out] == [13, 11, 12, 15]
    assert os.getpid() not in {pid for _, pid in out}
    assert fork_map(f, [3, 1], procs=1) == [(13, os.getpid()), (11, os.getpid())]


@linux
def test_fork_map_sets_torch_threads_in_the_children_only():
    import torch

    before = torch.get_num_threads()
    out = fork_map(lambda _: torch.get_num_threads(), [0, 1], procs=2, threads=1)
    assert out == [1, 1]
    assert torch.get_num_threads() == before


@linux
def test_an_error_in_a_child_is_raised_in_the_parent():
    def f(x: int) -> int:
        if x == 2:
            raise ValueError("seed 2 failed")
        return x

    with pytest.raises(ValueError, match="seed 2 failed"):
        fork_map(f, [1, 2, 3], procs=3)
    assert fork_map(f, [1, 3], procs=2) == [1, 3]  # the module state was reset


def test_side_by_side_rules(monkeypatch):
    assert side_by_side(0, 3, gpu=False) == (3 if sys.platform == "linux" else 1)
    assert side_by_side(0, 1, gpu=False) == 1
    assert side_by_side(1, 3, gpu=False) == 1
    assert side_by_side(0, 3, gpu=True) == 1  # the seeds share the GPU one after another
    monkeypatch.setattr(sys, "platform", "linux")
    assert side_by_side(2, 3, gpu=False) == 2
    assert side_by_side(5, 3, gpu=False) == 3
    monkeypatch.setattr(sys, "platform", "darwin")
    assert side_by_side(0, 3, gpu=False) == 1
    with pytest.raises(ValueError, match="expected >= 0"):
        side_by_side(-1, 3, gpu=False)


def test_threads_per_process(monkeypatch):
    monkeypatch.setattr("stcg.parallel.available_threads", lambda threads=0: 8)
    assert threads_per_process(3) == 2
    assert threads_per_process(16) == 1
    assert threads_per_process(3, threads=4) == 4
