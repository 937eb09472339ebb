"""Figures 4 and 5, the limiting-factor maps and the training curves: panels and content."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from stcg.report.config import RegionConfig
from stcg.report.figures import (
    figure4,
    figure5,
    limiting_factor_maps,
    region_mask,
    training_curves,
)
from stcg.report.maps import Grid, cells_mask, outline_segments

REGIONS = (
    RegionConfig("Tropics west", lon=(-100, -40), lat=(-20, 10)),
    RegionConfig("North box", lon=(20, 100), lat=(40, 70)),
    RegionConfig("Nowhere", lon=(-170, -160), lat=(-60, -50)),  # no cell there
    RegionConfig("Dateline", lon=(140, -170), lat=(0, 40)),  # wraps: only 140..150 has cells
    RegionConfig("Forest only", lon=(-100, 150), lat=(-20, 70), land_cover=("EBF",)),
    RegionConfig("Grass only", lon=(-100, 150), lat=(-20, 70), land_cover=("GRA",)),
)


def _lines(ax) -> list:
    return [ln for ln in ax.get_lines() if len(ln.get_xdata()) == 46]


def test_region_mask_box_dateline_and_land_cover(synth):
    k = synth.keys
    m = region_mask(k, (-100, -40), (-20, 10))
    assert m.any() and k.loc[m, "lon"].between(-100, -40).all()
    wrap = region_mask(k, (140, -170), (0, 40))
    assert wrap.any() and (k.loc[wrap, "lon"] >= 140).all()
    ebf = region_mask(k, (-180, 180), (-90, 90), ("EBF",))
    assert (k.loc[ebf, "land_cover"] == 2).all() and ebf.sum() == (k["land_cover"] == 2).sum()
    with pytest.raises(ValueError, match="unknown IGBP"):
        region_mask(k, (0, 1), (0, 1), ("XXX",))


def test_figure4_panels_and_content(synth):
    fig = figure4(synth, REGIONS, top_features=3, resolution=10.0)
    axes = fig.axes
    assert len(axes) == 2 * len(REGIONS)
    for i, reg in enumerate(REGIONS):
        assert axes[2 * i].get_title(loc="left").startswith(reg.name)
        assert "weights" in axes[2 * i].get_title(loc="left")
        assert "contributions" in axes[2 * i + 1].get_title(loc="left")
    # the empty region says so and draws nothing
    empty = axes[4]
    assert not _lines(empty)
    assert any("no land cells" in t.get_text() for t in empty.texts)
    # the others: top_features curves over the 46 weeks, not constant
    colours: dict[str, set] = {}
    for i in (0, 1, 3, 4, 5):
        for ax in axes[2 * i: 2 * i + 2]:
            lines = _lines(ax)
            assert len(lines) == 3
            for ln in lines:
                assert np.nanstd(ln.get_ydata()) > 0
    # one colour per feature across panels: legend entries are unique features
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert len(labels) == len(set(labels)) and set(labels) <= set(synth.variables)
    for leg_line, label in zip(fig.legends[0].get_lines(), labels, strict=True):
        colours.setdefault(label, set()).add(leg_line.get_color())
    assert all(len(c) == 1 for c in colours.values())
    # the curve is the per-period mean of the weights in the region
    m = region_mask(synth.keys, REGIONS[0].lon, REGIONS[0].lat)
    per = synth.keys["period"].to_numpy()
    j = int(np.argmax(np.abs(synth.contribution[m]).mean(0)))
    expect = [synth.w[m & (per == p), j].mean() for p in range(46)]
    drawn = [ln.get_ydata() for ln in _lines(axes[0])]
    assert any(np.allclose(d, expect) for d in drawn)
    plt.close(fig)


def test_figure4_without_weights(synth):
    from dataclasses import replace

    fig = figure4(replace(synth, w=None), REGIONS[:2], 3, 10.0)
    assert len(fig.axes) == 4
    assert all(any("no interpretable weights" in t.get_text() for t in ax.texts)
               for ax in fig.axes)
    plt.close(fig)


def test_figure5_maps_diverging_and_not_constant(synth):
    grid = Grid(10.0)
    outline = outline_segments(cells_mask(synth.keys["lon"].to_numpy(),
                                          synth.keys["lat"].to_numpy(), 10.0))
    weeks = (1, 10, 20, 30)
    fig = figure5(synth, "temperature_2m", weeks, grid, outline)
    maps = fig.axes[:8]
    assert len(fig.axes) == 10  # 8 maps + 2 colour bars
    for i, w in enumerate(weeks):
        assert f"Week {w:02d}" in maps[2 * i].get_title()
        assert "w(temperature_2m)" in maps[2 * i].get_title()
        assert "predicted GPP" in maps[2 * i + 1].get_title()
        assert f"Week {w:02d}" in maps[2 * i + 1].get_title()
    for ax in maps:
        img = ax.get_images()[0].get_array()
        assert np.nanstd(np.ma.filled(img.astype(float), np.nan)) > 0
        assert ax.collections  # the land outline
    wn = maps[0].get_images()[0].norm
    assert wn.vmin == pytest.approx(-wn.vmax) and wn.vmax > 0  # centred on zero
    # week 10 = period 9: the map holds exactly those values
    sel = (synth.keys["period"] == 9).to_numpy()
    img = np.ma.filled(maps[2].get_images()[0].get_array().astype(float), np.nan)
    np.testing.assert_allclose(np.sort(img[np.isfinite(img)]), np.sort(synth.w[sel, 0]))
    with pytest.raises(ValueError, match="not a model feature"):
        figure5(synth, "snow_cover", weeks, grid, outline)
    plt.close(fig)


def test_limiting_factor_maps_panels(synth):
    grid = Grid(10.0)
    n = len(synth.keys)
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, n)
    half = np.zeros(n, bool)
    half[: n // 2] = True
    cols = {"truth": (np.ones(n, bool), truth, None),
            "learned": (np.ones(n, bool), truth, {1: 1.0, 10: 1.0}),
            "partial": (half, rng.integers(-1, 3, half.sum()), None)}
    fig = limiting_factor_maps(synth.keys, cols, ("temperature", "water", "light"), (1, 10),
                               grid, [])
    assert len(fig.axes) == 6
    assert "agrees 100%" in fig.axes[1].get_title()
    img0 = fig.axes[0].get_images()[0].get_array()
    img1 = fig.axes[1].get_images()[0].get_array()
    np.testing.assert_array_equal(np.ma.filled(img0, -9), np.ma.filled(img1, -9))
    assert len(np.unique(np.ma.compressed(img0))) == 3
    plt.close(fig)


def test_training_curves():
    curves = {n: pd.DataFrame({"step": range(5), n: np.linspace(2, 1, 5) + i})
              for i, n in enumerate(("loss", "loss_dep", "loss_interp", "monitor_rmse", "lr"))}
    fig = training_curves(curves)
    assert len(fig.axes) == 3
    assert [len(ax.get_lines()) for ax in fig.axes] == [3, 1, 1]
    assert all(np.std(ln.get_ydata()) > 0 for ax in fig.axes for ln in ax.get_lines())
    plt.close(fig)
    fig = training_curves({})
    assert all(any("no DVCLive curve" in t.get_text() for t in ax.texts) for ax in fig.axes)
    plt.close(fig)


def test_grid_and_outline_geometry():
    g = Grid(10.0)
    img = g.rasterise(np.array([-175.0, 175.0]), np.array([85.0, -85.0]), np.array([1.0, 2.0]))
    assert img.shape == (18, 36) and img[0, 0] == 1.0 and img[17, 35] == 2.0
    assert np.isnan(img).sum() == 18 * 36 - 2
    with pytest.raises(ValueError, match="several values"):
        g.rasterise(np.array([1.0, 2.0]), np.array([1.0, 2.0]), np.array([1.0, 2.0]))
    # a 2 x 2 block of land cells at 0..20E, 0..20N: the outline is a square around it
    mask = cells_mask(np.array([5.0, 15.0, 5.0, 15.0]), np.array([5.0, 5.0, 15.0, 15.0]), 10.0)
    segs = outline_segments(mask)
    assert len(segs) == 1
    lon, lat = segs[0][:, 0], segs[0][:, 1]
    assert lon.min() == pytest.approx(0.0) and lon.max() == pytest.approx(20.0)
    assert lat.min() == pytest.approx(0.0) and lat.max() == pytest.approx(20.0)
