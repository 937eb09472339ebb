"""Typed, strict configuration loaded from ``params.yaml``.

Rules (see docs/design.md, "Repository rules"):

* one frozen dataclass per ``params.yaml`` section, named after the DVC stage that reads it;
* loading is strict: an unknown key, a missing key without a default, or a value of the wrong
  type is an error that names the key path (``params.yaml: train_stcg.model.d_model: ...``);
* profiles: the top-level key ``profile`` selects ``tiny``, ``default`` or ``paper``.  Any mapping
  whose keys are all profile names is a *profile switch* and resolves to the active profile's value
  (a profile that is missing falls back to ``default``).  So one ``params.yaml`` carries all three
  scales, and ``dvc exp run -S profile=paper`` switches every stage at once.

Only ``stages/`` calls :func:`load_section`; library code takes the dataclasses as arguments.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

import yaml

from stcg.data.schema import PERIODS_PER_YEAR
from stcg.errors import StcgError

PROFILES: tuple[str, ...] = ("tiny", "default", "paper")
"""The profile names; ``default`` is what ``dvc repro`` runs on a fresh clone."""

T = TypeVar("T")


class ConfigError(StcgError):
    """A params value is missing, unknown or of the wrong type."""


SECTIONS: tuple[str, ...] = (
    "build_data", "build_graph", "train_stcg", "ablate", "build_fewshot", "fewshot_weekly",
    "fewshot_joint", "fewshot_stcg", "fewshot_tables", "train_tabular", "interpret", "figures",
    "report",
)
"""The top-level keys of ``params.yaml`` besides ``profile``: one per stage that reads params.
Any other top-level key is an error (a misspelt ``profle:`` must not silently run ``default``)."""


def _did_you_mean(key: str, known: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def is_profile_switch(value: Any) -> bool:
    """Whether ``value`` is a mapping keyed only by profile names (``{tiny: .., paper: ..}``)."""
    return isinstance(value, Mapping) and len(value) > 0 and set(value) <= set(PROFILES)


def resolve_profile(value: Any, profile: str) -> Any:
    """Recursively replace every profile switch in ``value`` by the active profile's entry."""
    if profile not in PROFILES:
        raise ConfigError(f"params.yaml: profile: expected one of {PROFILES}, got {profile!r}")
    if is_profile_switch(value):
        chosen = value.get(profile, value.get("default"))
        if profile not in value and "default" not in value:
            raise ConfigError(
                f"profile switch {dict(value)!r} has no entry for {profile!r} and no 'default'"
            )
        return resolve_profile(chosen, profile)
    if isinstance(value, Mapping):
        return {k: resolve_profile(v, profile) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_profile(v, profile) for v in value]
    return value


def read_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    """Read ``params.yaml`` as a plain dict (profile switches unresolved)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: file not found (run from the repository root)")
    with path.open() as fh:
        data = yaml.safe_load(fh) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at top level")
    known = ("profile", *SECTIONS)
    for key in data:
        if key not in known:
            raise ConfigError(
                f"{path}: unknown top-level key {key!r}{_did_you_mean(str(key), known)}; "
                f"expected 'profile' or a stage section ({', '.join(SECTIONS)}); "
                "fix or remove it"
            )
    return data


def active_profile(params: Mapping[str, Any]) -> str:
    """The active profile named by the top-level ``profile`` key (default ``default``)."""
    profile = params.get("profile", "default")
    if profile not in PROFILES:
        raise ConfigError(f"params.yaml: profile: expected one of {PROFILES}, got {profile!r}")
    return str(profile)


def load_section(cls: type[T], section: str, path: str | Path = "params.yaml") -> T:
    """Load one ``params.yaml`` section into its config dataclass, resolving the profile.

    Args:
        cls: the frozen dataclass of the section.
        section: the top-level key (the stage name).
        path: the params file.

    Returns:
        An instance of ``cls``.

    Raises:
        ConfigError: naming the key path on any unknown, missing or mistyped value.
    """
    params = read_params(path)
    profile = active_profile(params)
    if section not in params:
        raise ConfigError(f"{path}: missing section {section!r}")
    raw = resolve_profile(params[section], profile)
    return from_dict(cls, raw, where=f"{Path(path).name}: {section}")


def from_dict(cls: type[T], data: Any, where: str = "") -> T:
    """Build dataclass ``cls`` from a mapping, strictly (see module docstring)."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {unknown}{_did_you_mean(str(unknown[0]), sorted(fields))}; "
            f"expected some of {sorted(fields)}"
        )
    kwargs: dict[str, Any] = {}
    for name, field in fields.items():
        key = f"{where}.{name}" if where else name
        if name in data:
            kwargs[name] = _coerce(hints[name], data[name], key)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{key}: missing (no default)")
    obj = cls(**kwargs)
    post = getattr(obj, "validate", None)
    if callable(post):
        try:
            post()
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from exc
    return obj


