"""Small I/O helpers: every file and directory is written to a temporary path, then renamed.

A crash or a validation error therefore never leaves a half-written output behind: either the
old output is still there, or the new one is complete.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling path; on success rename it onto ``path`` (file or directory).

    The temporary path does not exist when yielded: the caller creates a file or a directory
    there.  On an exception it is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    tmp.rmdir()
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
