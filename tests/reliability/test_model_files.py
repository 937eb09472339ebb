"""Bad model files and checkpoints: one line naming the path, never unsafe advice; reproducible
bytes; checkpoints of finished runs, other code or unreadable ones are not resumed."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
import torch

from stcg.errors import StcgError
from stcg.io import save_torch
from stcg.train import loop
from stcg.train.bundle import load_bundle, make_bundle, save_bundle
from stcg.train.loop import fit, load_checkpoint

from .conftest import OPTIM, SMALL


@pytest.fixture(scope="module")
def model_file(setup, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.pt"
    bundle = make_bundle(setup.model(), SMALL, 4, setup.dense.variables, setup.stats, setup.graph)
    save_bundle(path, bundle)
    return path, bundle


def bad_files(tmp_path, good: bytes) -> dict[str, object]:
    rng = np.random.default_rng(0)
    files = {
        "empty": b"",
        "truncated": good[: len(good) // 2],
        "random": rng.integers(0, 256, 4096, dtype=np.uint8).tobytes(),
        "pickle": b"\x80\x04\x95" + rng.integers(0, 256, 200, dtype=np.uint8).tobytes(),
    }
    out = {}
    for name, data in files.items():
        p = tmp_path / f"{name}.pt"
        p.write_bytes(data)
        out[name] = p
    return out


@pytest.mark.parametrize("kind", ["empty", "truncated", "random", "pickle"])
def test_bad_model_file_is_one_line_naming_it(model_file, tmp_path, kind) -> None:
    path = bad_files(tmp_path, model_file[0].read_bytes())[kind]
    with pytest.raises(StcgError) as exc:
        load_bundle(path)
    msg = str(exc.value)
    assert msg.startswith(f"{path}: cannot read this model file: ")
    assert "\n" not in msg and "weights_only" not in msg
    assert msg.endswith("re-create it with `dvc repro train_stcg` (or restore it with "
                        "`dvc checkout build/stcg`)")


def test_model_path_of_the_wrong_kind(tmp_path) -> None:
    with pytest.raises(StcgError, match="expected a model file \\(a file\\), found a directory"):
        load_bundle(tmp_path)
    with pytest.raises(StcgError, match="no model file here"):
        load_bundle(tmp_path / "missing.pt")


def test_a_file_that_is_not_a_model(tmp_path) -> None:
    save_torch(tmp_path / "other.pt", {"format": "something-else"})
    with pytest.raises(StcgError, match="not a stcg-model-v1 model file \\(format 'something-else'\\)"):
        load_bundle(tmp_path / "other.pt")


def test_model_file_bytes_are_identical_across_saves(model_file, tmp_path) -> None:
    path, bundle = model_file
    save_bundle(tmp_path / "again.pt", bundle)
    save_bundle(tmp_path / "elsewhere_named.pt", bundle)
    assert path.read_bytes() == (tmp_path / "again.pt").read_bytes()
    assert path.read_bytes() == (tmp_path / "elsewhere_named.pt").read_bytes()
    back = load_bundle(path)
    for k, v in bundle.state_dict.items():
        assert torch.equal(back.state_dict[k], v)
    # what torch.save does with a file name instead: the name is inside the archive
    torch.save({"a": torch.ones(2)}, tmp_path / "one.pt")
    torch.save({"a": torch.ones(2)}, tmp_path / "two.pt")
    assert (tmp_path / "one.pt").read_bytes() != (tmp_path / "two.pt").read_bytes()


def run_fit(setup, ckpt, fp, epochs_seen):
    model = setup.model()
    fit(model, setup.data, setup.idx, OPTIM, seed=0, ckpt_path=ckpt, fp=fp,
        on_epoch_end=epochs_seen.append, progress=False)
    return model


def test_finished_checkpoint_is_not_reused(setup, tmp_path) -> None:
    ckpt = tmp_path / "last.pt"
    first: list[int] = []
    a = run_fit(setup, ckpt, "fp", first)
    assert first == [1, 2] and torch.load(ckpt, weights_only=True)["epoch"] == 2
    again: list[int] = []
    with pytest.warns(UserWarning, match="checkpoint of a finished run \\(epoch 2 of 2\\)"):
        b = run_fit(setup, ckpt, "fp", again)
    assert again == [1, 2], "a rerun trains from scratch"
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(va, vb), k  # same seed, same result


def test_interrupted_checkpoint_is_resumed(setup, tmp_path) -> None:
    ckpt = tmp_path / "last.pt"

    def crash(epoch):
        if epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(setup.model(), setup.data, setup.idx, OPTIM, 0, ckpt, "fp", on_epoch_end=crash,
            progress=False)
    seen: list[int] = []
    run_fit(setup, ckpt, "fp", seen)
    assert seen == [2]


def test_code_change_restarts_training(setup, tmp_path, monkeypatch) -> None:
    from stcg.train.run import run_fingerprint

    fp_old = run_fingerprint(_cfg(), setup.dense, setup.graph, 256, "cpu")
    monkeypatch.setattr("stcg.train.run.code_fingerprint", lambda: "edited-model-source")
    fp_new = run_fingerprint(_cfg(), setup.dense, setup.graph, 256, "cpu")
    assert fp_old != fp_new
    ckpt = tmp_path / "last.pt"
    OPTIM1 = type(OPTIM)(**{**OPTIM.__dict__, "epochs": 1})
    fit(setup.model(), setup.data, setup.idx, OPTIM1, 0, ckpt, fp_old, progress=False)
    seen: list[int] = []
    with pytest.warns(UserWarning, match="another configuration or code"):
        fit(setup.model(), setup.data, setup.idx, OPTIM, 0, ckpt, fp_new,
            on_epoch_end=seen.append, progress=False)
    assert seen == [1, 2]


def test_code_fingerprint_hashes_the_sources(tmp_path, monkeypatch) -> None:
    import sys

    pkg = tmp_path / "fakepkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "layer.py").write_text("W = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    a = loop.code_fingerprint(("fakepkg",))
    (pkg / "layer.py").write_text("W = 2\n")
    b = loop.code_fingerprint(("fakepkg",))
    sys.modules.pop("fakepkg", None)
    assert a != b
    assert loop.code_fingerprint() == loop.code_fingerprint()


@pytest.mark.parametrize("kind", ["empty", "truncated", "random"])
def test_unreadable_checkpoint_is_moved_aside(setup, tmp_path, kind) -> None:
    buf = io.BytesIO()
    torch.save({"format": loop.CKPT_FORMAT, "epoch": 1, "x": torch.zeros(1000)}, buf)
    ckpt = bad_files(tmp_path, buf.getvalue())[kind]
    with pytest.warns(UserWarning, match=f"{ckpt}: cannot read this checkpoint: .*moved to "
                                         f"{ckpt}.unreadable, training from scratch"):
        assert load_checkpoint(ckpt, "fp", 2) is None
    assert not ckpt.exists() and ckpt.with_name(ckpt.name + ".unreadable").exists()
    seen: list[int] = []
    run_fit(setup, ckpt, "fp", seen)  # and training then writes a good one
    assert seen == [1, 2] and torch.load(ckpt, weights_only=True)["epoch"] == 2


def test_checkpoint_bytes_are_reproducible(setup, tmp_path) -> None:
    run_fit(setup, tmp_path / "a.pt", "fp", [])
    run_fit(setup, tmp_path / "b.pt", "fp", [])
    assert (tmp_path / "a.pt").read_bytes() != b""
    sa = torch.load(tmp_path / "a.pt", weights_only=True)
    sb = torch.load(tmp_path / "b.pt", weights_only=True)
    for k, v in sa["model"].items():
        assert torch.equal(v, sb["model"][k])


def test_training_step_raises_no_warning(setup, tmp_path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit(setup.model(), setup.data, setup.idx, OPTIM, 0, None, "", progress=True)


def _cfg():
    from stcg.train.config import TrainStcgConfig

    return TrainStcgConfig(seed=0, window=4, model=SMALL, optim=OPTIM, device="cpu")


def test_timings_stay_out_of_the_outputs(toy_data, toy_graph, tmp_path) -> None:
    from stcg.io import read_json
    from stcg.train.run import train_stcg

    cfg = _cfg()
    outs = []
    for run in ("a", "b"):
        d = tmp_path / run
        train_stcg(toy_data, toy_graph, cfg, d / "out", d / "ckpt.pt", d / "m.json", d / "plots",
                   progress=False, cost_path=d / "cost.json")
        outs.append(d)
    cost = read_json(outs[0] / "cost.json")
    assert [e["epoch"] for e in cost["epochs"]] == [1, 2]
    assert all(e["samples_per_s"] > 0 for e in cost["epochs"])
    for a in sorted(p for p in outs[0].rglob("*") if p.is_file()):
        rel = a.relative_to(outs[0])
        if rel.name == "cost.json":
            continue
        assert "samples_per_s" not in rel.name
        assert a.read_bytes() == (outs[1] / rel).read_bytes(), rel
