"""What every stage script shares: its command line, its params section, and one-line errors.

A stage (``stages/<name>.py``) is ``main(argv)`` run through :func:`run`::

    if __name__ == "__main__":
        run(main)

:func:`run` turns the errors a user can fix into one line on stderr and exit code 1, and
SIGTERM (what ``timeout`` and batch schedulers send) into ``SystemExit(143)``, so every
``atomic_path`` removes its temporary output as it does for an exception.  ``--traceback`` on
the command line, or ``STCG_TRACEBACK=1`` in the environment, shows the full traceback instead.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from stcg.config import load_section
from stcg.errors import StcgError
from stcg.io import sigterm_as_exit

T = TypeVar("T")

TRACEBACK_ENV = "STCG_TRACEBACK"
"""Environment variable: ``1`` shows the full traceback of a user-facing error."""

USER_ERRORS: tuple[type[BaseException], ...] = (
    StcgError,
    FileNotFoundError,
    NotADirectoryError,
    IsADirectoryError,
    PermissionError,
)
"""Errors whose message is the whole story: a missing or wrong path, a bad param or input."""


def want_traceback(argv: Sequence[str] | None = None) -> bool:
    """Whether ``--traceback`` is in ``argv`` or ``STCG_TRACEBACK`` is set to a true value."""
    env = os.environ.get(TRACEBACK_ENV, "").strip().lower()
    return env not in ("", "0", "false", "no") or "--traceback" in (argv or [])


def one_line(exc: BaseException) -> str:
    """The error as one line: its message with newlines folded (type name for bare errors)."""
    msg = " ".join(str(exc).split())
    if isinstance(exc, OSError) and exc.filename is not None and str(exc.filename) not in msg:
        msg = f"{exc.filename}: {msg}"
    if isinstance(exc, FileNotFoundError) and " " not in msg.strip():  # a bare path
        msg = (f"{msg}: no such file or directory (run the stage that writes it, "
               "e.g. `dvc repro`)")
    return msg or type(exc).__name__


def run(main: Callable[[list[str] | None], Any], argv: Sequence[str] | None = None,
        name: str | None = None) -> None:
    """Run a stage's ``main(argv)`` with one-line errors (module docstring); exits the process.

    Args:
        main: the stage's entry point.
        argv: its arguments (default ``sys.argv[1:]``); ``--traceback`` is taken out.
        name: the prefix of error lines (default: the script's file name without ``.py``).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    show = want_traceback(args)
    args = [a for a in args if a != "--traceback"]
    name = name or Path(sys.argv[0]).stem
    code = 0
    with sigterm_as_exit():
        try:
            main(args)
        except USER_ERRORS as exc:
            if show:
                traceback.print_exc()
            print(f"{name}: error: {one_line(exc)}", file=sys.stderr)
            code = 1
        except KeyboardInterrupt:
            print(f"{name}: interrupted; temporary outputs removed", file=sys.stderr)
            code = 130
    sys.exit(code)


def parser(doc: str | None, params: bool = True) -> argparse.ArgumentParser:
    """An ``ArgumentParser`` with the options every stage has (``--params``, ``--traceback``)."""
    ap = argparse.ArgumentParser(description=doc)
    if params:
        ap.add_argument("--params", type=Path, default=Path("params.yaml"),
                        help="the params file (default: params.yaml)")
    ap.add_argument("--traceback", action="store_true",
                    help=f"show the full traceback of an error (or set {TRACEBACK_ENV}=1)")
    return ap


def section(cls: type[T], name: str, args: argparse.Namespace) -> T:
    """The params section ``name`` of ``args.params`` as config dataclass ``cls``."""
    return load_section(cls, name, args.params)
