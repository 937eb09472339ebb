"""The ablation table (``reports/tables/ablations.md|csv``) from the ``ablate`` stages' metrics.

One row per variant of ``ablate.variants`` (in params order, ``full`` first): what it changes,
test RMSE / MAE / R2 of the target branch on the shared evaluation subset, the change in RMSE
against ``full`` (positive = the removed part helped), the interpretable branch's RMSE, and the
parameter count.  A variant whose metrics file is absent shows ``n/a``.

Seeds (``ablate.seeds`` n > 1): every metric is the mean over the n seeds, shown as
``mean ± sd`` with a ``Seeds`` column, and a difference from ``full`` is marked significant
(``*``) when ``|ΔRMSE| > 2 sd`` of ``full``'s RMSE over its seeds (:func:`beyond_noise`); the
caption states the rule and a closing paragraph names the variants on each side of it.  With one
seed there is no spread, so nothing is marked.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from stcg.config import to_dict
from stcg.metrics import format_mean_sd, n_seeds, sd_at
from stcg.report.significance import NOISE_SDS
from stcg.train.config import AblationVariant


def describe(variant: AblationVariant) -> str:
    """What a variant changes, e.g. ``model.gcn=false`` or ``clusters=10``; ``-`` for none."""
    parts = [f"model.{k}={json.dumps(v)}" for k, v in to_dict(variant.model).items()]
    if variant.window is not None:
        parts.append(f"window={variant.window}")
    if variant.clusters is not None:
        parts.append(f"clusters={variant.clusters}")
    return ", ".join(parts) or "- (reference)"


def _f(x: float | None, digits: int = 3, sign: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}"


def beyond_noise(delta: float | None, ref_sd: float | None, k: float = NOISE_SDS) -> bool | None:
    """Whether a change ``delta`` from the reference exceeds ``k`` sd of the reference's seed
    spread ``ref_sd``: ``|delta| > k * ref_sd``.  None when either is unknown (one seed)."""
    if delta is None or ref_sd is None or (isinstance(delta, float) and math.isnan(delta)):
        return None
    return bool(abs(delta) > k * ref_sd)


def ablation_table(
    metrics_dir: str | Path, variants: Mapping[str, AblationVariant], budget: str
) -> tuple[str, pd.DataFrame]:
    """Markdown (with a caption naming ``budget`` and the significance rule) and the frame of
    the ablation table (one row per variant; ``*_sd`` and ``beyond_2sd`` are None for one seed)."""
    d = Path(metrics_dir)
    found = {n: json.loads((d / f"{n}.json").read_text()) for n in variants
             if (d / f"{n}.json").exists()}
    full = found.get("full", {})
    ref = full.get("test", {}).get("rmse")
    ref_sd = sd_at(full, "test", "rmse") if full else None
    rows = []
    for name, var in variants.items():
        m = found.get(name, {})
        test = m.get("test", {})
        rmse = test.get("rmse")
        delta = None if rmse is None or ref is None else rmse - ref
        rows.append({
            "variant": name,
            "change": describe(var),
            "rmse": rmse,
            "rmse_sd": sd_at(m, "test", "rmse") if m else None,
            "mae": test.get("mae"),
            "mae_sd": sd_at(m, "test", "mae") if m else None,
            "r2": test.get("r2"),
            "r2_sd": sd_at(m, "test", "r2") if m else None,
            "delta_rmse": delta,
            "beyond_2sd": None if name == "full" else beyond_noise(delta, ref_sd),
            "interp_rmse": m.get("interp", {}).get("rmse"),
            "interp_rmse_sd": sd_at(m, "interp", "rmse") if m else None,
            "parameters": m.get("parameters"),
            "n": test.get("n"),
            "n_seeds": n_seeds(m) if m else None,
        })
    df = pd.DataFrame(rows)
    n = next((r["n"] for r in rows if r["n"]), None)
    seeds = sorted({r["n_seeds"] for r in rows if r["n_seeds"]})
    many = any(s > 1 for s in seeds)
    head = (
        f"**Ablations.** STCG variants trained with one shared budget ({budget}) and scored on "
        f"the same {n if n else 'n/a'} random test samples; ΔRMSE is against `full` (positive = "
        "the part removed helped).  "
    )
    if many and ref_sd is not None:
        head += (
            f"Mean ± sd over {_seed_words(seeds)} seeds per variant; `*` marks a ΔRMSE beyond "
            f"{NOISE_SDS:g} sd of `full`'s seed spread (|ΔRMSE| > {NOISE_SDS:g} × "
            f"{ref_sd:.4f}), i.e. a difference larger than run-to-run variation.  "
        )
    else:
        head += (
            "One seed per variant: the table shows no seed spread, so no difference is marked "
            "and differences of a few hundredths may be run-to-run variation; "
            "`-S ablate.seeds=3` (README, \"Seeds and noise\") gives mean ± sd and marks the "
            f"differences beyond {NOISE_SDS:g} sd.  "
        )
    head += ("For the full-budget answer run e.g. `dvc exp run -S train_stcg.model.gcn=false` "
             "and `stcg compare`.  Beyond the paper, which reports no ablation.")
    cols = ["Variant", "Change", "RMSE", "MAE", "R²", "ΔRMSE", "y_interp RMSE", "Parameters"]
    if many:
        cols.append("Seeds")
    lines = [head, "", "| " + " | ".join(cols) + " |",
             "|---|---|" + "---:|" * (len(cols) - 2)]
    for r in rows:
        k = r["n_seeds"] or 1
        params = "n/a" if r["parameters"] is None else f"{int(r['parameters']):,}"
        delta = _f(r["delta_rmse"], sign=True) + (" *" if r["beyond_2sd"] else "")
        cells = [r["variant"], r["change"], *(
            format_mean_sd(r[key], r[f"{key}_sd"], k, missing="n/a")
            for key in ("rmse", "mae", "r2")), delta,
            format_mean_sd(r["interp_rmse"], r["interp_rmse_sd"], k, missing="n/a"), params]
        if many:
            cells.append(str(r["n_seeds"]) if r["n_seeds"] else "n/a")
        lines.append("| " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    verdict = significance_text(df)
    if verdict:
        text += "\n" + verdict + "\n"
    return text, df


def _seed_words(seeds: list[int]) -> str:
    return str(seeds[0]) if len(seeds) == 1 else f"{min(seeds)}-{max(seeds)}"


def significance_text(df: pd.DataFrame) -> str:
    """Which orderings against ``full`` are significant (the ``beyond_2sd`` rule), in words;
    empty when nothing was judged (one seed)."""
    judged = df[df["beyond_2sd"].notna()]
    if judged.empty:
        return ""
    worse = judged[judged["beyond_2sd"].astype(bool) & (judged["delta_rmse"] > 0)]
    better = judged[judged["beyond_2sd"].astype(bool) & (judged["delta_rmse"] < 0)]
    within = judged[~judged["beyond_2sd"].astype(bool)]

    def names(t: pd.DataFrame) -> str:
        t = t.reindex(t["delta_rmse"].abs().sort_values(ascending=False).index)
        return ", ".join(f"`{v}` ({d:+.3f})" for v, d in zip(t["variant"], t["delta_rmse"],
                                                              strict=True))

    parts = ["**Significance** (|ΔRMSE| > 2 sd of `full`'s seed spread)."]
    parts.append(f"Worse than `full`: {names(worse)}." if len(worse)
                 else "No variant is significantly worse than `full`.")
    if len(better):
        parts.append(f"Better than `full`: {names(better)}.")
    if len(within):
        parts.append(f"Within the noise of `full` (their order is not established): "
                     f"{names(within)}.")
    return " ".join(parts)
