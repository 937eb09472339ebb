"""Params of the training stages: ``train_stcg``, ``ablate`` and ``fewshot_stcg``, with the
optimiser (:class:`OptimConfig`) and data-parallel settings they share.

Loaded by :func:`stcg.config.load_section` (strict keys, profiles); see ``stcg.config``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Literal

from stcg.config import ConfigError, from_dict
from stcg.data.schema import PERIODS_PER_YEAR
from stcg.model.config import ModelConfig


@dataclasses.dataclass(frozen=True)
class OptimConfig:
    """Paper protocol: AdamW, lr 1e-3 -> 1e-4 after half the epochs, batch 256, 20 epochs.

    ``samples_per_epoch: null`` = one pass over all training samples per epoch (paper); a number
    draws that many random (cell, time) samples per epoch instead (smaller profiles).

    Large batches (:func:`stcg.train.loop.step_lr`): with ``lr_scaling`` ``linear`` or ``sqrt``
    both ``lr`` and ``lr_final`` are multiplied by ``batch_size / base_batch_size`` (or its square
    root), the rates being those tuned at ``base_batch_size``; ``warmup_epochs`` ramps the rate
    linearly from ``1 / warmup_steps`` of its value to all of it over the first
    ``warmup_epochs`` epochs' steps (may be fractional; 0 = no warm-up).
    """

    epochs: int
    batch_size: int
    samples_per_epoch: int | None = None
    lr: float = 1e-3
    lr_final: float = 1e-4
    lr_drop_at: float = 0.5
    weight_decay: float = 0.01
    grad_clip: float | None = 1.0
    lr_scaling: Literal["none", "linear", "sqrt"] = "none"
    base_batch_size: int = 256
    warmup_epochs: float = 0.0

    def validate(self) -> None:
        """Positive sizes and rates, ``lr_drop_at`` a fraction of the epochs."""
        if self.base_batch_size < 1:
            raise ValueError(f"optim.base_batch_size: must be >= 1, got {self.base_batch_size}")
        if not 0.0 <= self.warmup_epochs <= self.epochs:
            raise ValueError(
                f"optim.warmup_epochs: must be in [0, epochs={self.epochs}], got {self.warmup_epochs}"
            )
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("optim.epochs and optim.batch_size: must be >= 1")
        if self.samples_per_epoch is not None and self.samples_per_epoch < 1:
            raise ValueError(f"optim.samples_per_epoch: must be >= 1 or null, got {self.samples_per_epoch}")
        if self.lr <= 0 or self.lr_final <= 0:
            raise ValueError("optim.lr and optim.lr_final: must be > 0")
        if not 0.0 <= self.lr_drop_at <= 1.0:
            raise ValueError(f"optim.lr_drop_at: must be in [0, 1], got {self.lr_drop_at}")
        if self.grad_clip is not None and self.grad_clip <= 0:
            raise ValueError(f"optim.grad_clip: must be > 0 or null, got {self.grad_clip}")


@dataclasses.dataclass(frozen=True)
class DistributedConfig:
    """Data-parallel training (:mod:`stcg.train.distributed`).

    ``nproc`` processes on this node (one per GPU; gloo processes on CPU) via ``torchrun``;
    ``optim.batch_size`` stays the global batch, so each rank takes ``batch_size / nproc``.
    """

    nproc: int = 1

    def validate(self) -> None:
        """At least one process."""
        if self.nproc < 1:
            raise ValueError(f"distributed.nproc: must be >= 1, got {self.nproc}")


def _check_seeds(seeds: int) -> None:
    if seeds < 1:
        raise ValueError(f"seeds: must be >= 1 (the number of training runs), got {seeds}")


@dataclasses.dataclass(frozen=True)
class TrainStcgConfig:
    """Stage ``train_stcg``: train the STCG model, evaluate it on the test years.

    Attributes:
        seed: seeds parameters, sampling and dropout (per epoch, so a resumed run is identical).
        window: input window L in periods, ending at the target period.
        model: :class:`ModelConfig`.
        optim: :class:`OptimConfig`.
        device: ``auto`` (CUDA when available), ``cpu`` or ``cuda``.
        amp: bf16 autocast on CUDA (ignored on CPU).
        compile: ``torch.compile`` the model (CUDA throughput; off by default).
        distributed: :class:`DistributedConfig` (``nproc`` > 1: the stage runs under torchrun).
        threads: torch CPU threads (0 = torch's default).
        eval_batch_size: samples per forward pass in evaluation.
        monitor_samples: test samples whose RMSE is logged each epoch (0 = none; curves only,
            never used for model selection).
        lat_band: width in degrees of the latitude bands of the metrics.
        seeds: number of training runs, with seeds ``seed, seed + 1, ...``; the metrics are
            their mean and sd (:func:`stcg.metrics.aggregate_seeds`), the model and the
            predictions those of ``seed``.
    """

    seed: int
    window: int
    model: ModelConfig
    optim: OptimConfig
    device: Literal["auto", "cpu", "cuda"] = "auto"
    amp: bool = True
    compile: bool = False
    distributed: DistributedConfig = DistributedConfig()
    threads: int = 0
    eval_batch_size: int = 512
    monitor_samples: int = 4096
    lat_band: float = 30.0
    seeds: int = 1

    def validate(self) -> None:
        """The window covers 1..46 periods; sizes are sane."""
        if not 1 <= self.window <= PERIODS_PER_YEAR:
            raise ValueError(f"window: must be in 1..{PERIODS_PER_YEAR} periods, got {self.window}")
        if self.eval_batch_size < 1 or self.monitor_samples < 0 or self.threads < 0:
            raise ValueError("eval_batch_size >= 1, monitor_samples >= 0 and threads >= 0")
        _check_seeds(self.seeds)
        if not 0 < self.lat_band <= 180:
            raise ValueError(f"lat_band: must be in (0, 180], got {self.lat_band}")


@dataclasses.dataclass(frozen=True)
class AblationVariant:
    """One ablation of the STCG model: overrides of the ablations' reference model.

    Attributes:
        model: overrides of ``ablate.model`` (e.g. ``{gcn: false}``); keys and types are
            checked against :class:`ModelConfig`.
        window: the window L instead of ``ablate.window``.
        clusters: the graph's K-means clusters k instead of ``build_graph.clusters`` (the graph
            is rebuilt with the other ``build_graph`` params).
    """

    model: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    window: int | None = None
    clusters: int | None = None

    def validate(self) -> None:
        """Override keys must be model params; window and clusters in range."""
        try:
            from_dict(ModelConfig, dict(self.model), where="model")
        except ConfigError as exc:
            raise ValueError(str(exc)) from exc
        if self.window is not None and not 1 <= self.window <= PERIODS_PER_YEAR:
            raise ValueError(f"window: must be in 1..{PERIODS_PER_YEAR} periods, got {self.window}")
        if self.clusters is not None and self.clusters < 2:
            raise ValueError(f"clusters: must be >= 2, got {self.clusters}")


@dataclasses.dataclass(frozen=True)
class AblateConfig:
    """Stages ``ablate`` (one per variant, a DVC ``foreach``) and ``ablate_table``, in the
    pipeline ``ablations/dvc.yaml``.  Self-contained: nothing is read from ``train_stcg``.

    Attributes:
        variants: name -> :class:`AblationVariant`; ``full`` (no overrides) is the reference.
        optim: the training budget of every variant (smaller than ``train_stcg.optim``).
        window: the reference window L (params.yaml keeps it equal to ``train_stcg.window``).
        model: the reference model (params.yaml keeps it equal to ``train_stcg.model``).
        eval_samples: test samples scored (one random subset, the same for every variant;
            ``null`` = all).
        seed: seeds the models and the evaluation subset.
        seeds: training runs per variant, with seeds ``seed, seed + 1, ...`` (the evaluation
            subset stays the one drawn with ``seed``); the metrics are their mean and sd.
        device, amp, threads, eval_batch_size: as in :class:`TrainStcgConfig`.
    """

    variants: Mapping[str, AblationVariant]
    optim: OptimConfig
    window: int
    model: ModelConfig
    eval_samples: int | None = None
    seed: int = 0
    seeds: int = 1
    device: Literal["auto", "cpu", "cuda"] = "auto"
    amp: bool = True
    threads: int = 0
    eval_batch_size: int = 4096

    def validate(self) -> None:
        """A ``full`` reference variant with no overrides; a positive evaluation size."""
        full = self.variants.get("full")
        if full is None or full != AblationVariant():
            raise ValueError("variants: needs a 'full' entry without overrides (the reference)")
        if self.eval_samples is not None and self.eval_samples < 1:
            raise ValueError(f"eval_samples: must be >= 1 or null, got {self.eval_samples}")
        if not 1 <= self.window <= PERIODS_PER_YEAR:
            raise ValueError(f"window: must be in 1..{PERIODS_PER_YEAR} periods, got {self.window}")
        if self.threads < 0 or self.eval_batch_size < 1:
            raise ValueError("threads >= 0 and eval_batch_size >= 1")
        _check_seeds(self.seeds)


@dataclasses.dataclass(frozen=True)
class FewshotStcgConfig:
    """Stage ``fewshot_stcg``: the STCG model on the few-shot data (stcg.train.fewshot).

    The architecture and the window are the main model's (``train_stcg.model``,
    ``train_stcg.window``: "the same model"); this section holds what differs on ~1000x less
    data: the optimiser budget and the run settings.

    Attributes:
        seed: parameters, sampling and dropout.
        optim: :class:`OptimConfig` (``samples_per_epoch: null`` = every training sample).
        device: ``auto`` (CUDA when available), ``cpu`` or ``cuda``.
        amp: bf16 autocast on CUDA.
        threads: torch CPU threads (0 = torch's default).
        eval_batch_size: samples per forward pass in prediction.
        distributed: :class:`DistributedConfig` (``nproc`` > 1: the stage runs under torchrun).
        seeds: training runs, with seeds ``seed, seed + 1, ...``; the metrics are their mean
            and sd, the coefficients those of ``seed``.
    """

    seed: int
    optim: OptimConfig
    device: Literal["auto", "cpu", "cuda"] = "auto"
    amp: bool = True
    threads: int = 0
    eval_batch_size: int = 2048
    distributed: DistributedConfig = DistributedConfig()
    seeds: int = 1

    def validate(self) -> None:
        """Non-negative threads, a positive evaluation batch, at least one seed."""
        if self.threads < 0 or self.eval_batch_size < 1:
            raise ValueError("threads >= 0 and eval_batch_size >= 1")
        _check_seeds(self.seeds)
