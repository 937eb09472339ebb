"""Source ``sim``: the realistic Climate2GPP simulator (see :mod:`.simulate`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from stcg.data.config import BuildDataConfig
from stcg.data.dataset import DatasetMeta
from stcg.data.inputs import INPUTS
from stcg.data.sim.gpp import LIMITING_FACTORS
from stcg.data.sim.simulate import simulate
from stcg.data.sim.static import build_cells
from stcg.data.writer import dataset_writer


def build_sim(
    data_dir: str | Path,
    out: str | Path,
    cfg: BuildDataConfig,
    progress: Callable[[int, int], None] | None = None,
) -> DatasetMeta:
    """Build the simulated Climate2GPP dataset at ``out`` (atomically).

    Args:
        data_dir: the real raw inputs (``data/``).
        out: the dataset directory to (re)create.
        cfg: the ``build_data`` config.
        progress: optional ``callback(done_chunks, total_chunks)``.

    Returns:
        The written dataset's metadata.
    """
    cells = build_cells(data_dir, cfg.resolution, cfg.sim.min_land_fraction)
    years = cfg.splits.years
    sources = {
        f.dest: {"package": f.package, "version": f.version, "member": f.member, "what": f.what}
        for f in INPUTS
    }
    meta = DatasetMeta(
        source="sim",
        variables=tuple(cfg.variables),
        years=years,
        train_years=tuple(y for y in years if cfg.splits.train_years[0] <= y <= cfg.splits.train_years[1]),
        test_years=tuple(y for y in years if cfg.splits.test_years[0] <= y <= cfg.splits.test_years[1]),
        resolution=cfg.resolution,
        n_cells=len(cells),
        has_truth=True,
        extra={"seed": cfg.seed, "sources": sources, "limiting_factors": list(LIMITING_FACTORS)},
    )
    n_chunks = -(-len(cells) // cfg.sim.chunk_cells)
    done = [0]

    def tick() -> None:
        done[0] += 1
        if progress:
            progress(done[0], n_chunks)

    with dataset_writer(out, meta) as w:
        w.write_cells(cells)
        hidden = simulate(cells, cfg.sim, cfg.seed, years, meta.variables, w.root, progress=tick)
        w.write_truth_cells(hidden)
        w.mark_written(years)
    return meta
