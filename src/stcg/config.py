"""The strict params loader: profiles, strict keys, error paths.

Rules (see docs/design.md, "Repository rules"):

* one frozen dataclass per ``params.yaml`` section, named after the DVC stage that reads it;
* loading is strict: an unknown key, a missing key without a default, or a value of the wrong
  type is an error that names the key path (``params.yaml: train_stcg.model.d_model: ...``);
* profiles: the top-level key ``profile`` selects ``tiny``, ``default`` or ``paper``.  Any mapping
  whose keys are all profile names is a *profile switch* and resolves to the active profile's value
  (a profile that is missing falls back to ``default``).  So one ``params.yaml`` carries all three
  scales, and ``dvc exp run -S profile=paper`` switches every stage at once.

The section dataclasses live beside the code they configure, each in its package's
``config.py``: ``stcg.data.config`` (``build_data``), ``stcg.graph.config``,
``stcg.model.config``, ``stcg.train.config`` (``train_stcg``, ``ablate``, ``fewshot_stcg``),
``stcg.fewshot.config`` (``build_fewshot``, ``fewshot_weekly``, ``fewshot_joint``; the GNNWR
settings they share in ``stcg.baselines.spatial.config``),
``stcg.baselines.tabular.config`` (``train_tabular``) and ``stcg.report.config``
(``interpret``, ``figures``, ``report``, ``fewshot_tables``; ``faithfulness`` in
``stcg.report.faithfulness_config``).  They import this module; this
module imports none of them (it knows the section *names* only, :data:`SECTIONS`, to reject a
misspelt top-level key).  So a stage depends, in ``dvc.yaml``, on this loader and on the config
modules it reads, and editing one section's validator re-runs only the stages of that section.

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

from stcg.errors import StcgError

PROFILES: tuple[str, ...] = ("tiny", "default", "paper")
"""The profile names; ``default`` is what ``dvc repro`` runs on a fresh clone."""

T = TypeVar("T")


class ConfigError(StcgError):
    """A params value is missing, unknown or of the wrong type."""


SECTIONS: tuple[str, ...] = (
    "build_data", "build_graph", "train_stcg", "ablate", "build_fewshot", "fewshot_weekly",
    "fewshot_joint", "fewshot_stcg", "fewshot_tables", "train_tabular", "interpret", "figures",
    "report", "faithfulness",
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


def load_section(cls: type[T], section: str, path: str | Path = "params.yaml",
                 profile: str | None = None) -> T:
    """Load one ``params.yaml`` section into its config dataclass, resolving the profile.

    Args:
        cls: the frozen dataclass of the section.
        section: the top-level key (the stage name).
        path: the params file.
        profile: the profile to resolve (None: the file's ``profile`` key; benches pass their
            own).

    Returns:
        An instance of ``cls``.

    Raises:
        ConfigError: naming the key path on any unknown, missing or mistyped value.
    """
    params = read_params(path)
    profile = active_profile(params) if profile is None else profile
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
