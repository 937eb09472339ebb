"""The command line and config the benches that train STCG share (output_head, thread_drift)."""

from __future__ import annotations

import argparse
from pathlib import Path

from stcg.config import load_section
from stcg.train.config import TrainStcgConfig


def parser(doc: str) -> argparse.ArgumentParser:
    """``--data``, ``--graph`` (stage outputs), ``--params``, ``--profile`` (default tiny), ``--out``."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="Climate2GPP dataset (build_data)")
    ap.add_argument("--graph", type=Path, required=True, help="graph.npz (build_graph)")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--profile", default="tiny")
    ap.add_argument("--out", type=Path, default=None, help="result JSON (default under reports/bench)")
    return ap


def train_config(args: argparse.Namespace) -> TrainStcgConfig:
    """Section ``train_stcg`` of ``args.params`` at ``args.profile``."""
    return load_section(TrainStcgConfig, "train_stcg", args.params, profile=args.profile)
