"""Stage ``build_fewshot``: the few-shot dataset of paper Section 4.3 (Tables 2-3).

N cells sampled uniformly from the land grid, for each cell and each of the 46 periods the mean
over the training years, an 80/20 cell split (see stcg.fewshot.dataset).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from stcg import stage
from stcg.config import load_section
from stcg.fewshot.config import BuildFewshotConfig
from stcg.fewshot.dataset import build_fewshot, write_fewshot


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, build and write the few-shot dataset."""
    ap = stage.parser(__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="Climate2GPP dataset (build_data)")
    ap.add_argument("--out", type=Path, required=True, help="few-shot dataset directory to write")
    args = ap.parse_args(argv)
    cfg = load_section(BuildFewshotConfig, "build_fewshot", args.params)
    bar = tqdm(desc="build_fewshot: climatology", unit="year")

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    fs = build_fewshot(args.data, cfg.n_cells, cfg.test_fraction, cfg.seed,
                       land_cover=cfg.land_cover, progress=progress)
    bar.close()
    fs.meta["weeks"] = list(cfg.weeks)
    fs.meta["config"] = asdict(cfg)
    if fs.meta["n_cells"] < cfg.n_cells:
        print(f"build_fewshot: only {fs.meta['n_cells']} complete cells, fewer than n_cells="
              f"{cfg.n_cells}; using all of them")
    write_fewshot(fs, args.out)


if __name__ == "__main__":
    stage.run(main)
