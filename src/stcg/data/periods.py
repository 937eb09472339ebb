"""Calendar arithmetic of the 8-day periods (paper Section 4.1; MODIS / PML_V2 convention).

Every year is cut into 46 periods that restart on 1 January: period ``p`` (0..45) starts on day of
year ``8 p + 1`` and lasts 8 days, except the last one, which runs from 27 December (26 December
in leap years) to 31 December: 5 days, or 6 in leap years.  PML_V2's 8-day GPP images are stamped
with these start dates, so an ERA5-Land day belongs to exactly one period and a PML_V2 image to
exactly one period.

The paper's dataset spans 2001-01-01 .. 2020-12-17.  Only *complete* periods inside such a span
are kept (:func:`periods_between`): 2020-12-17 is the last day of period 43 of 2020 (10..17
December), so the paper's span holds 19 x 46 + 44 = 918 periods and 2020 lacks its periods 44
(18..25 December) and 45 (26..31 December).  ``stcg gee-export --end 2020-12-31`` exports them.

All dates are :class:`datetime.date`; "end" arguments are inclusive, "stop" values exclusive.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from stcg.data.schema import PERIODS_PER_YEAR

Date = dt.date


def is_leap(year: int) -> bool:
    """Gregorian leap year."""
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def days_in_year(year: int) -> int:
    """365 or 366."""
    return 366 if is_leap(year) else 365


def period_start_doy(period: int) -> int:
    """Day of year (1-based) on which 8-day period ``period`` (0..45) starts."""
    if not 0 <= period < PERIODS_PER_YEAR:
        raise ValueError(f"period must be in 0..{PERIODS_PER_YEAR - 1}, got {period}")
    return 8 * period + 1


def period_of_doy(doy):
    """Period (0..45) that contains day of year ``doy`` (1-based; an int or an integer array)."""
    return np.minimum((np.asarray(doy) - 1) // 8, PERIODS_PER_YEAR - 1)


def period_bounds(year: int, period: int) -> tuple[Date, Date]:
    """First day and the day after the last day of ``period`` of ``year``.

    Args:
        year: calendar year.
        period: 0..45.

    Returns:
        ``(start, stop)`` with ``stop`` exclusive, as Earth Engine's ``filterDate`` expects.
    """
    start = dt.date(year, 1, 1) + dt.timedelta(days=period_start_doy(period) - 1)
    stop = min(start + dt.timedelta(days=8), dt.date(year + 1, 1, 1))
    return start, stop


def period_days(year: int, period: int) -> int:
    """Length of a period in days: 8, or 5 / 6 for the last period of a (leap) year."""
    start, stop = period_bounds(year, period)
    return (stop - start).days


def period_of(day: Date) -> tuple[int, int]:
    """``(year, period)`` of the period that contains ``day``."""
    return day.year, int(period_of_doy(day.timetuple().tm_yday))


def periods_between(start: Date, end: Date) -> list[tuple[int, int]]:
    """Every complete period that lies within ``[start, end]`` (both inclusive), in time order.

    A period that begins before ``start`` or ends after ``end`` is left out, so the aggregates
    (8-day sums in particular) never cover fewer days than the period has.

    Raises:
        ValueError: if ``end`` is before ``start``.
    """
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    out: list[tuple[int, int]] = []
    for year in range(start.year, end.year + 1):
        for period in range(PERIODS_PER_YEAR):
            first, stop = period_bounds(year, period)
            if first >= start and stop - dt.timedelta(days=1) <= end:
                out.append((year, period))
    return out


def week_to_period(week: int) -> int:
    """Period index (0..45) of the paper's "Week NN" (1..46): ``NN - 1``.

    "Week NN" (paper Tables 2-3, Figure 5) is the NN-th 8-day period of the year; the paper
    numbers its weeks from 1 and has no week 0, so "Week-01" is period 0 (1-8 January).
    """
    if not 1 <= int(week) <= PERIODS_PER_YEAR:
        raise ValueError(f"week must be in 1..{PERIODS_PER_YEAR}, got {week}")
    return int(week) - 1


def week_key(week: int) -> str:
    """Metrics key of a week: ``w01``, ``w10``, ..."""
    return f"w{int(week):02d}"


def parse_date(text: str) -> Date:
    """Parse ``YYYY-MM-DD`` with a clear error."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"expected a date as YYYY-MM-DD, got {text!r}") from exc
