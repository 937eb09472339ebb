"""Device resolution and mixed precision, once for every torch code path.

``device`` params (``train_stcg.device``, ``fewshot_*.device``, ``train_tabular.device``) accept
``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda`` or any torch device string.  On CUDA
the forward passes run under bf16 autocast when the stage's ``amp`` allows it; on CPU autocast is
never used (bf16 matmuls are slower there and change the numbers).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``auto`` or None -> CUDA when available, else CPU; otherwise the named device.

    Raises:
        RuntimeError: ``cuda`` is named but no CUDA device is available.
    """
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"device: {str(device)!r} requested but no CUDA device is available; "
            "set the stage's device param to 'auto' or 'cpu'"
        )
    return dev


def autocast(device: torch.device, enabled: bool = True) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA when ``enabled``, else a no-op context."""
    if enabled and device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@contextlib.contextmanager
def deterministic() -> Iterator[None]:
    """Torch's deterministic kernels inside the block, the previous setting restored after.

    On CPU the backward of an index (``emb[idx]``, ``index_add``) accumulates rows in parallel,
    so its float sums change order from run to run; the deterministic kernels sort first, and a
    rerun gives the same bytes for a seed and thread count.  An op with no deterministic kernel
    warns instead of failing (``warn_only``).
    """
    was = torch.are_deterministic_algorithms_enabled()
    was_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(was, warn_only=was_warn)
