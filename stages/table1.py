"""Stage ``table1``: collect the Table 1 metrics into ``table1.md`` and ``table1.csv``.

Rows and order are the paper's (stcg.report.table1); the paper's numbers come from
``paper_targets.yaml`` (key ``table1``).  Missing metrics files give "n/a", so the stage also
works before the main model (``--stcg``) exists.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from stcg import stage
from stcg.config import active_profile, read_params
from stcg.io import read_json, write_json, write_text
from stcg.report.headline import table1_headline
from stcg.report.table1 import BASELINE_KEYS, build_table1, table1_csv, table1_markdown


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, read the metrics, write the table."""
    ap = stage.parser(__doc__)
    ap.add_argument("--metrics-dir", type=Path, required=True,
                    help="directory of <model>.json from train_tabular")
    ap.add_argument("--stcg", type=Path, required=True,
                    help="the main model's metrics JSON (test.rmse, test.r2); may not exist")
    ap.add_argument("--targets", type=Path, required=True, help="paper_targets.yaml")
    ap.add_argument("--out-md", type=Path, required=True)
    ap.add_argument("--out-csv", type=Path, required=True)
    ap.add_argument("--headline", type=Path, default=None,
                    help="headline metrics JSON to write (best baseline; optional)")
    args = ap.parse_args(argv)

    metrics = {}
    for key in BASELINE_KEYS:
        path = args.metrics_dir / f"{key}.json"
        metrics[key] = read_json(path) if path.exists() else None
    metrics["Ours"] = read_json(args.stcg) if args.stcg.exists() else None
    with args.targets.open() as fh:
        targets = (yaml.safe_load(fh) or {}).get("table1", {})
    params = read_params(args.params)
    # models whose fit ignores the seed (train_tabular says so): seed sd 0 in the significance rule
    deterministic = {k for k in BASELINE_KEYS
                     if metrics[k] is not None and metrics[k].get("seed_dependent") is False}
    df = build_table1(metrics, targets, deterministic)

    profile = active_profile(params)
    missing = [k for k, v in metrics.items() if v is None]
    caption = (
        f"**Table 1.** Test-year RMSE / R² (GPP, gC m⁻² d⁻¹) on the `{profile}` profile; "
        "paper values from Section 4.2.  Machine-learning rows use AutoGluon 1.1.1 default "
        "hyperparameters, deep-learning rows pytorch-frame models with the main model's "
        "optimiser; \"Train rows\" shows each model's per-profile subsample.  "
        "NeuralNetFastAI is an MLP stand-in (fastai is not a dependency).  A model with "
        "n > 1 seeds shows the mean ± sd over its seeds (`train_tabular.seeds`)."
    )
    if missing:
        caption += f"  Not yet run: {', '.join(missing)}."
    write_text(args.out_md, table1_markdown(df, caption))
    write_text(args.out_csv, table1_csv(df))
    if args.headline:
        write_json(args.headline, table1_headline(df))


if __name__ == "__main__":
    stage.run(main)
