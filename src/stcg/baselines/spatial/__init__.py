"""Spatial and spatiotemporal heterogeneity estimators of the few-shot comparison (paper Sec. 4.3).

* :mod:`~stcg.baselines.spatial.gwr`: batched GWR, equal to mgwr 2.2.1 (golden tests);
* :mod:`~stcg.baselines.spatial.gtwr`: GTWR (Huang et al. 2010) with out-of-sample prediction;
* :mod:`~stcg.baselines.spatial.gnnwr`: GNNWR (Du et al. 2020) and GTNNWR (Wu et al. 2021);
* :mod:`~stcg.baselines.spatial.neighbors`, :mod:`~stcg.baselines.spatial.local`: distances,
  kernels and the local weighted solves they share;
* :mod:`~stcg.baselines.spatial.simulate`: designs with known coefficient surfaces.

The few-shot dataset, the per-method runs and their scores are in :mod:`stcg.fewshot`.
"""