def _coerce(tp: Any, value: Any, key: str) -> Any:
    origin = get_origin(tp)
    args = get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(f"{key}: {value!r} matches none of {tp}: {'; '.join(errors)}")
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{key}: expected one of {list(args)}, got {value!r}")
        return value
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, where=key)
    if origin in (tuple,):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, f"{key}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise ConfigError(f"{key}: expected {len(args)} items, got {len(value)}")
        return tuple(_coerce(a, v, f"{key}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True)))
    if origin in (dict, Mapping) or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        kt, vt = args if args else (Any, Any)
        return types.MappingProxyType(
            {_coerce(kt, k, key): _coerce(vt, v, f"{key}.{k}") for k, v in value.items()}
        )
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true/false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported config type {tp!r}")


def to_dict(obj: Any) -> Any:
    """A dataclass config as plain (JSON/YAML-able) data: mappings become dicts, tuples lists."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {k: to_dict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    return obj


# ---- build_data ----
@dataclasses.dataclass(frozen=True)
class SplitConfig:
    """Which years train and which test (paper: 2001-2019 / 2020)."""

    train_years: tuple[int, int]
    test_years: tuple[int, int]

    def validate(self) -> None:
        """Each is an inclusive [first, last] range; they must not overlap."""
        for name, (a, b) in (("train_years", self.train_years), ("test_years", self.test_years)):
            if a > b:
                raise ValueError(f"splits.{name}: first year {a} is after last year {b}")
        if not (self.train_years[1] < self.test_years[0] or self.test_years[1] < self.train_years[0]):
            raise ValueError("splits: train_years and test_years overlap")

    @property
    def years(self) -> tuple[int, ...]:
        """Every year of both splits, ascending."""
        ys = set(range(self.train_years[0], self.train_years[1] + 1))
        ys |= set(range(self.test_years[0], self.test_years[1] + 1))
        return tuple(sorted(ys))


@dataclasses.dataclass(frozen=True)
class FilesConfig:
    """Source ``files``: ingestion of user / Earth Engine exports (see stcg.data.files)."""

    max_nan_share: float = 0.2
    max_gpp_nan_share: float = 0.5
    gpp_scale: float = 1.0
    snow_cover_units: Literal["auto", "percent", "fraction"] = "auto"

    def validate(self) -> None:
        """Shares in [0, 1], a positive GPP scale."""
        for name in ("max_nan_share", "max_gpp_nan_share"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"params.yaml: build_data.files.{name} = {v}: expected a "
                                  "share in [0, 1]")
        if not self.gpp_scale > 0:
            raise ConfigError(f"params.yaml: build_data.files.gpp_scale = {self.gpp_scale}: "
                              "expected a positive factor")


@dataclasses.dataclass(frozen=True)
class SimConfig:
    """Source ``sim``: the simulator's physics knobs (see stcg.data.sim.simulate)."""

    min_land_fraction: float = 0.5
    spinup_years: int = 2
    hidden_length_km: float = 1500.0
    synoptic_length_km: float = 800.0
    seasonal_length_km: float = 2000.0
    precip_length_km: float = 500.0
    synoptic_rho: float = 0.5
    seasonal_rho: float = 0.93
    interannual_rho: float = 0.3
    warming_k_per_year: float = 0.018
    arctic_amplification: float = 1.5
    co2_beta: float = 0.5
    gpp_noise: float = 0.12
    chunk_cells: int = 2048
    workers: int = 0

    def validate(self) -> None:
        """Positive sizes, correlations in [0, 1)."""
        for name in ("synoptic_rho", "seasonal_rho", "interannual_rho"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"sim.{name} must be in [0, 1)")
        if self.chunk_cells < 1 or self.workers < 0 or self.spinup_years < 0:
            raise ValueError("sim.chunk_cells must be >= 1, workers and spinup_years >= 0")
        if not 0.0 < self.min_land_fraction <= 1.0:
            raise ValueError("sim.min_land_fraction must be in (0, 1]")


@dataclasses.dataclass(frozen=True)
class BuildDataConfig:
    """Stage ``build_data``."""

    source: Literal["sim", "files"]
    seed: int
    resolution: float
    variables: tuple[str, ...]
    splits: SplitConfig
    files: FilesConfig = FilesConfig()
    sim: SimConfig = SimConfig()

    def validate(self) -> None:
        """Variables must be known ERA5-Land bands; the resolution must tile the globe."""
        from stcg.data.schema import check_variables, grid_shape

        check_variables(self.variables)
        if not self.resolution > 0:
            raise ValueError(
                f"resolution: got {self.resolution!r}, expected a positive grid spacing in degrees "
                "that divides 180 and 360 (e.g. 0.5, 2.5, 10)"
            )
        grid_shape(self.resolution)


# ---- build_graph ----
@dataclasses.dataclass(frozen=True)
class Node2VecConfig:
    """Node2vec (Grover & Leskovec 2016): biased random walks + skip-gram, negative sampling.

    ``walk_length`` and ``context_size`` follow PyG's ``Node2Vec`` meaning: every walk of
    ``walk_length`` nodes is cut into sub-walks of ``context_size`` nodes, and the first node of a
    sub-walk is trained against the others (positives) and ``num_negative`` random walks of
    uniformly drawn nodes (negatives).
    """

    dim: int = 16
    walk_length: int = 20
    context_size: int = 10
    walks_per_node: int = 10
    p: float = 1.0
    q: float = 1.0
    num_negative: int = 1
    weighted: bool = True
    epochs: int = 5
    batch_size: int = 128
    lr: float = 0.01

    def validate(self) -> None:
        """Sizes must be positive, the context no longer than a walk, p and q positive."""
        for name in ("dim", "walk_length", "context_size", "walks_per_node", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"node2vec.{name}: must be >= 1, got {getattr(self, name)}")
        if self.context_size < 2 or self.context_size > self.walk_length:
            raise ValueError(
                f"node2vec.context_size: must be in 2..walk_length ({self.walk_length}), "
                f"got {self.context_size}"
            )
        if self.p <= 0 or self.q <= 0:
            raise ValueError(f"node2vec.p/q: must be > 0, got p={self.p}, q={self.q}")
        if self.num_negative < 0:
            raise ValueError(f"node2vec.num_negative: must be >= 0, got {self.num_negative}")


@dataclasses.dataclass(frozen=True)
class BuildGraphConfig:
    """Stage ``build_graph``: the spatiotemporal conditional graph (paper Section 3.2, eqs. 5-9).

    Attributes:
        seed: seeds K-means, the random walks and the skip-gram training.
        clusters: K-means clusters = graph nodes (paper: 1000 at 0.5 degree).
        area_weighted: weight each land cell by its area (cos latitude) in K-means, so that nodes
            cover similar areas rather than similar numbers of equirectangular cells.
        kmeans_init: K-means restarts (sklearn ``n_init``).
        knn: neighbours per node on the unit sphere (eq. 7), before symmetrisation.
        sigma: the log-Gaussian kernel's sigma (eq. 8).
        mu: the kernel's distance scale (eq. 8, chord length on the unit sphere); ``null`` = the
            median edge length.
        node2vec: the initial node embeddings.
    """

    seed: int
    clusters: int
    knn: int = 8
    area_weighted: bool = True
    kmeans_init: int = 4
    sigma: float = 1.0
    mu: float | None = None
    node2vec: Node2VecConfig = Node2VecConfig()

    def validate(self) -> None:
        """Clusters >= 2, 1 <= knn < clusters, sigma and mu positive."""
        if self.clusters < 2:
            raise ValueError(f"clusters: must be >= 2, got {self.clusters}")
        if not 1 <= self.knn < self.clusters:
            raise ValueError(f"knn: must be in 1..clusters-1 ({self.clusters - 1}), got {self.knn}")
        if self.kmeans_init < 1:
            raise ValueError(f"kmeans_init: must be >= 1, got {self.kmeans_init}")
        if self.sigma <= 0:
            raise ValueError(f"sigma: must be > 0, got {self.sigma}")
        if self.mu is not None and self.mu <= 0:
            raise ValueError(f"mu: must be > 0 or null, got {self.mu}")


# ---- train_stcg ----
@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """The STCG model (paper Section 3; decisions documented in ``stcg.model``); defaults = the
    default profile of params.yaml.

    Ablation switches: ``condition``, ``temporal_conv``, ``gcn``, ``lstm``, ``interp`` (false =
    that part is skipped), ``attention: softmax`` (encoder attention); the number of clusters is
    ``build_graph.clusters`` and the window is ``train_stcg.window``.  ``land_cover``: the cell's
    IGBP class enters the encoder as one more (categorical) feature token.  ``output``: the GPP
    output, identity | softplus | clamp (non-negative; see ``STCGModel.gpp_output``).
    Interpretable-weight options (``stcg.model.stcg``): ``interp_source`` (``data``: eq. 15;
    ``condition``: weights and ``w_0`` from the condition and land cover only, GWR's form) and
    ``consistency_weight`` (lambda of ``lambda ||w - stopgrad(dy/dz)||^2``; 0 = off).
    """

    d_model: int = 16
    heads: int = 2
    encoder_blocks: int = 1
    decoder_layers: int = 1
    ffn_mult: int = 2
    dropout: float = 0.0
    attention: Literal["linear", "softmax"] = "linear"
    eps: float = 1e-6
    condition: bool = True
    temporal_conv: bool = True
    conv_kernel: int = 3
    gcn: bool = True
    gcn_self_loops: bool = True
    gcn_impl: Literal["dense", "pyg"] = "dense"
    lstm: bool = True
    time_embedding: Literal["add", "rotate"] = "add"
    cross_attention: Literal["data_keys", "condition_keys"] = "data_keys"
    interp: bool = True
    interp_intercept: bool = True
    land_cover: bool = True
    target_tokens: Literal["query", "features"] = "features"
    output: Literal["identity", "softplus", "clamp"] = "clamp"
    interp_source: Literal["data", "condition"] = "data"
    consistency_weight: float = 0.0

    def validate(self) -> None:
        """Positive sizes; heads divide d_model into even head widths (RoPE); odd conv kernel."""
        if self.output not in ("identity", "softplus", "clamp"):
            raise ValueError(
                f"model.output: must be identity, softplus or clamp, got {self.output!r}")
        for name in ("d_model", "heads", "encoder_blocks", "decoder_layers", "ffn_mult"):
            if getattr(self, name) < 1:
                raise ValueError(f"model.{name}: must be >= 1, got {getattr(self, name)}")
        if self.d_model % self.heads or (self.d_model // self.heads) % 2:
            raise ValueError(
                f"model.heads: d_model {self.d_model} / heads {self.heads} must be an even integer"
            )
        if self.d_model % 2:
            raise ValueError(f"model.d_model: must be even (RoPE), got {self.d_model}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"model.dropout: must be in [0, 1), got {self.dropout}")
        if self.conv_kernel < 1 or self.conv_kernel % 2 == 0:
            raise ValueError(f"model.conv_kernel: must be odd and >= 1, got {self.conv_kernel}")
        if self.interp_source == "condition" and not self.condition:
            raise ValueError("model.interp_source: 'condition' needs the condition branch "
                             "(model.condition: true); set interp_source: data")
        if self.consistency_weight < 0:
            raise ValueError(f"model.consistency_weight: must be >= 0, got "
                             f"{self.consistency_weight}")


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

    def validate(self) -> None:
        """The window covers 1..46 periods; sizes are sane."""
        if not 1 <= self.window <= PERIODS_PER_YEAR:
            raise ValueError(f"window: must be in 1..{PERIODS_PER_YEAR} periods, got {self.window}")
        if self.eval_batch_size < 1 or self.monitor_samples < 0 or self.threads < 0:
            raise ValueError("eval_batch_size >= 1, monitor_samples >= 0 and threads >= 0")
        if not 0 < self.lat_band <= 180:
            raise ValueError(f"lat_band: must be in (0, 180], got {self.lat_band}")


# ---- ablate ----
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
        device, amp, threads, eval_batch_size: as in :class:`TrainStcgConfig`.
    """

    variants: Mapping[str, AblationVariant]
    optim: OptimConfig
    window: int
    model: ModelConfig
    eval_samples: int | None = None
    seed: int = 0
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
        if not 1 <= self.window <= 46:
            raise ValueError(f"window: must be in 1..46 periods, got {self.window}")
        if self.threads < 0 or self.eval_batch_size < 1:
            raise ValueError("threads >= 0 and eval_batch_size >= 1")


# ---- build_fewshot / fewshot_weekly / fewshot_joint / fewshot_tables (paper Sec. 4.3) ----
@dataclasses.dataclass(frozen=True)
class BuildFewshotConfig:
    """Stage ``build_fewshot``: the few-shot dataset (stcg.baselines.spatial.fewshot).

    Attributes:
        n_cells: cells sampled uniformly from the land grid (paper: 6000).
        test_fraction: share of the sampled cells held out (paper: 20 %).
        seed: sampling and split seed.
        land_cover: append the IGBP land-cover code as a 27th covariate.
        weeks: the paper's reported weeks ("Week NN" = period NN - 1), used in every metrics file.
    """

    n_cells: int
    test_fraction: float = 0.2
    seed: int = 0
    land_cover: bool = True
    weeks: tuple[int, ...] = (1, 10, 20, 30, 40)

    def validate(self) -> None:
        """Sizes and weeks must make sense."""
        if self.n_cells < 2:
            raise ValueError(f"n_cells: expected >= 2, got {self.n_cells}")
        if not 0.0 < self.test_fraction < 1.0:
            raise ValueError(f"test_fraction: expected in (0, 1), got {self.test_fraction}")
        bad = [w for w in self.weeks if not 1 <= w <= PERIODS_PER_YEAR]
        if bad:
            raise ValueError(f"weeks: expected values in 1..{PERIODS_PER_YEAR}, got {bad}")


@dataclasses.dataclass(frozen=True)
class GWRFewshotConfig:
    """GWR settings (mgwr conventions; ``ridge`` 0 = exactly mgwr's estimator).

    Attributes:
        backend: ``stcg`` (our batched GWR, the default) or ``mgwr`` (mgwr 2.2.1 itself, to
            regenerate Table 2's GWR column with the reference package; needs ``ridge: 0``).
        kernel: bisquare | gaussian | exponential.
        fixed: fixed distance (km) bandwidth instead of an adaptive neighbour count.
        criterion: bandwidth selection criterion.
        bw_min: lower end of the search (None: mgwr's 40 + 2 p).
        bw_max: upper end (None: mgwr's n).
        ridge: scale-free ridge on the local normal equations (collinear ERA5-Land bands).
    """

    kernel: Literal["bisquare", "gaussian", "exponential"] = "bisquare"
    fixed: bool = False
    criterion: Literal["AICc", "AIC", "BIC", "CV"] = "AICc"
    bw_min: float | None = None
    bw_max: float | None = None
    ridge: float = 1.0e-6
    backend: Literal["stcg", "mgwr"] = "stcg"

    def validate(self) -> None:
        """mgwr has no ridge."""
        if self.backend == "mgwr" and self.ridge != 0:
            raise ValueError(
                f"ridge: backend mgwr has no ridge, got ridge {self.ridge}; set ridge: 0 "
                "(or backend: stcg)"
            )


@dataclasses.dataclass(frozen=True)
class GTWRFewshotConfig:
    """GTWR settings.

    Attributes:
        kernel, bw_min, bw_max, ridge: as for GWR (bandwidth in neighbours).
        criterion: AICc | AIC | BIC | CV (in-sample, mgwr's forms) or ``holdout``: RMSE at
            held-out *training cells* (all their periods) of a fit without them.
        holdout_fraction: share of the training cells the ``holdout`` criterion holds out.
        seed: seed of that holdout draw.
        tau_ratio: search range of ``sqrt(tau) * 1 period / s``, with ``s`` the median distance
            between neighbouring sampled cells: how many neighbour spacings one period weighs.
        rounds: bandwidth-then-tau golden-section passes.
        tol: stopping tolerance of each golden section on the criterion (mgwr: 1e-6 for AICc;
            1e-4 is ample for the holdout RMSE in gC m-2 d-1).
        cyclic_time: period 45 neighbours period 0 (climatological year).
        workers: k-d-tree query threads.
    """

    kernel: Literal["bisquare", "gaussian", "exponential"] = "bisquare"
    criterion: Literal["AICc", "AIC", "BIC", "CV", "holdout"] = "holdout"
    holdout_fraction: float = 0.2
    seed: int = 0
    bw_min: float | None = None
    bw_max: float | None = 1500
    tau_ratio: tuple[float, float] = (0.1, 10.0)
    rounds: int = 1
    tol: float = 1.0e-4
    ridge: float = 1.0e-6
    cyclic_time: bool = True
    workers: int = 1

    def validate(self) -> None:
        """The tau range must be positive and increasing."""
        lo, hi = self.tau_ratio
        if not 0 < lo < hi:
            raise ValueError(f"tau_ratio: expected 0 < lo < hi, got {self.tau_ratio}")
        if not 0.0 < self.holdout_fraction < 0.5:
            raise ValueError(f"holdout_fraction: expected in (0, 0.5), got {self.holdout_fraction}")


@dataclasses.dataclass(frozen=True)
class GNNWRSettings:
    """Hyper-parameters of GNNWR / GTNNWR (:mod:`stcg.baselines.spatial.gnnwr`).

    Defaults are ``fewshot_weekly.gnnwr``'s values; ``fewshot_joint.gtnnwr`` sets its own sizes.

    Attributes:
        hidden: SWNN hidden widths; empty = gnnwr's default (powers of two halving from
            ``2^floor(log2 R)`` while larger than the number of coefficients).
        max_hidden: cap on the default widths (keeps the first layer affordable).
        stpnn_hidden: GTNNWR's STPNN hidden widths.
        dropout: dropout after each SWNN hidden layer.
        batch_norm: batch normalisation in the SWNN hidden layers.
        prelu_init: initial slope of the PReLU activations (gnnwr: 0.4).
        optimizer: ``adam``, ``adamw`` or ``adagrad`` (gnnwr's default).
        lr: learning rate.
        weight_decay: weight decay.
        batch_size: mini-batch size.
        max_epochs: epoch cap.
        patience: stop after this many epochs without a better validation loss.
        max_reference: GTNNWR reference points (0 = all training observations).
        ols_ridge: ridge ``lambda`` of the base coefficients, ``(X'X + lambda n I) b = X'y`` on
            the z-scored covariates, intercept unpenalised (0 = OLS, as the gnnwr package).
        seed: seed of initialisation, shuffling, dropout and reference sampling.
        val_smoothing: early stopping on an exponential moving average of the validation
            loss, ``s_e = a s_(e-1) + (1 - a) v_e`` with ``a = val_smoothing`` (0 = the raw loss,
            gnnwr's rule).
        average_last: keep the mean of the weights of the ``average_last`` epochs ending at the
            best (smoothed) validation epoch instead of that epoch's alone (1 = the best alone).
            The defaults (0.9, 10) lower GNNWR's seed spread on the few-shot data (week 30,
            10 seeds: test RMSE sd 0.042 -> 0.025; ``reports/bench/gnnwr_stability*.json``).
    """

    hidden: tuple[int, ...] = ()
    max_hidden: int = 256
    stpnn_hidden: tuple[int, ...] = (3,)
    dropout: float = 0.0
    batch_norm: bool = True
    prelu_init: float = 0.4
    optimizer: Literal["adam", "adamw", "adagrad"] = "adam"
    lr: float = 0.01
    weight_decay: float = 0.001
    batch_size: int = 128
    max_epochs: int = 300
    patience: int = 50
    max_reference: int = 1024
    ols_ridge: float = 0.001
    seed: int = 0
    val_smoothing: float = 0.9
    average_last: int = 10

    def validate(self) -> None:
        """Raise ValueError on an impossible setting."""
        if self.optimizer not in ("adam", "adamw", "adagrad"):
            raise ValueError(f"optimizer: expected adam|adamw|adagrad, got {self.optimizer!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout: expected [0, 1), got {self.dropout}")
        if not 0.0 <= self.val_smoothing < 1.0:
            raise ValueError(f"val_smoothing: expected [0, 1), got {self.val_smoothing}")
        for name in ("batch_size", "max_epochs", "patience", "average_last"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: expected >= 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ValueError(f"lr: expected > 0, got {self.lr}")


@dataclasses.dataclass(frozen=True)
class NNWRFewshotConfig(GNNWRSettings):
    """Sections ``fewshot_weekly.gnnwr`` / ``fewshot_joint.gtnnwr``: :class:`GNNWRSettings` plus
    the share of training cells kept for early stopping (``val_fraction``) and the number of
    seeds (``seeds``: runs with ``seed, seed + 1, ...``; metrics are their mean and sd)."""

    val_fraction: float = 0.1
    seeds: int = 1

    def validate(self) -> None:
        """The settings must be possible and the validation share must leave training cells."""
        super().validate()
        if self.seeds < 1:
            raise ValueError(f"seeds: expected >= 1, got {self.seeds}")
        if not 0.0 < self.val_fraction < 0.5:
            raise ValueError(f"val_fraction: expected in (0, 0.5), got {self.val_fraction}")


@dataclasses.dataclass(frozen=True)
class FewshotWeeklyConfig:
    """Stage ``fewshot_weekly``: GWR and GNNWR, one model per week (DVC matrix over weeks)."""

    gwr: GWRFewshotConfig
    gnnwr: NNWRFewshotConfig
    device: str = "auto"


@dataclasses.dataclass(frozen=True)
class FewshotJointConfig:
    """Stage ``fewshot_joint``: GTWR (and GTNNWR) on all 46 periods jointly."""

    gtwr: GTWRFewshotConfig
    gtnnwr: NNWRFewshotConfig
    device: str = "auto"


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
    """

    seed: int
    optim: OptimConfig
    device: Literal["auto", "cpu", "cuda"] = "auto"
    amp: bool = True
    threads: int = 0
    eval_batch_size: int = 2048
    distributed: DistributedConfig = DistributedConfig()

    def validate(self) -> None:
        """Non-negative threads, a positive evaluation batch."""
        if self.threads < 0 or self.eval_batch_size < 1:
            raise ValueError("threads >= 0 and eval_batch_size >= 1")


@dataclasses.dataclass(frozen=True)
class FewshotTablesConfig:
    """Stage ``fewshot_tables``: paper Tables 2 and 3 with the paper's numbers beside ours.

    Attributes:
        table2_methods: Table 2 columns in order (the paper's: gwr, gnnwr, gtwr, stcg).
        extra_methods: further columns shown after them when their metrics exist.
        table3_methods: Table 3 columns (paper: gnnwr vs stcg).
        table3_week: the week Table 3 reports (its test numbers are Table 2's week 40).
    """

    table2_methods: tuple[str, ...] = ("gwr", "gnnwr", "gtwr", "stcg")
    extra_methods: tuple[str, ...] = ("gtnnwr",)
    table3_methods: tuple[str, ...] = ("gnnwr", "stcg")
    table3_week: int = 40


# ---- train_tabular ----
TabularKind = Literal[
    "lightgbm", "xgboost", "catboost", "knn", "random_forest", "fastai_mlp",
    "tabnet", "excelformer", "resnet", "ft_transformer",
]


@dataclasses.dataclass(frozen=True)
class TabularFeaturesConfig:
    """Design matrix of the Table 1 baselines (stcg.baselines.tabular.features).

    ``lags = 1`` is the paper's setting (the current period); ``L > 1`` appends the previous
    L-1 periods of every variable, the windowed STCG encoder's view.
    """

    lags: int = 1
    land_cover: bool = True

    def validate(self) -> None:
        """At least the current period."""
        if self.lags < 1:
            raise ValueError(f"features.lags must be >= 1, got {self.lags}")


@dataclasses.dataclass(frozen=True)
class TabularOptimConfig:
    """The main model's optimiser, used by the pytorch-frame baselines (paper Section 4.1)."""

    lr: float = 1e-3
    lr_final: float = 1e-4
    decay_fraction: float = 0.5
    weight_decay: float = 0.01
    batch_size: int = 256
    epochs: int = 20

    def validate(self) -> None:
        """Positive sizes, a decay point inside the run."""
        if self.batch_size < 1 or self.epochs < 1:
            raise ValueError("optim.batch_size and optim.epochs must be >= 1")
        if not 0.0 < self.decay_fraction <= 1.0:
            raise ValueError(f"optim.decay_fraction must be in (0, 1], got {self.decay_fraction}")


@dataclasses.dataclass(frozen=True)
class TabularModelConfig:
    """One Table 1 baseline: its hyperparameters with their source, and its budget.

    Attributes:
        kind: which wrapper (stcg.baselines.tabular.registry).
        source: where ``params`` come from (AutoGluon 1.1.1 / pytorch-frame file).
        params: the model's hyperparameters, passed to the wrapper unchanged.
        max_train_rows: uniform subsample of the fit rows (None = all).
        max_rounds: boosting-round cap (GBDTs; None = AutoGluon's 10000).
        n_estimators_cap: tree cap (random forest; None = params.n_estimators).
        epochs: epochs (neural models; None = the model's default / optim.epochs).
        shap: also write TreeSHAP contributions of the test rows (LightGBM only).
        shap_periods: periods (0..45) of the test year to explain (None = all), e.g. the
            weeks of the paper's Figure 5 maps.
        shap_max_rows: then a uniform subsample of those rows (None = all).
        seeds: runs with model seeds ``seed, seed + 1, ...`` (None = ``train_tabular.seeds``);
            a model whose fit does not depend on its seed runs once
            (:func:`stcg.baselines.tabular.registry.seed_dependent`).
    """

    kind: TabularKind
    source: str
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    max_train_rows: int | None = None
    max_rounds: int | None = None
    n_estimators_cap: int | None = None
    epochs: int | None = None
    shap: bool = False
    shap_periods: tuple[int, ...] | None = None
    shap_max_rows: int | None = None
    seeds: int | None = None

    def validate(self) -> None:
        """Budgets are positive; SHAP only for LightGBM."""
        for name in ("max_train_rows", "max_rounds", "n_estimators_cap", "epochs",
                     "shap_max_rows", "seeds"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise ValueError(f"{name} must be >= 1 or null, got {v}")

        if self.shap_periods is not None and not all(
            0 <= p < PERIODS_PER_YEAR for p in self.shap_periods
        ):
            raise ValueError(f"shap_periods must be in 0..45, got {list(self.shap_periods)}")
        if self.shap and self.kind != "lightgbm":
            raise ValueError(f"shap: true needs kind lightgbm, got {self.kind!r}")


@dataclasses.dataclass(frozen=True)
class TrainTabularConfig:
    """Stage ``train_tabular`` (one DVC matrix entry per model; paper Table 1).

    ``seed`` seeds the hold-out split and the row subsamples (the same rows for every model and
    seed) and the first model seed; ``seeds`` is the number of model seeds ``seed, seed + 1,
    ...`` of each seed-dependent model (a model's own ``seeds`` overrides it).
    """

    seed: int
    features: TabularFeaturesConfig
    optim: TabularOptimConfig
    models: dict[str, TabularModelConfig]
    threads: int = 0
    device: str = "auto"
    nn_standardize_target: bool = False
    seeds: int = 1

    def validate(self) -> None:
        """At least one model, at least one seed; a known device string."""
        if self.seeds < 1:
            raise ValueError(f"seeds: expected >= 1, got {self.seeds}")
        if not self.models:
            raise ValueError("models: at least one model is needed")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ValueError(f"device must be auto, cpu or cuda[:N], got {self.device!r}")


# ---- interpret / figures / report (paper Section 4.4, Figures 4-5; the report) ----
@dataclasses.dataclass(frozen=True)
class InterpretConfig:
    """Stage ``interpret``: score attributions against the simulator's truth (oracle and nulls).

    Attributes:
        groups: group -> input features pooled into it for the dominant-group score; must cover
            every input the simulator's GPP reads and hold a group per limiting factor.
        min_gpp_true: samples with a smaller noise-free GPP (gC m-2 d-1) are not scored.
        map_weeks: weeks of the scored rows and the maps ("Week NN" = period NN - 1).
        map_attribution: the STCG attribution of the maps (``stcg.report.interpret``
            ``MAP_ATTRIBUTIONS``: weights, weights_z, weights_local, gradient, gradient_z,
            gradient_local, integrated_gradients, integrated_gradients_global).
        ig_steps: integration nodes of the model's integrated gradients.
        truth_ig_steps: midpoint nodes of the simulator's integrated gradients.
        dpi: PNG resolution.
    """

    groups: Mapping[str, tuple[str, ...]]
    min_gpp_true: float = 0.5
    map_weeks: tuple[int, ...] = (1, 10, 20, 30)
    map_attribution: Literal["weights", "weights_z", "weights_local", "gradient", "gradient_z",
                             "gradient_local", "integrated_gradients",
                             "integrated_gradients_global"] = "gradient_local"
    ig_steps: int = 32
    truth_ig_steps: int = 64
    dpi: int = 110

    def validate(self) -> None:
        """Known features, weeks in 1..46."""
        from stcg.data.schema import VARIABLES

        unknown = sorted({f for fs in self.groups.values() for f in fs} - set(VARIABLES))
        if unknown:
            raise ValueError(f"groups: unknown feature(s) {unknown}")
        bad = [w for w in self.map_weeks if not 1 <= w <= PERIODS_PER_YEAR]
        if bad:
            raise ValueError(f"map_weeks: expected values in 1..{PERIODS_PER_YEAR}, got {bad}")
        if self.dpi < 30:
            raise ValueError(f"dpi: expected >= 30, got {self.dpi}")
        for name in ("ig_steps", "truth_ig_steps"):
            if getattr(self, name) < 2:
                raise ValueError(f"{name}: expected >= 2, got {getattr(self, name)}")


@dataclasses.dataclass(frozen=True)
class RegionConfig:
    """One Figure 4 region: a lon/lat box (degrees; ``lon[0] > lon[1]`` wraps the dateline),
    optionally restricted to some IGBP classes (short names such as ``EBF``; empty = all)."""

    name: str
    lon: tuple[float, float]
    lat: tuple[float, float]
    land_cover: tuple[str, ...] = ()

    def validate(self) -> None:
        """Box inside the globe, known classes."""
        from stcg.data.schema import IGBP_SHORT

        if not (-180 <= self.lon[0] <= 180 and -180 <= self.lon[1] <= 180):
            raise ValueError(f"{self.name}: lon must be within -180..180, got {list(self.lon)}")
        if not -90 <= self.lat[0] < self.lat[1] <= 90:
            raise ValueError(f"{self.name}: lat must be ascending within -90..90, got {list(self.lat)}")
        unknown = [c for c in self.land_cover if c not in IGBP_SHORT]
        if unknown:
            raise ValueError(f"{self.name}: unknown IGBP class(es) {unknown}")


@dataclasses.dataclass(frozen=True)
class FiguresConfig:
    """Stage ``figures``: paper Figures 4-5 and the training curves.

    Attributes:
        regions: Figure 4's regions (paper: six climate-vegetation zones).
        top_features: features drawn per region (largest mean |w z|).
        map_variable: Figure 5's weight map (paper: temperature_2m).
        map_weeks: Figure 5's weeks (paper: 01, 10, 20, 30; "Week NN" = period NN - 1).
        weight_percentile: the weight colour scale is symmetric, +-this percentile of |w|.
        attribution: what Figures 4-5 show (``stcg.report.attributions.FIGURE_ATTRIBUTIONS``):
            ``weights`` (the paper's w and w z), ``weights_local`` (w and w (z - z_ref)),
            ``gradient`` / ``gradient_local`` (the target head's dy/dz instead of w).
        dpi: PNG resolution.
    """

    regions: tuple[RegionConfig, ...]
    top_features: int = 5
    map_variable: str = "temperature_2m"
    map_weeks: tuple[int, ...] = (1, 10, 20, 30)
    weight_percentile: float = 98.0
    attribution: Literal["weights", "weights_local", "gradient", "gradient_local"] = "gradient_local"
    dpi: int = 110

    def validate(self) -> None:
        """Sizes and weeks."""
        from stcg.data.schema import VARIABLES

        if not self.regions:
            raise ValueError("regions: at least one region is needed")
        if self.top_features < 1:
            raise ValueError(f"top_features: expected >= 1, got {self.top_features}")
        if self.map_variable not in VARIABLES:
            raise ValueError(f"map_variable: unknown feature {self.map_variable!r}")
        bad = [w for w in self.map_weeks if not 1 <= w <= PERIODS_PER_YEAR]
        if bad or not self.map_weeks:
            raise ValueError(f"map_weeks: expected values in 1..{PERIODS_PER_YEAR}, got {list(self.map_weeks)}")
        if not 50.0 <= self.weight_percentile <= 100.0:
            raise ValueError(f"weight_percentile: expected 50..100, got {self.weight_percentile}")
        if self.dpi < 30:
            raise ValueError(f"dpi: expected >= 30, got {self.dpi}")


@dataclasses.dataclass(frozen=True)
class ReportConfig:
    """Stage ``report``: ``reports/REPORT.md`` and the per-week few-shot RMSE plot data.

    Attributes:
        fewshot_methods: columns of ``fewshot_rmse.csv`` (and its DVC plot), in order.
    """

    fewshot_methods: tuple[str, ...] = ("gwr", "gnnwr", "gtwr", "gtnnwr", "stcg")
