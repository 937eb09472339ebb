"""Stage ``ablate_table``: ``reports/tables/ablations.md|csv`` from the ``ablate@*`` metrics."""

from __future__ import annotations

from pathlib import Path

from stcg import stage
from stcg.config import load_section
from stcg.io import atomic_path, write_json, write_text
from stcg.report.ablations import ablation_table
from stcg.report.headline import ablations_headline
from stcg.train.config import AblateConfig


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, collect the variants' metrics, write the table."""
    ap = stage.parser(__doc__)
    ap.add_argument("--metrics-dir", type=Path, required=True, help="ablate@* metrics directory")
    ap.add_argument("--out", type=Path, required=True, help="markdown table to write (.md)")
    ap.add_argument("--csv", type=Path, required=True, help="CSV table to write")
    ap.add_argument("--headline", type=Path, default=None,
                    help="headline metrics JSON to write (reference RMSE, deltas; optional)")
    args = ap.parse_args(argv)
    ab = load_section(AblateConfig, "ablate", args.params)
    o = ab.optim
    per_epoch = "all" if o.samples_per_epoch is None else f"{o.samples_per_epoch:,}"
    budget = f"{o.epochs} epochs x {per_epoch} samples, lr {o.lr:g} -> {o.lr_final:g}"
    md, df = ablation_table(args.metrics_dir, ab.variants, budget)
    write_text(args.out, md)
    with atomic_path(args.csv) as tmp:
        df.to_csv(tmp, index=False)
    if args.headline:
        write_json(args.headline, ablations_headline(df))
    print(md)


if __name__ == "__main__":
    stage.run(main)
