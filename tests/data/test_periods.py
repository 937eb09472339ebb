"""8-day period arithmetic (stcg.data.periods): starts every 8 days from 1 January, a 5/6-day last
period, leap years, and the paper's 2001-01-01 .. 2020-12-17 span."""

from __future__ import annotations

import datetime as dt

import pytest

from stcg.data.periods import (
    days_in_year,
    is_leap,
    parse_date,
    period_bounds,
    period_days,
    period_of,
    periods_between,
)

D = dt.date


def test_period_starts_every_8_days_from_jan_1() -> None:
    assert period_bounds(2001, 0) == (D(2001, 1, 1), D(2001, 1, 9))
    assert period_bounds(2001, 1) == (D(2001, 1, 9), D(2001, 1, 17))
    assert period_bounds(2001, 7) == (D(2001, 2, 26), D(2001, 3, 6))   # across end of February
    assert period_bounds(2020, 7) == (D(2020, 2, 26), D(2020, 3, 5))   # 29 Feb inside: 8 days
    # period 22 starts on day 177: 26 June, or 25 June in leap years
    assert period_bounds(2019, 22)[0] == D(2019, 6, 26)
    assert period_bounds(2020, 22)[0] == D(2020, 6, 25)


@pytest.mark.parametrize(("year", "start", "days"), [
    (2001, D(2001, 12, 27), 5),
    (2019, D(2019, 12, 27), 5),
    (2020, D(2020, 12, 26), 6),   # leap
    (2000, D(2000, 12, 26), 6),   # leap (divisible by 400)
    (1900, D(1900, 12, 27), 5),   # not leap (divisible by 100)
])
def test_last_period_is_5_or_6_days(year: int, start: dt.date, days: int) -> None:
    first, stop = period_bounds(year, 45)
    assert first == start and stop == D(year + 1, 1, 1)
    assert period_days(year, 45) == days


@pytest.mark.parametrize("year", [2001, 2004, 2019, 2020, 2100])
def test_periods_tile_the_year(year: int) -> None:
    assert is_leap(year) == (days_in_year(year) == 366)
    assert sum(period_days(year, p) for p in range(46)) == days_in_year(year)
    assert all(period_days(year, p) == 8 for p in range(45))
    for p in range(45):
        assert period_bounds(year, p)[1] == period_bounds(year, p + 1)[0]
    day = D(year, 1, 1)
    while day.year == year:           # every day maps into the period that holds it
        y, p = period_of(day)
        first, stop = period_bounds(y, p)
        assert y == year and first <= day < stop
        day += dt.timedelta(days=1)


def test_the_papers_span() -> None:
    periods = periods_between(D(2001, 1, 1), D(2020, 12, 17))
    # 2020-12-17 is the last day of period 43 of 2020 (10..17 December): 19 x 46 + 44 periods
    assert period_bounds(2020, 43) == (D(2020, 12, 10), D(2020, 12, 18))
    assert len(periods) == 19 * 46 + 44 == 918
    assert periods[0] == (2001, 0) and periods[-1] == (2020, 43)
    assert len(periods_between(D(2001, 1, 1), D(2020, 12, 31))) == 920
    # a span cutting a period leaves it out at both ends
    assert periods_between(D(2001, 1, 2), D(2001, 1, 24)) == [(2001, 1), (2001, 2)]
    assert periods_between(D(2001, 1, 9), D(2001, 1, 16)) == [(2001, 1)]
    assert periods_between(D(2001, 1, 9), D(2001, 1, 15)) == []
    with pytest.raises(ValueError, match="before"):
        periods_between(D(2002, 1, 1), D(2001, 1, 1))


def test_parse_date() -> None:
    assert parse_date("2020-12-17") == D(2020, 12, 17)
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_date("17/12/2020")


@pytest.mark.parametrize("year", [2019, 2020])
def test_period_of_doy_vectorised_equals_period_of(year: int) -> None:
    import numpy as np

    from stcg.data.periods import days_in_year, period_of_doy

    days = [D(year, 1, 1) + dt.timedelta(days=k) for k in range(days_in_year(year))]
    want = [period_of(d)[1] for d in days]
    got = period_of_doy(np.array([d.timetuple().tm_yday for d in days]))
    assert got.tolist() == want
    assert want[0] == 0 and want[7] == 0 and want[8] == 1 and want[-1] == 45
