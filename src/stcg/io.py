"""Small I/O helpers: every file and directory is written to a temporary path, then renamed.

A crash, a validation error, Ctrl-C (SIGINT) or SIGTERM therefore never leaves a half-written
output or a temporary file behind: either the old output is still there, or the new one is
complete.  (``kill -9`` cannot be caught: its temporary ``.<name>.<random>.tmp`` sibling stays.)
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any


def _raise_exit(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def sigterm_as_exit() -> Iterator[None]:
    """Within the block SIGTERM raises ``SystemExit(143)``, so ``finally`` clauses run.

    A no-op outside the main thread or where a handler other than the default is installed.
    """
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL):
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling path; on success rename it onto ``path`` (file or directory).

    The temporary path does not exist when yielded: the caller creates a file or a directory
    there.  On an exception, SIGINT or SIGTERM it is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with sigterm_as_exit():
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
        tmp.rmdir()
        yield from _replace_from(tmp, path)


def _replace_from(tmp: Path, path: Path) -> Iterator[Path]:
    """Yield ``tmp``; then move it onto ``path``; always remove what is left of ``tmp``."""
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"nothing was written to the temporary path for {path}")
        if path.is_dir() and not path.is_symlink():
            old = path.with_name(f".{path.name}.old")
            if old.exists():
                shutil.rmtree(old)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()


def _clean(obj: Any) -> Any:
    """Make numpy scalars/arrays JSON-friendly and turn non-finite floats into ``None``."""
    if isinstance(obj, Mapping):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):
        return _clean(obj.tolist())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    return obj


def write_json(path: str | Path, data: Mapping[str, Any], ndigits: int | None = 6) -> None:
    """Atomically write ``data`` as sorted, indented JSON (floats rounded to ``ndigits``)."""

    def rnd(x: Any) -> Any:
        if isinstance(x, float) and ndigits is not None:
            return float(f"{x:.{ndigits}g}")
        if isinstance(x, dict):
            return {k: rnd(v) for k, v in x.items()}
        if isinstance(x, list):
            return [rnd(v) for v in x]
        return x

    text = json.dumps(rnd(_clean(data)), indent=2, sort_keys=True) + "\n"
    write_text(path, text)


def write_text(path: str | Path, text: str) -> None:
    """Atomically write a text file."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def read_json(path: str | Path) -> Any:
    """Read a JSON file."""
    with Path(path).open() as fh:
        return json.load(fh)


def write_bytes(path: str | Path, data: bytes) -> None:
    """Atomically write a binary file."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def save_torch(path: str | Path, obj: Any) -> None:
    """``torch.save`` with reproducible bytes, written atomically.

    ``torch.save(obj, file)`` names the records inside its zip archive after the file, and an
    atomic write's file is a random temporary name, so the same object would give different
    bytes on every save.  Serialising to memory fixes the archive name (``archive/``).
    """
    import io

    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    write_bytes(path, buf.getvalue())


def load_torch(path: str | Path, what: str, fix: str) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU, with a one-line error naming ``path``.

    Args:
        path: the file.
        what: what the file should be, for the message ("model file", "checkpoint").
        fix: how to get a good one, for the message ("": nothing added).

    Raises:
        StcgError: the file is missing, not a file, empty, truncated, not a torch archive, or
            holds more than tensors, numbers and strings (refused by the safe loader).
    """
    import zipfile

    import torch

    from stcg.errors import StcgError

    path = Path(path)
    if not path.exists():
        raise StcgError(f"{path}: no {what} here; {fix}")
    if not path.is_file():
        raise StcgError(f"{path}: expected a {what} (a file), found a directory; {fix}")
    size = path.stat().st_size
    reason = None
    if size == 0:
        reason = "the file is empty (0 bytes)"
    else:
        try:
            with zipfile.ZipFile(path) as zf:
                bad = zf.testzip()
            if bad is not None:
                reason = f"record {bad!r} of its archive is corrupt"
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            reason = f"not a complete torch archive ({size} bytes; {exc})"
    if reason is None:
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - torch raises many types; all mean "unreadable"
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if "weights_only" in text or "Weights only" in text:
                text = "it holds objects other than tensors, numbers and strings, which the " \
                       "safe loader refuses"
            reason = text
    raise StcgError(f"{path}: cannot read this {what}: {reason}; it is truncated, corrupt or "
                    f"not a {what}" + (f"; {fix}" if fix else ""))
