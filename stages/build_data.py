"""Stage ``build_data``: build Climate2GPP (source ``sim`` or ``files``) and its data card."""

from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

from stcg import stage
from stcg.config import load_section
from stcg.data.card import data_card
from stcg.data.config import BuildDataConfig
from stcg.data.dataset import read_meta
from stcg.errors import StcgError
from stcg.io import write_json


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, build the dataset, write the data card."""
    ap = stage.parser(__doc__)
    ap.add_argument("--data", type=Path, required=True, help="raw-input directory (data/)")
    ap.add_argument("--out", type=Path, required=True, help="dataset directory to write")
    ap.add_argument("--card", type=Path, required=True, help="data card JSON to write")
    args = ap.parse_args(argv)
    cfg = load_section(BuildDataConfig, "build_data", args.params)

    if cfg.source == "sim":
        from stcg.data.inputs import check_inputs
        from stcg.data.sim import build_sim

        problems = check_inputs(args.data)
        if problems:
            raise StcgError(f"{args.data}: the raw inputs are incomplete ({'; '.join(problems)}); "
                            "run `stcg inputs fetch` (or `dvc pull data.dvc`)")
        bar = tqdm(total=None, desc="build_data: simulating chunks", unit="chunk")

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        build_sim(args.data, args.out, cfg, progress=progress)
        bar.close()
    else:
        from stcg.data.files import build_from_files

        build_from_files(args.data / "files", args.out, cfg)
    card = data_card(args.out)
    card["sources"] = read_meta(args.out).extra.get("sources", {})
    write_json(args.card, card)


if __name__ == "__main__":
    stage.run(main)
