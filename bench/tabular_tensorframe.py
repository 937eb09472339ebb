"""Bench: building a pytorch-frame TensorFrame directly from arrays vs ``Dataset.materialize``.

Prints and writes JSON (``--out``): seconds for each path at each row count, and the speed-up.
The data are random (26 numerical columns + one categorical, like Table 1's design matrix).

    PYTHONPATH=src python bench/tabular_tensorframe.py --rows 10000 100000 --out bench.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd


def bench(rows: int, seed: int = 0) -> dict[str, float]:
    """Seconds of both paths for ``rows`` rows."""
    import torch_frame
    from torch_frame.data import Dataset

    from stcg.baselines.tabular.base import CategoryCodes
    from stcg.baselines.tabular.frame import column_stats, tensor_frame

    rng = np.random.default_rng(seed)
    num = rng.normal(size=(rows, 26)).astype(np.float32)
    cat = rng.integers(0, 17, size=rows).astype(np.float32)
    y = rng.normal(size=rows).astype(np.float32)
    names = [f"v{i}" for i in range(26)]

    t0 = time.perf_counter()
    codes = CategoryCodes(cat)
    column_stats(num, names, {"land_cover": codes})
    tensor_frame(num, names, codes.transform(cat)[:, None], ["land_cover"], y)
    direct = time.perf_counter() - t0

    df = pd.DataFrame(num, columns=names).assign(land_cover=cat, y=y)
    stypes = {n: torch_frame.numerical for n in names}
    stypes.update(land_cover=torch_frame.categorical, y=torch_frame.numerical)
    t0 = time.perf_counter()
    Dataset(df, col_to_stype=stypes, target_col="y").materialize()
    materialize = time.perf_counter() - t0
    return {"rows": rows, "direct_s": direct, "materialize_s": materialize,
            "speedup": materialize / direct}


def main() -> None:
    """Parse arguments, run, print and write JSON."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    res = {"tensorframe": [bench(n) for n in args.rows]}
    text = json.dumps(res, indent=2)
    print(text)
    if args.out:
        from stcg.io import write_json

        write_json(args.out, res)


if __name__ == "__main__":
    main()
