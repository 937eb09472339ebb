"""``stcg compare``: ``dvc metrics diff`` read against the seed noise floor.

A headline metric ``m`` of a run with n > 1 seeds has its seed spread ``m_sd`` beside it
(:mod:`stcg.report.headline`).  For every numeric headline metric that ``dvc metrics diff --json
--all`` reports, :func:`classify` compares the change ``new - old`` with ``k`` (2) times the noise
floor, the larger ``m_sd`` of the two sides:

* ``beyond`` ``|new - old| > k sd``: larger than run-to-run variation;
* ``within``: a change of that size is expected from the seed alone;
* ``no-floor``: neither side has an sd (both runs used one seed: rerun with ``seeds: 3``; or
  the metric does not depend on the seed, e.g. the climatology's RMSE).

The ablations' headline has one sd, its reference's RMSE spread (``full.rmse_sd``); it is the
floor of every ``delta_rmse.<variant>`` too, as in the ablation table.
"""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Mapping, Sequence
from typing import Any

from stcg.errors import StcgError
from stcg.report.significance import NOISE_SDS

NO_FLOOR = "no noise floor (no seed sd in the headline: rerun with seeds >= 3)"


def _num(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    return float(x) if math.isfinite(x) else None


def _side(entry: Mapping[str, Any] | None, side: str) -> float | None:
    return _num((entry or {}).get(side))


def classify(diff: Mapping[str, Mapping[str, Mapping[str, Any]]],
             k: float = NOISE_SDS) -> list[dict[str, Any]]:
    """Rows ``{file, metric, old, new, delta, sd, n_seeds, verdict, note}`` of a
    ``dvc metrics diff --json`` mapping (``{file: {"a.b": {"old", "new", "diff"}}}``).

    ``verdict`` is ``beyond``, ``within``, ``no-floor`` or ``unchanged``; the sd keys and
    ``n_seeds`` themselves are not rows, nor are non-numeric values (e.g. a best model's name).
    """
    rows = []
    for path, metrics in diff.items():
        for key, entry in metrics.items():
            leaf = key.rsplit(".", 1)[-1]
            if leaf.endswith("_sd") or leaf == "n_seeds":
                continue
            old, new = _side(entry, "old"), _side(entry, "new")
            if old is None and new is None:
                continue
            sd_entry = metrics.get(f"{key}_sd")
            if sd_entry is None and key.startswith("delta_rmse."):
                sd_entry = metrics.get("full.rmse_sd")
            sds = [s for s in (_side(sd_entry, "old"), _side(sd_entry, "new")) if s is not None]
            sd = max(sds) if sds else None
            seeds = [s for s in (_side(metrics.get("n_seeds"), "old"),
                                 _side(metrics.get("n_seeds"), "new")) if s is not None]
            delta = None if old is None or new is None else new - old
            if delta is None:
                verdict, note = "no-floor", "only on one side"
            elif delta == 0:
                verdict, note = "unchanged", ""
            elif sd is None:
                verdict, note = "no-floor", NO_FLOOR if not seeds or max(seeds) < 2 else \
                    "no seed spread recorded for this metric (seed-independent)"
            elif abs(delta) > k * sd:
                verdict, note = "beyond", f"|Δ| > {k:g} sd ({k * sd:.4g})"
            else:
                verdict, note = "within", f"|Δ| <= {k:g} sd ({k * sd:.4g}): noise"
            rows.append({"file": path, "metric": key, "old": old, "new": new, "delta": delta,
                         "sd": sd, "n_seeds": int(max(seeds)) if seeds else 1,
                         "verdict": verdict, "note": note})
    return rows


def _g(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def format_rows(rows: Sequence[Mapping[str, Any]], changed_only: bool = True) -> str:
    """A plain-text table of :func:`classify`'s rows (unchanged ones left out by default)."""
    rows = [r for r in rows if not changed_only or r["verdict"] != "unchanged"]
    if not rows:
        return "no headline metric changed"
    head = ("file", "metric", "old", "new", "Δ", "seed sd", "n", "verdict")
    table = [head] + [(r["file"], r["metric"], _g(r["old"]), _g(r["new"]), _g(r["delta"]),
                       _g(r["sd"]), str(r["n_seeds"]),
                       f"{r['verdict']}: {r['note']}" if r["note"] else r["verdict"])
                      for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(head) - 1)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True))
                     + "  " + row[-1] for row in table)


def dvc_metrics_diff(revs: Sequence[str] = ()) -> dict:
    """``dvc metrics diff --json --all REVS`` (every pipeline's metrics) as a mapping.

    Raises:
        StcgError: when dvc fails (its message included).
    """
    cmd = ["dvc", "metrics", "diff", "--json", "--all", *revs]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise StcgError(f"{' '.join(cmd)} failed: {res.stderr.strip() or res.stdout.strip()}")
    text = res.stdout.strip()
    start = text.find("{")
    return json.loads(text[start:]) if start >= 0 else {}
