"""fewshot_weekly.gwr.backend: our GWR and mgwr 2.2.1 itself give the same fit of a week."""

from __future__ import annotations

import numpy as np
import pytest

from stcg.config import ConfigError, from_dict
from stcg.data.periods import week_to_period
from stcg.data.schema import PERIODS_PER_YEAR
from stcg.fewshot.config import GWRFewshotConfig
from stcg.fewshot.dataset import FewShot
from stcg.fewshot.runners import fit_gwr_week


def small_fewshot(n: int = 90, seed: int = 3) -> FewShot:
    """``n`` cells over Africa and Europe, two covariates with smoothly varying coefficients."""
    rng = np.random.default_rng(seed)
    lon, lat = rng.uniform(-15.0, 45.0, n), rng.uniform(-30.0, 55.0, n)
    x = rng.normal(size=(n, PERIODS_PER_YEAR, 2))
    beta = np.stack([1.0 + lat / 30.0, np.sin(np.radians(lon * 3))], axis=1)  # [n, 2]
    y = 2.0 + np.einsum("npf,nf->np", x, beta) + rng.normal(scale=0.2, size=(n, PERIODS_PER_YEAR))
    return FewShot(
        cell_id=np.arange(n), lon=lon, lat=lat, land_cover=np.ones(n, np.int8),
        is_test=np.arange(n) % 5 == 0, x=x, y=y, features=("a", "b"),
    )


@pytest.mark.parametrize("week", [1, 30])
def test_mgwr_backend_equals_ours(week: int) -> None:
    fs = small_fewshot()
    ours = fit_gwr_week(fs, week, GWRFewshotConfig(ridge=0.0), device="cpu")
    ref = fit_gwr_week(fs, week, GWRFewshotConfig(ridge=0.0, backend="mgwr"))
    assert ours.info["bandwidth"] == ref.info["bandwidth"]
    assert ours.info["aicc"] == pytest.approx(ref.info["aicc"], rel=1e-10)
    np.testing.assert_allclose(ours.coef, ref.coef, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ours.pred, ref.pred, rtol=1e-8, atol=1e-10)
    assert ours.periods == ref.periods == (week_to_period(week),)
    # the fit recovers the surface of covariate a (beta = 1 + lat / 30)
    tr = fs.train
    assert np.corrcoef(ours.coef[tr, 0, 1], fs.lat[tr])[0, 1] > 0.9


def test_mgwr_backend_needs_no_ridge() -> None:
    with pytest.raises(ConfigError, match="ridge"):
        from_dict(GWRFewshotConfig, {"backend": "mgwr", "ridge": 1e-6}, where="fewshot_weekly.gwr")
    with pytest.raises(ConfigError, match="backend"):
        from_dict(GWRFewshotConfig, {"backend": "gwr4"}, where="fewshot_weekly.gwr")
