"""Option parsing of the ``stcg gee-export`` command (the Typer command is in :mod:`stcg.cli`
with every other command): the command-line strings become an
:class:`~stcg.data.gee.recipe.ExportRecipe`.
"""

from __future__ import annotations

from stcg.data.gee.recipe import ExportRecipe
from stcg.data.periods import parse_date


def parse_years(text: str | None) -> tuple[int, ...] | None:
    """``"2001-2003,2010"`` -> ``(2001, 2002, 2003, 2010)``; None or empty -> None."""
    if not text:
        return None
    years: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        try:
            if "-" in part:
                a, b = (int(x) for x in part.split("-", 1))
                years.update(range(a, b + 1))
            else:
                years.add(int(part))
        except ValueError as exc:
            raise ValueError(f"years: expected e.g. 2001-2019,2020, got {text!r}") from exc
    return tuple(sorted(years))


def recipe_from_options(
    *,
    start: str,
    end: str,
    years: str | None,
    resolution: float,
    variables: str | None,
    pml: str,
    gpp_scale: float | None,
    file_format: str,
    destination: str,
    folder: str,
    prefix: str,
    tile_scale: int,
    periods_per_task: int | None,
    digits: int | None,
) -> ExportRecipe:
    """The recipe of ``stcg gee-export``'s options (dates ``YYYY-MM-DD``, ``years`` as in
    :func:`parse_years`, ``variables`` comma-separated; None = all of the schema).

    Raises:
        ValueError: an option that is not a valid recipe value (the message names it).
    """
    return ExportRecipe(
        start=parse_date(start),
        end=parse_date(end),
        resolution=resolution,
        variables=(
            tuple(v.strip() for v in variables.split(",") if v.strip())
            if variables
            else ExportRecipe.variables
        ),
        pml=pml,
        gpp_scale=gpp_scale,
        file_format=file_format,  # type: ignore[arg-type]
        destination=destination,  # type: ignore[arg-type]
        folder=folder,
        prefix=prefix,
        years=parse_years(years),
        tile_scale=tile_scale,
        periods_per_task=periods_per_task,
        digits=digits,
    )
