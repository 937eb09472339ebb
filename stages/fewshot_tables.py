"""Stage ``fewshot_tables``: paper Tables 2 and 3 (markdown + csv) with the paper's numbers."""

from __future__ import annotations

from pathlib import Path

import yaml

from stcg import stage
from stcg.config import load_section
from stcg.fewshot.dataset import read_fewshot_meta
from stcg.io import atomic_path, write_json, write_text
from stcg.report.config import FewshotTablesConfig
from stcg.report.fewshot_tables import table2, table3
from stcg.report.headline import fewshot_headline


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, collect the few-shot metrics, write both tables."""
    ap = stage.parser(__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="few-shot dataset (for its weeks)")
    ap.add_argument("--metrics-dir", type=Path, required=True, help="few-shot metrics folder")
    ap.add_argument("--targets", type=Path, required=True, help="reports/paper_targets.yaml")
    ap.add_argument("--out-dir", type=Path, required=True, help="tables folder to write into")
    ap.add_argument("--headline", type=Path, default=None,
                    help="headline metrics JSON to write (mean RMSE per method; optional)")
    args = ap.parse_args(argv)
    cfg = load_section(FewshotTablesConfig, "fewshot_tables", args.params)
    weeks = tuple(read_fewshot_meta(args.data).get("weeks", (1, 10, 20, 30, 40)))
    targets = yaml.safe_load(args.targets.read_text()) or {}
    md2, df2 = table2(args.metrics_dir, targets, weeks, cfg.table2_methods, cfg.extra_methods)
    md3, df3 = table3(args.metrics_dir, targets, cfg.table3_week, cfg.table3_methods)
    for name, md, df in (("table2", md2, df2), ("table3", md3, df3)):
        write_text(args.out_dir / f"{name}.md", md)
        with atomic_path(args.out_dir / f"{name}.csv") as tmp:
            df.to_csv(tmp, index=False, float_format="%.6g")
        print(md)
    if args.headline:
        write_json(args.headline, fewshot_headline(df2))


if __name__ == "__main__":
    stage.run(main)
