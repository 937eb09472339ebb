"""Running the export, idempotent and resumable: task states, the Earth Engine backend, the
local manifest, and :func:`run_export`.  See :mod:`stcg.data.gee`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

from stcg.data.gee.images import land_cover_year, make_task
from stcg.data.gee.recipe import NODATA, ExportRecipe, ExportUnit, plan_units
from stcg.io import read_json, write_json

DONE = "COMPLETED"
ACTIVE = ("UNSUBMITTED", "READY", "RUNNING", "CANCEL_REQUESTED")
LOCAL = "DOWNLOADED"


@dataclasses.dataclass(frozen=True)
class TaskInfo:
    """What Earth Engine reports about one task."""

    description: str
    state: str
    task_id: str
    error: str | None = None


class TaskBackend(Protocol):
    """Where tasks go: Earth Engine (:class:`EeBackend`) or a fake in tests."""

    def list_tasks(self) -> list[TaskInfo]:
        """Recent tasks of the user (most recent first)."""
        ...

    def start(self, unit: ExportUnit) -> str:
        """Submit the unit's task; return its id."""
        ...


OPERATION_STATES = {
    "PENDING": "READY",
    "RUNNING": "RUNNING",
    "CANCELLING": "CANCEL_REQUESTED",
    "SUCCEEDED": "COMPLETED",
    "CANCELLED": "CANCELLED",
    "FAILED": "FAILED",
}
"""Earth Engine operation state -> task state (the names ``ee.batch.Task`` uses)."""


def operation_info(op: dict[str, Any]) -> TaskInfo:
    """One entry of ``ee.data.listOperations()`` as a :class:`TaskInfo` (with the error message
    of a failed task, ``op["error"]["message"]``)."""
    meta = op.get("metadata") or {}
    state = OPERATION_STATES.get(str(meta.get("state")), "UNKNOWN")
    error = (op.get("error") or {}).get("message") if op.get("done") else None
    name = str(op.get("name") or "")
    return TaskInfo(str(meta.get("description") or ""), state, name.rsplit("operations/", 1)[-1],
                    error)


class EeBackend:
    """Earth Engine batch tasks for ``recipe``."""

    def __init__(self, ee: Any, recipe: ExportRecipe) -> None:
        self.ee = ee
        self.recipe = recipe

    def list_tasks(self) -> list[TaskInfo]:
        """``ee.data.listOperations()``, read here because ``ee.batch.Task.list()`` drops the
        error message of failed tasks (and ``ee.data.getTaskList()`` is deprecated)."""
        return [operation_info(op) for op in self.ee.data.listOperations()]

    def start(self, unit: ExportUnit) -> str:
        """Build the graph and start the export task."""
        task = make_task(self.ee, self.recipe, unit)
        task.start()
        return str(task.id)


def local_outputs(local_dir: Path, unit: ExportUnit, file_format: str) -> list[Path]:
    """Files of ``unit`` already in ``local_dir`` (Earth Engine may tile one export)."""
    if not local_dir.is_dir():
        return []
    ext = ".csv" if file_format == "csv" else ".tif"
    hits = []
    for path in sorted(local_dir.rglob(f"{unit.file_prefix}*")):
        rest = path.name[len(unit.file_prefix):]
        if path.suffix.lower() == ext and (rest == ext or rest.startswith("-")):
            hits.append(path)
    return hits


def _best(tasks: Iterable[TaskInfo]) -> dict[str, TaskInfo]:
    """Per description, the most telling task: completed > active > the most recent other."""
    rank = {DONE: 0, **{s: 1 for s in ACTIVE}}
    best: dict[str, TaskInfo] = {}
    for t in tasks:
        cur = best.get(t.description)
        if cur is None or rank.get(t.state, 2) < rank.get(cur.state, 2):
            best[t.description] = t
    return best


def load_manifest(path: Path) -> dict[str, Any]:
    """The local manifest (empty if absent)."""
    if not path.exists():
        return {"recipes": {}, "units": {}}
    data = read_json(path)
    if not isinstance(data, dict) or "units" not in data:
        raise ValueError(f"{path}: not a gee-export manifest (no 'units')")
    data.setdefault("recipes", {})
    return data


def write_bands_sidecar(local_dir: Path, recipe: ExportRecipe) -> Path:
    """``bands.json`` beside GeoTIFF downloads: band order, for ingestion (:mod:`files`)."""
    path = local_dir / "bands.json"
    write_json(path, {"bands": recipe.bands, "digest": recipe.digest, "nodata": NODATA})
    return path


