"""Stage ``build_graph``: the spatiotemporal conditional graph of the dataset's land cells.

Reads ``<data>/cells.parquet``, writes the graph ``.npz``, ``reports/metrics/graph.json`` and the
globe figure.  Params: section ``build_graph`` (:class:`stcg.graph.config.BuildGraphConfig`).
"""

from __future__ import annotations

import sys

from stcg import stage
from stcg.config import load_section
from stcg.data.dataset import read_cells, read_meta
from stcg.graph.build import build_graph, graph_metrics, save_graph
from stcg.graph.config import BuildGraphConfig
from stcg.graph.plot import plot_globe
from stcg.io import write_json
from stcg.report.maps import land_outline


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, load ``build_graph`` params, build and write the graph."""
    ap = stage.parser(__doc__)
    ap.add_argument("--data", required=True, help="dataset directory (stage build_data)")
    ap.add_argument("--out", required=True, help="graph .npz to write")
    ap.add_argument("--metrics", required=True, help="graph metrics JSON to write")
    ap.add_argument("--figure", required=True, help="globe PNG to write")
    ap.add_argument("--inputs", default=None,
                    help="raw inputs folder (data/) for the GLDAS coastlines of the globe; optional")
    args = ap.parse_args(argv)
    cfg = load_section(BuildGraphConfig, "build_graph", args.params)
    cells = read_cells(args.data)
    graph = build_graph(
        cells["cell_id"].to_numpy(), cells["lon"].to_numpy(), cells["lat"].to_numpy(), cfg,
        progress=sys.stderr.isatty(),
    )
    metrics = graph_metrics(graph)
    if metrics["components"] != 1:
        raise RuntimeError(f"graph has {metrics['components']} components after bridging")
    save_graph(args.out, graph)
    write_json(args.metrics, metrics)
    coast, _ = land_outline(args.inputs, cells["lon"].to_numpy(), cells["lat"].to_numpy(),
                            read_meta(args.data).resolution)
    plot_globe(graph, args.figure, coastlines=coast)
    print(f"{args.out}: {graph.n_nodes} nodes, {graph.n_edges} edges, "
          f"{metrics['dateline_edges']} across the dateline")


if __name__ == "__main__":
    stage.run(main)
