"""Which differences between two methods exceed their seed noise (Tables 1-3).

Rule: means ``a`` and ``b`` with seed standard deviations ``sa`` and ``sb`` (sample sd over the
seeds, :func:`stcg.metrics.mean_sd`) differ significantly when

    |a - b| > 2 sqrt(sa^2 + sb^2)

i.e. by more than two standard deviations of the difference of two independent runs (one seed
of each).  A deterministic method (GWR, GTWR, KNN, ...) has ``sd = 0``; a seeded method run with
a single seed has an unknown sd (None), and a comparison involving it is left undecided.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

NOISE_SDS = 2.0
"""The noise rule's k, the one constant of Tables 1-3, the ablations and ``stcg compare``: a
difference is significant beyond k standard deviations, of the difference of two runs here
(:func:`significant`), of the reference's seed spread in :mod:`stcg.report.ablations`, of the
larger headline sd in :mod:`stcg.report.compare`."""


def significant(a: float | None, sa: float | None, b: float | None, sb: float | None,
                k: float = NOISE_SDS) -> bool | None:
    """``|a - b| > k sqrt(sa^2 + sb^2)``; None when a mean or an sd is unknown."""
    if a is None or b is None or sa is None or sb is None:
        return None
    if any(isinstance(v, float) and math.isnan(v) for v in (a, b, sa, sb)):
        return None
    return abs(a - b) > k * math.sqrt(sa * sa + sb * sb)


def ordering(items: Sequence[tuple[str, float | None, float | None]], digits: int = 3,
             k: float = NOISE_SDS) -> str:
    """``(label, mean, sd)`` sorted by mean, lowest first, joined by the verdict of each adjacent pair.

    ``<``: significant, ``≈``: within noise, ``?``: undecided (an sd unknown).  Items without a
    mean are left out.  E.g. ``"GTWR 0.310 < GWR 0.402 ≈ GNNWR 0.420"``.
    """
    have = sorted(((lab, m, s) for lab, m, s in items
                   if m is not None and not (isinstance(m, float) and math.isnan(m))),
                  key=lambda t: t[1])
    if not have:
        return ""
    out = f"{have[0][0]} {have[0][1]:.{digits}f}"
    for (_, ma, sa), (lb, mb, sb) in zip(have, have[1:], strict=False):
        sig = significant(ma, sa, mb, sb, k)
        sep = "?" if sig is None else "<" if sig else "≈"
        out += f" {sep} {lb} {mb:.{digits}f}"
    return out


LEGEND = ("`<`: the difference exceeds 2 sd of the pair, |a − b| > 2·sqrt(sd_a² + sd_b²) "
          "(seed sd; 0 for a deterministic method); `≈`: within that noise; `?`: undecided "
          "(a seeded method with a single run).")
