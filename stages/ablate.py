"""Stage ``ablate@<variant>``: train one ablation of the STCG model, score it on the test subset.

Params: ``ablate`` (:class:`stcg.train.config.AblateConfig`; the reference model, the variant's
overrides, the shared budget) and ``build_graph`` (rebuilt for a cluster-count variant).  See
:mod:`stcg.train.ablate`.
"""

from __future__ import annotations

import sys

from stcg import stage
from stcg.config import load_section
from stcg.errors import StcgError
from stcg.graph.config import BuildGraphConfig
from stcg.io import write_json
from stcg.metrics import sd_at
from stcg.train.ablate import run_variant, variant_config, variant_graph
from stcg.train.config import AblateConfig


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, train the variant, write its metrics JSON."""
    ap = stage.parser(__doc__.splitlines()[0])
    ap.add_argument("--variant", required=True, help="a key of ablate.variants")
    ap.add_argument("--data", required=True, help="dataset directory (stage build_data)")
    ap.add_argument("--graph", required=True, help="graph .npz (stage build_graph)")
    ap.add_argument("--metrics", required=True, help="metrics JSON to write")
    args = ap.parse_args(argv)
    ab = load_section(AblateConfig, "ablate", args.params)
    if args.variant not in ab.variants:
        raise StcgError(f"--variant {args.variant!r}: not in ablate.variants {sorted(ab.variants)}; "
                        "add it to params.yaml or pick one of those")
    variant = ab.variants[args.variant]
    cfg = variant_config(variant, ab)
    progress = sys.stderr.isatty()
    graph = variant_graph(args.data, args.graph,
                          load_section(BuildGraphConfig, "build_graph", args.params), variant,
                          progress=progress)
    report = run_variant(args.data, graph, cfg, ab.eval_samples, progress=progress,
                         seeds=ab.seeds)
    write_json(args.metrics, report)
    n = ab.seeds
    print(f"ablate@{args.variant}: test RMSE {report['test']['rmse']:.4f} "
          f"R2 {report['test']['r2']:.4f} ({report['test']['n']} samples"
          + (f", mean of {n} seeds, RMSE sd {sd_at(report, 'test', 'rmse'):.4f})" if n > 1
             else ")"))


if __name__ == "__main__":
    stage.run(main)
