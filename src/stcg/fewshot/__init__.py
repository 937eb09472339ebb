"""The few-shot comparison of paper Section 4.3 (Tables 2 and 3): data, fits, scores.

* :mod:`~stcg.fewshot.dataset`: the few-shot dataset (stage ``build_fewshot``);
* :mod:`~stcg.fewshot.runners`: GWR and GNNWR per week, GTWR and GTNNWR on all periods
  (stages ``fewshot_weekly``, ``fewshot_joint``), with the estimators of
  :mod:`stcg.baselines.spatial`;
* :mod:`~stcg.fewshot.scoring`: the prediction contract, its metrics and outputs;
* :mod:`~stcg.fewshot.config`: the params sections ``build_fewshot``, ``fewshot_weekly`` and
  ``fewshot_joint``.

Methods: GWR and GNNWR fit one model per period on the training cells; GTWR (and GTNNWR, and the
STCG model, :mod:`stcg.train.fewshot`) one model on all ``46 x n_train`` (cell, period) samples.
All are scored on the held-out cells at the same periods.

"Week NN" (paper Tables 2-3, "Week-01" ... "Week-40") is the NN-th 8-day period of the year,
i.e. period index ``NN - 1`` (``period p`` starts on day of year ``8 p + 1``): "Week-01" is
1-8 January.  The paper numbers its weeks from 1 and has no week 0, so this is the natural
reading.  :func:`stcg.data.periods.week_to_period` is the single place that encodes it.

Covariates are z-scored with the statistics of the training cells of each fit; coefficients
are reported per standard deviation of their covariate (directly comparable across variables
and methods), with ``scaling.json`` beside them to convert back.  Covariates constant over the
training cells of a fit are dropped from it (their coefficient is NaN).

Contract for every few-shot method (e.g. the STCG model in few-shot mode, :mod:`stcg.train.fewshot`):
implement ``fit(fs: FewShot, ...) -> FewShotPrediction`` (predictions for *all* cells at the
periods it covers, optional coefficients) and hand the result to
:func:`~stcg.fewshot.scoring.evaluate` and :func:`~stcg.fewshot.scoring.write_method_outputs`;
the tables stage then picks it up by its method name.
"""