def run_export(
    recipe: ExportRecipe,
    backend: TaskBackend | None,
    manifest_path: Path,
    local_dir: Path,
    wait: bool = False,
    poll_seconds: float = 60.0,
    log: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
    progress: bool = True,
) -> dict[str, int]:
    """Submit every unit of ``recipe`` that is not done yet; optionally wait for all of them.

    A unit counts as done when its files are in ``local_dir``, when the manifest records it as
    completed, or when ``backend`` lists a completed task of its description; a running task is
    left alone; a failed or cancelled one is resubmitted.  The manifest is rewritten (atomically)
    after every submission, so an interrupted run resumes where it stopped.

    Args:
        recipe: what to export.
        backend: Earth Engine (or a fake); None plans only (``--dry-run``): nothing is submitted.
        manifest_path: the local manifest JSON.
        local_dir: where the exported files are downloaded to (``data/files``).
        wait: poll until every unit is completed or failed.
        poll_seconds: seconds between polls.
        log: message sink.
        sleep: the sleep function (tests pass a no-op).
        progress: show tqdm progress bars.

    Returns:
        Counts per state (``DOWNLOADED``, ``COMPLETED``, ``SUBMITTED``, ``RUNNING``,
        ``PLANNED``; after ``wait`` also ``FAILED``, ``CANCELLED``, ``UNKNOWN``).
    """
    from tqdm.auto import tqdm

    units = plan_units(recipe)
    manifest = load_manifest(manifest_path)
    manifest["recipes"][recipe.digest] = recipe.to_json()
    entries: dict[str, dict[str, Any]] = manifest["units"]
    remote = _best(backend.list_tasks()) if backend is not None else {}
    if recipe.file_format == "geotiff" and backend is not None:
        write_bands_sidecar(local_dir, recipe)

    def save() -> None:
        write_json(manifest_path, manifest, ndigits=None)

    counts: dict[str, int] = {}
    bar = tqdm(units, desc="gee-export: submit", unit="task", disable=not progress)
    for unit in bar:
        entry = entries.setdefault(unit.key, {})
        entry.update(
            year=unit.year,
            periods=list(unit.periods),
            file_prefix=unit.file_prefix,
            digest=recipe.digest,
            land_cover_year=land_cover_year(unit.year),
        )
        files = local_outputs(local_dir, unit, recipe.file_format)
        task = remote.get(unit.description)
        if files:
            entry["state"] = LOCAL
            entry["files"] = [str(f) for f in files]
        elif task is not None and task.state == DONE:
            entry.update(state=DONE, task_id=task.task_id)
        elif entry.get("state") == DONE:
            pass  # completed earlier; Earth Engine's task list only keeps recent tasks
        elif task is not None and task.state in ACTIVE:
            entry.update(state="RUNNING", task_id=task.task_id)
        elif backend is None:
            entry["state"] = entry.get("state") or "PLANNED"  # last known, nothing submitted
        else:
            if task is not None:
                why = f" ({task.error})" if task.error else ""
                log(f"{unit.description}: previous task {task.state}{why}; submitting again")
            entry.update(state="SUBMITTED", task_id=backend.start(unit))
            save()
        counts[entry["state"]] = counts.get(entry["state"], 0) + 1
    if backend is None:
        for unit in units:
            e = entries[unit.key]
            log(f"{unit.description}: {e['state']} -> {unit.file_prefix} "
                f"(periods {unit.periods[0]}..{unit.periods[-1]})")
    else:
        save()
    if wait and backend is not None:
        counts = _wait(units, backend, entries, save, poll_seconds, log, sleep, progress)
    return counts


def _wait(
    units: list[ExportUnit],
    backend: TaskBackend,
    entries: dict[str, dict[str, Any]],
    save: Callable[[], None],
    poll_seconds: float,
    log: Callable[[str], None],
    sleep: Callable[[float], None],
    progress: bool,
) -> dict[str, int]:
    from tqdm.auto import tqdm

    final = (DONE, LOCAL, "FAILED", "CANCELLED", "UNKNOWN")
    bar = tqdm(total=len(units), desc="gee-export: done", unit="task", disable=not progress)
    while True:
        remote = _best(backend.list_tasks())
        for unit in units:
            entry = entries[unit.key]
            task = remote.get(unit.description)
            if entry.get("state") in final:
                continue
            if task is None:  # dropped off Earth Engine's (recent) task list: cannot tell
                entry["state"] = "UNKNOWN"
                log(f"{unit.description}: no longer in Earth Engine's task list; check the "
                    f"destination for {unit.file_prefix}* and run again")
                continue
            if task.state != entry.get("state"):
                entry["state"] = "RUNNING" if task.state in ACTIVE else task.state
                if task.state in ("FAILED", "CANCELLED"):
                    entry["error"] = task.error
                    reason = task.error or "(Earth Engine gave no reason)"
                    log(f"{unit.description}: {task.state}: {reason}")
        save()
        states = [entries[u.key].get("state") for u in units]
        bar.n = sum(s in (DONE, LOCAL) for s in states)
        bar.refresh()
        if all(s in final for s in states):
            bar.close()
            counts: dict[str, int] = {}
            for s in states:
                counts[str(s)] = counts.get(str(s), 0) + 1
            return counts
        sleep(poll_seconds)
