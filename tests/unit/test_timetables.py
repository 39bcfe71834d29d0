"""Timetables: data intervals for cron strings, presets, timedeltas, @once and
None (contract section 3), the DST rules, and properties checked against a
wall-clock oracle that shares no code with flowctl.timetables."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pendulum
import pytest
from croniter import croniter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowctl.timetables import DataInterval, make_timetable

pytestmark = pytest.mark.timeout(60)

AMS = "Europe/Amsterdam"  # spring 2026-03-29 02:00 -> 03:00; fall 2026-10-25 03:00 -> 02:00
NY = "America/New_York"  # spring 2026-03-08 02:00 -> 03:00; fall 2026-11-01 02:00 -> 01:00
LHI = "Australia/Lord_Howe"  # half-hour DST: 04-05 02:00 -> 01:30; 10-04 02:00 -> 02:30
KOL = "Asia/Kolkata"  # +05:30, no DST


def at(text: str, tz: str = "UTC") -> pendulum.DateTime:
    """A date from ISO text, read in ``tz`` unless it has an offset."""
    return pendulum.parse(text, tz=tz)


def iso(when: dt.datetime) -> str:
    return when.isoformat(timespec="minutes")


def utc(when: dt.datetime) -> pendulum.DateTime:
    """Compare by instant: Python compares two datetimes that share a tzinfo by
    wall clock, ignoring fold, so 01:00-04:00 == 01:00-05:00 in New York."""
    return pendulum.instance(when).in_timezone("UTC")


def bounds(intervals: list[DataInterval]) -> list[str]:
    """The interval starts and the last end: n contiguous intervals as n + 1 dates."""
    for a, b in zip(intervals, intervals[1:], strict=False):
        assert utc(a.end) == utc(b.start), f"gap between {a} and {b}"
    if not intervals:
        return []
    return [iso(iv.start) for iv in intervals] + [iso(intervals[-1].end)]


def span(interval: DataInterval | None) -> str | None:
    return None if interval is None else f"{iso(interval.start)} {iso(interval.end)}"


# --- next_intervals ----------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "start", "kwargs", "expected"),
    [
        pytest.param(
            "@daily",
            at("2026-01-01"),
            {"n": 2},
            ["2026-01-01T00:00+00:00", "2026-01-02T00:00+00:00", "2026-01-03T00:00+00:00"],
            id="daily-aligned-start",
        ),
        pytest.param(
            "@daily",
            at("2026-01-01T10:00"),
            {"n": 2},
            ["2026-01-02T00:00+00:00", "2026-01-03T00:00+00:00", "2026-01-04T00:00+00:00"],
            id="daily-unaligned-start-begins-at-next-tick",
        ),
        pytest.param(
            "0 6 * * 1-5",
            at("2026-01-02T07:00"),  # a Friday, after 06:00
            {"n": 3},
            [
                "2026-01-05T06:00+00:00",
                "2026-01-06T06:00+00:00",
                "2026-01-07T06:00+00:00",
                "2026-01-08T06:00+00:00",
            ],
            id="weekdays-skip-the-weekend",
        ),
        pytest.param(
            "0 6 * * 1-5",
            at("2026-01-08T06:00"),  # a Thursday
            {"n": 2},
            ["2026-01-08T06:00+00:00", "2026-01-09T06:00+00:00", "2026-01-12T06:00+00:00"],
            id="weekdays-friday-interval-ends-monday",
        ),
        pytest.param(
            "*/15 * * * *",
            at("2026-01-01T10:07"),
            {"n": 3},
            [
                "2026-01-01T10:15+00:00",
                "2026-01-01T10:30+00:00",
                "2026-01-01T10:45+00:00",
                "2026-01-01T11:00+00:00",
            ],
            id="step-field",
        ),
        pytest.param(
            "0 0,12 * * *",
            at("2026-01-01T06:00"),
            {"n": 3},
            [
                "2026-01-01T12:00+00:00",
                "2026-01-02T00:00+00:00",
                "2026-01-02T12:00+00:00",
                "2026-01-03T00:00+00:00",
            ],
            id="list-field",
        ),
        pytest.param(
            "@hourly",
            at("2026-01-01T10:30"),
            {"n": 2},
            ["2026-01-01T11:00+00:00", "2026-01-01T12:00+00:00", "2026-01-01T13:00+00:00"],
            id="preset-hourly",
        ),
        pytest.param(
            "@weekly",
            at("2026-01-01"),  # a Thursday
            {"n": 2},
            ["2026-01-04T00:00+00:00", "2026-01-11T00:00+00:00", "2026-01-18T00:00+00:00"],
            id="preset-weekly-sundays",
        ),
        pytest.param(
            "@monthly",
            at("2026-01-01"),
            {"n": 2},
            ["2026-01-01T00:00+00:00", "2026-02-01T00:00+00:00", "2026-03-01T00:00+00:00"],
            id="preset-monthly",
        ),
        pytest.param(
            "@quarterly",
            at("2026-02-15"),
            {"n": 3},
            [
                "2026-04-01T00:00+00:00",
                "2026-07-01T00:00+00:00",
                "2026-10-01T00:00+00:00",
                "2027-01-01T00:00+00:00",
            ],
            id="preset-quarterly",
        ),
        pytest.param(
            "@yearly",
            at("2026-06-01"),
            {"n": 2},
            ["2027-01-01T00:00+00:00", "2028-01-01T00:00+00:00", "2029-01-01T00:00+00:00"],
            id="preset-yearly",
        ),
        pytest.param(
            "@once",
            at("2026-01-01T08:30"),
            {},
            ["2026-01-01T08:30+00:00", "2026-01-01T08:30+00:00"],
            id="preset-once-is-zero-width",
        ),
        pytest.param(
            "@once",
            at("2026-01-01T08:30"),
            {"after": at("2026-01-01T09:00")},
            [],
            id="preset-once-after-its-date",
        ),
        pytest.param(None, at("2026-01-01"), {}, [], id="none-is-manual-only"),
        pytest.param(
            dt.timedelta(hours=6),
            at("2026-01-01T03:00"),
            {"n": 3},
            [
                "2026-01-01T03:00+00:00",
                "2026-01-01T09:00+00:00",
                "2026-01-01T15:00+00:00",
                "2026-01-01T21:00+00:00",
            ],
            id="timedelta-from-start-date",
        ),
        pytest.param(
            dt.timedelta(days=1),
            at("2026-01-10"),
            {"n": 2, "after": at("2026-01-12T05:00")},
            ["2026-01-13T00:00+00:00", "2026-01-14T00:00+00:00", "2026-01-15T00:00+00:00"],
            id="timedelta-after-unaligned",
        ),
        pytest.param(
            "@daily",
            at("2026-01-01"),
            {"n": 2, "after": at("2026-01-10T05:00")},
            ["2026-01-11T00:00+00:00", "2026-01-12T00:00+00:00", "2026-01-13T00:00+00:00"],
            id="after-unaligned",
        ),
        pytest.param(
            "@daily",
            at("2026-01-01"),
            {"n": 1, "after": at("2026-01-10")},
            ["2026-01-10T00:00+00:00", "2026-01-11T00:00+00:00"],
            id="after-on-a-tick-includes-it",
        ),
        pytest.param(
            "@daily",
            at("2026-01-05"),
            {"n": 1, "after": at("2025-12-01")},
            ["2026-01-05T00:00+00:00", "2026-01-06T00:00+00:00"],
            id="after-before-start-date",
        ),
        pytest.param(
            "@daily",
            at("2026-01-01T00:00", KOL),
            {"n": 1, "after": dt.datetime(2026, 1, 2, 12, tzinfo=dt.UTC)},
            ["2026-01-03T00:00+05:30", "2026-01-04T00:00+05:30"],
            id="after-in-another-zone",
        ),
        pytest.param(
            "30 9 * * *",
            at("2026-01-01", KOL),
            {"n": 2},
            ["2026-01-01T09:30+05:30", "2026-01-02T09:30+05:30", "2026-01-03T09:30+05:30"],
            id="half-hour-zone",
        ),
        pytest.param(
            "@hourly",
            at("2026-01-01T10:10", KOL),
            {"n": 2},
            ["2026-01-01T11:00+05:30", "2026-01-01T12:00+05:30", "2026-01-01T13:00+05:30"],
            id="half-hour-zone-hourly-is-local-hours",
        ),
        pytest.param(
            "0 6 * * *",
            dt.datetime(2026, 1, 1, tzinfo=ZoneInfo(AMS)),
            {"n": 1},
            ["2026-01-01T06:00+01:00", "2026-01-02T06:00+01:00"],
            id="stdlib-zoneinfo-start",
        ),
    ],
)
def test_next_intervals(schedule, start, kwargs, expected):
    assert bounds(make_timetable(schedule, start).next_intervals(**kwargs)) == expected


def test_naive_start_date_is_read_in_the_default_zone():
    tt = make_timetable("@daily", dt.datetime(2026, 1, 1), default_tz=KOL)
    assert tt.timezone == KOL
    assert bounds(tt.next_intervals(n=1)) == ["2026-01-01T00:00+05:30", "2026-01-02T00:00+05:30"]


def test_naive_arguments_are_read_in_the_schedule_zone():
    tt = make_timetable("@daily", at("2026-01-01", AMS))
    assert iso(tt.next_due(dt.datetime(2026, 1, 5, 0, 30))) == "2026-01-06T00:00+01:00"
    assert tt.is_aligned(dt.datetime(2026, 1, 5))


def test_results_are_pendulum_datetimes_in_the_schedule_zone():
    tt = make_timetable("@daily", dt.datetime(2026, 1, 1, tzinfo=ZoneInfo(AMS)))
    interval = tt.next_intervals(n=1)[0]
    assert isinstance(interval.start, pendulum.DateTime)
    assert interval.start.timezone_name == AMS
    assert interval.end.timezone_name == AMS


@pytest.mark.parametrize(
    ("start", "default_tz", "expected"),
    [
        pytest.param(at("2026-01-01", AMS), "UTC", AMS, id="aware-start-wins"),
        pytest.param(dt.datetime(2026, 1, 1), NY, NY, id="naive-start-uses-default"),
        pytest.param(None, KOL, KOL, id="no-start-uses-default"),
        pytest.param(at("2026-01-01T00:00+02:00"), "UTC", "+02:00", id="fixed-offset"),
    ],
)
def test_timezone_name(start, default_tz, expected):
    schedule = None if start is None else "@daily"
    assert make_timetable(schedule, start, default_tz=default_tz).timezone == expected


# --- end_date ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "start", "end", "expected"),
    [
        pytest.param(
            "@daily",
            at("2026-01-01"),
            at("2026-01-03T12:00"),
            [
                "2026-01-01T00:00+00:00",
                "2026-01-02T00:00+00:00",
                "2026-01-03T00:00+00:00",
                "2026-01-04T00:00+00:00",
            ],
            id="last-interval-ends-after-end-date",
        ),
        pytest.param(
            "@daily",
            at("2026-01-01"),
            at("2026-01-02"),
            ["2026-01-01T00:00+00:00", "2026-01-02T00:00+00:00", "2026-01-03T00:00+00:00"],
            id="end-date-on-a-tick-starts-one-more",
        ),
        pytest.param(
            dt.timedelta(hours=12),
            at("2026-01-01"),
            at("2026-01-01T23:00"),
            ["2026-01-01T00:00+00:00", "2026-01-01T12:00+00:00", "2026-01-02T00:00+00:00"],
            id="timedelta",
        ),
        pytest.param("@daily", at("2026-01-05"), at("2026-01-01"), [], id="end-before-start"),
        pytest.param("@once", at("2026-01-05"), at("2026-01-01"), [], id="once-after-end"),
    ],
)
def test_no_interval_starts_after_end_date(schedule, start, end, expected):
    tt = make_timetable(schedule, start, end)
    assert bounds(tt.next_intervals(n=10)) == expected
    assert tt.next_due(at("2030-01-01")) is None


# --- DST ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "start", "n", "expected"),
    [
        pytest.param(
            "@daily",
            at("2026-03-28", AMS),
            2,
            ["2026-03-28T00:00+01:00", "2026-03-29T00:00+01:00", "2026-03-30T00:00+02:00"],
            id="ams-spring-daily-stays-at-midnight",
        ),
        pytest.param(
            "@daily",
            at("2026-10-31", NY),
            2,
            ["2026-10-31T00:00-04:00", "2026-11-01T00:00-04:00", "2026-11-02T00:00-05:00"],
            id="ny-fall-daily-stays-at-midnight",
        ),
        pytest.param(
            "30 2 * * *",
            at("2026-03-28", AMS),
            2,
            ["2026-03-28T02:30+01:00", "2026-03-29T03:30+02:00", "2026-03-30T02:30+02:00"],
            id="ams-spring-gap-tick-moves-forward-by-the-gap",
        ),
        pytest.param(
            "30 2 * * *",
            at("2026-03-07", NY),
            2,
            ["2026-03-07T02:30-05:00", "2026-03-08T03:30-04:00", "2026-03-09T02:30-04:00"],
            id="ny-spring-gap-tick-moves-forward-by-the-gap",
        ),
        pytest.param(
            "30 2 * * *",
            at("2026-10-24", AMS),
            2,
            ["2026-10-24T02:30+02:00", "2026-10-25T02:30+01:00", "2026-10-26T02:30+01:00"],
            id="ams-fall-repeated-tick-once-at-second",
        ),
        pytest.param(
            "30 1 * * *",
            at("2026-10-31", NY),
            2,
            ["2026-10-31T01:30-04:00", "2026-11-01T01:30-05:00", "2026-11-02T01:30-05:00"],
            id="ny-fall-repeated-tick-once-at-second",
        ),
        pytest.param(
            "30 1 * * *",
            at("2026-03-28", AMS),
            2,
            ["2026-03-28T01:30+01:00", "2026-03-29T01:30+01:00", "2026-03-30T01:30+02:00"],
            id="ams-spring-before-the-gap-is-untouched",
        ),
        pytest.param(
            "*/20 1 * * *",
            at("2026-11-01", NY),
            3,
            [
                "2026-11-01T01:00-05:00",
                "2026-11-01T01:20-05:00",
                "2026-11-01T01:40-05:00",
                "2026-11-02T01:00-05:00",
            ],
            id="ny-fall-fixed-hour-ticks-only-in-the-second-hour",
        ),
        pytest.param(
            "@hourly",
            at("2026-11-01", NY),
            4,
            [
                "2026-11-01T00:00-04:00",
                "2026-11-01T01:00-04:00",
                "2026-11-01T01:00-05:00",
                "2026-11-01T02:00-05:00",
                "2026-11-01T03:00-05:00",
            ],
            id="ny-fall-hourly-ticks-in-both-hours",
        ),
        pytest.param(
            "0 */1 * * *",
            at("2026-11-01T00:30", NY),
            2,
            ["2026-11-01T01:00-04:00", "2026-11-01T01:00-05:00", "2026-11-01T02:00-05:00"],
            id="ny-fall-star-slash-one-hour-field-is-every-hour",
        ),
        pytest.param(
            "30 * * * *",
            at("2026-11-01", NY),
            3,
            [
                "2026-11-01T00:30-04:00",
                "2026-11-01T01:30-04:00",
                "2026-11-01T01:30-05:00",
                "2026-11-01T02:30-05:00",
            ],
            id="ny-fall-every-hour-at-30",
        ),
        pytest.param(
            "@hourly",
            at("2026-03-29", AMS),
            3,
            [
                "2026-03-29T00:00+01:00",
                "2026-03-29T01:00+01:00",
                "2026-03-29T03:00+02:00",
                "2026-03-29T04:00+02:00",
            ],
            id="ams-spring-hourly-one-tick-for-the-lost-hour",
        ),
        pytest.param(
            "*/30 * * * *",
            at("2026-03-29T01:00", AMS),
            3,
            [
                "2026-03-29T01:00+01:00",
                "2026-03-29T01:30+01:00",
                "2026-03-29T03:00+02:00",
                "2026-03-29T03:30+02:00",
            ],
            id="ams-spring-gap-ticks-merge-with-real-ones",
        ),
        pytest.param(
            "@hourly",
            at("2026-10-25T01:00", AMS),
            4,
            [
                "2026-10-25T01:00+02:00",
                "2026-10-25T02:00+02:00",
                "2026-10-25T02:00+01:00",
                "2026-10-25T03:00+01:00",
                "2026-10-25T04:00+01:00",
            ],
            id="ams-fall-hourly-ticks-in-both-hours",
        ),
        pytest.param(
            "45 1 * * *",
            at("2026-04-04", LHI),
            2,
            ["2026-04-04T01:45+11:00", "2026-04-05T01:45+10:30", "2026-04-06T01:45+10:30"],
            id="lord-howe-half-hour-fall-second-occurrence",
        ),
        pytest.param(
            "15 2 * * *",
            at("2026-10-03", LHI),
            2,
            ["2026-10-03T02:15+10:30", "2026-10-04T02:45+11:00", "2026-10-05T02:15+11:00"],
            id="lord-howe-half-hour-gap-moves-forward-30-min",
        ),
        pytest.param(
            dt.timedelta(days=1),
            at("2026-03-28", AMS),
            2,
            ["2026-03-28T00:00+01:00", "2026-03-29T00:00+01:00", "2026-03-30T01:00+02:00"],
            id="ams-spring-timedelta-is-absolute-time",
        ),
        pytest.param(
            dt.timedelta(days=1),
            at("2026-10-31", NY),
            2,
            ["2026-10-31T00:00-04:00", "2026-11-01T00:00-04:00", "2026-11-01T23:00-05:00"],
            id="ny-fall-timedelta-is-absolute-time",
        ),
    ],
)
def test_dst(schedule, start, n, expected):
    assert bounds(make_timetable(schedule, start).next_intervals(n=n)) == expected


@pytest.mark.parametrize(
    ("schedule", "start", "when", "aligned"),
    [
        pytest.param("30 2 * * *", at("2026-03-01", AMS), "2026-03-29T03:30+02:00", True, id="gap-tick"),
        pytest.param("30 2 * * *", at("2026-03-01", AMS), "2026-03-29T03:00+02:00", False, id="croniter-gap-tick"),
        pytest.param("30 1 * * *", at("2026-10-01", NY), "2026-11-01T01:30-04:00", False, id="first-occurrence"),
        pytest.param("30 1 * * *", at("2026-10-01", NY), "2026-11-01T01:30-05:00", True, id="second-occurrence"),
        pytest.param("@hourly", at("2026-10-01", NY), "2026-11-01T01:00-04:00", True, id="hourly-first"),
        pytest.param("@hourly", at("2026-10-01", NY), "2026-11-01T01:00-05:00", True, id="hourly-second"),
        pytest.param("@daily", at("2026-01-01"), "2026-01-05T00:00+00:00", True, id="tick"),
        pytest.param("@daily", at("2026-01-01"), "2026-01-05T00:01+00:00", False, id="not-a-tick"),
        pytest.param("@daily", at("2026-01-01"), "2026-01-05T01:00+01:00", True, id="tick-other-zone"),
        pytest.param("@daily", at("2026-01-10"), "2026-01-05T00:00+00:00", False, id="before-start"),
        pytest.param(dt.timedelta(hours=5), at("2026-01-01"), "2026-01-01T10:00+00:00", True, id="delta-tick"),
        pytest.param(dt.timedelta(hours=5), at("2026-01-01"), "2026-01-01T12:00+00:00", False, id="delta-off"),
        pytest.param(dt.timedelta(hours=5), at("2026-01-01"), "2025-12-31T19:00+00:00", False, id="delta-before-start"),
        pytest.param("@once", at("2026-01-01T08:00"), "2026-01-01T08:00+00:00", True, id="once-start"),
        pytest.param("@once", at("2026-01-01T08:00"), "2026-01-01T09:00+00:00", False, id="once-other"),
        pytest.param(None, at("2026-01-01"), "2026-01-01T00:00+00:00", False, id="none"),
    ],
)  # fmt: skip
def test_is_aligned(schedule, start, when, aligned):
    assert make_timetable(schedule, start).is_aligned(at(when)) is aligned


def test_is_aligned_respects_end_date():
    tt = make_timetable("@daily", at("2026-01-01"), at("2026-01-03T12:00"))
    assert tt.is_aligned(at("2026-01-03"))
    assert not tt.is_aligned(at("2026-01-04"))


# --- interval_for (manual runs) ----------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "start", "logical_date", "expected"),
    [
        pytest.param(
            "@daily",
            at("2026-01-01"),
            "2026-01-05T10:00+00:00",
            "2026-01-05T00:00+00:00 2026-01-06T00:00+00:00",
            id="cron-unaligned-date-takes-the-tick-before",
        ),
        pytest.param(
            "@daily",
            at("2026-01-01"),
            "2026-01-05T00:00+00:00",
            "2026-01-05T00:00+00:00 2026-01-06T00:00+00:00",
            id="cron-aligned-date",
        ),
        pytest.param(
            "0 6 * * 1-5",
            at("2026-01-01"),
            "2026-01-10T12:00+00:00",  # a Saturday
            "2026-01-09T06:00+00:00 2026-01-12T06:00+00:00",
            id="cron-weekend-date-falls-in-fridays-interval",
        ),
        pytest.param(
            "@daily",
            at("2026-06-01"),
            "2026-01-05T10:00+00:00",
            "2026-01-05T00:00+00:00 2026-01-06T00:00+00:00",
            id="cron-before-start-date",
        ),
        pytest.param(
            "@yearly",
            at("2020-01-01"),
            "2026-07-01T00:00+00:00",
            "2026-01-01T00:00+00:00 2027-01-01T00:00+00:00",
            id="cron-sparse",
        ),
        pytest.param(
            "@hourly",
            at("2026-01-01", NY),
            "2026-11-01T01:30-04:00",
            "2026-11-01T01:00-04:00 2026-11-01T01:00-05:00",
            id="cron-dst-first-repeated-hour",
        ),
        pytest.param(
            "@hourly",
            at("2026-01-01", NY),
            "2026-11-01T01:30-05:00",
            "2026-11-01T01:00-05:00 2026-11-01T02:00-05:00",
            id="cron-dst-second-repeated-hour",
        ),
        pytest.param(
            "30 2 * * *",
            at("2026-01-01", AMS),
            "2026-03-29T03:00+02:00",
            "2026-03-28T02:30+01:00 2026-03-29T03:30+02:00",
            id="cron-dst-before-moved-gap-tick",
        ),
        pytest.param(
            dt.timedelta(hours=6),
            at("2026-01-01T03:00"),
            "2026-01-02T05:00+00:00",
            "2026-01-02T03:00+00:00 2026-01-02T09:00+00:00",
            id="timedelta-series-interval",
        ),
        pytest.param(
            dt.timedelta(hours=6),
            at("2026-01-01T03:00"),
            "2025-12-25T05:00+00:00",
            "2025-12-25T05:00+00:00 2025-12-25T11:00+00:00",
            id="timedelta-before-start-date",
        ),
        pytest.param(
            "@once",
            at("2026-01-01"),
            "2026-03-01T05:00+00:00",
            "2026-03-01T05:00+00:00 2026-03-01T05:00+00:00",
            id="once",
        ),
        pytest.param(
            None,
            at("2026-01-01", AMS),
            "2026-03-01T05:00+00:00",
            "2026-03-01T06:00+01:00 2026-03-01T06:00+01:00",
            id="none-in-dag-zone",
        ),
    ],
)
def test_interval_for(schedule, start, logical_date, expected):
    assert span(make_timetable(schedule, start).interval_for(at(logical_date))) == expected


def test_interval_for_without_start_date():
    tt = make_timetable(None, None, default_tz=KOL)
    assert span(tt.interval_for(dt.datetime(2026, 1, 1, 12))) == (
        "2026-01-01T12:00+05:30 2026-01-01T12:00+05:30"
    )


# --- what is due at `now` ----------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "start", "end", "now", "complete", "latest", "due"),
    [
        pytest.param(
            "@daily",
            at("2026-01-01"),
            None,
            "2026-01-03T12:00",
            ["2026-01-01T00:00+00:00", "2026-01-02T00:00+00:00", "2026-01-03T00:00+00:00"],
            "2026-01-02T00:00+00:00 2026-01-03T00:00+00:00",
            "2026-01-04T00:00+00:00",
            id="daily",
        ),
        pytest.param(
            "@daily",
            at("2026-01-01"),
            None,
            "2026-01-03T00:00",
            ["2026-01-01T00:00+00:00", "2026-01-02T00:00+00:00", "2026-01-03T00:00+00:00"],
            "2026-01-02T00:00+00:00 2026-01-03T00:00+00:00",
            "2026-01-04T00:00+00:00",
            id="now-exactly-at-an-end-is-complete",
        ),
        pytest.param(
            "@daily",
            at("2026-01-01T10:00"),
            None,
            "2026-01-02T12:00",
            [],
            None,
            "2026-01-03T00:00+00:00",
            id="unaligned-start-first-interval-not-complete",
        ),
        pytest.param(
            "@daily",
            at("2026-01-10"),
            None,
            "2026-01-01",
            [],
            None,
            "2026-01-11T00:00+00:00",
            id="now-before-start-date",
        ),
        pytest.param(
            "@daily",
            at("2026-01-01"),
            at("2026-01-02T12:00"),
            "2026-02-01",
            ["2026-01-01T00:00+00:00", "2026-01-02T00:00+00:00", "2026-01-03T00:00+00:00"],
            "2026-01-02T00:00+00:00 2026-01-03T00:00+00:00",
            None,
            id="end-date-passed",
        ),
        pytest.param(
            "@daily",
            at("2026-01-01"),
            at("2026-01-02T12:00"),
            "2026-01-02T18:00",
            ["2026-01-01T00:00+00:00", "2026-01-02T00:00+00:00"],
            "2026-01-01T00:00+00:00 2026-01-02T00:00+00:00",
            "2026-01-03T00:00+00:00",
            id="end-date-last-interval-still-running",
        ),
        pytest.param(
            "0 6 * * 1-5",
            at("2026-01-01"),
            None,
            "2026-01-10T12:00",  # Saturday: Friday's interval ends Monday
            [
                "2026-01-01T06:00+00:00",
                "2026-01-02T06:00+00:00",
                "2026-01-05T06:00+00:00",
                "2026-01-06T06:00+00:00",
                "2026-01-07T06:00+00:00",
                "2026-01-08T06:00+00:00",
                "2026-01-09T06:00+00:00",
            ],
            "2026-01-08T06:00+00:00 2026-01-09T06:00+00:00",
            "2026-01-12T06:00+00:00",
            id="weekdays",
        ),
        pytest.param(
            dt.timedelta(hours=6),
            at("2026-01-01T03:00"),
            None,
            "2026-01-01T16:00",
            ["2026-01-01T03:00+00:00", "2026-01-01T09:00+00:00", "2026-01-01T15:00+00:00"],
            "2026-01-01T09:00+00:00 2026-01-01T15:00+00:00",
            "2026-01-01T21:00+00:00",
            id="timedelta",
        ),
        pytest.param(
            "@once",
            at("2026-01-01T08:00"),
            None,
            "2026-01-01T07:00",
            [],
            None,
            "2026-01-01T08:00+00:00",
            id="once-not-yet",
        ),
        pytest.param(
            "@once",
            at("2026-01-01T08:00"),
            None,
            "2026-01-01T08:00",
            ["2026-01-01T08:00+00:00", "2026-01-01T08:00+00:00"],
            "2026-01-01T08:00+00:00 2026-01-01T08:00+00:00",
            None,
            id="once-due-at-its-date",
        ),
        pytest.param(None, at("2026-01-01"), None, "2026-06-01", [], None, None, id="none"),
        pytest.param(
            "@hourly",
            at("2026-11-01T00:30", NY),
            None,
            "2026-11-01T06:30+00:00",  # 01:30-05:00
            ["2026-11-01T01:00-04:00", "2026-11-01T01:00-05:00"],
            "2026-11-01T01:00-04:00 2026-11-01T01:00-05:00",
            "2026-11-01T02:00-05:00",
            id="ny-fall-hourly",
        ),
        pytest.param(
            "30 2 * * *",
            at("2026-03-28", AMS),
            None,
            "2026-03-29T03:15+02:00",
            [],
            None,
            "2026-03-29T03:30+02:00",
            id="ams-spring-gap-tick-is-due-at-03-30",
        ),
    ],
)
def test_due_at_now(schedule, start, end, now, complete, latest, due):
    tt = make_timetable(schedule, start, end)
    now = at(now)
    assert bounds(tt.complete_intervals(now)) == complete
    assert span(tt.latest_complete(now)) == latest
    next_due = tt.next_due(now)
    assert (None if next_due is None else iso(next_due)) == due


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        pytest.param(
            "2026-01-03",
            ["2026-01-04T00:00+00:00", "2026-01-05T00:00+00:00", "2026-01-06T00:00+00:00"],
            id="after-last-run",
        ),
        pytest.param(
            "2026-01-03T05:00",
            ["2026-01-04T00:00+00:00", "2026-01-05T00:00+00:00", "2026-01-06T00:00+00:00"],
            id="after-unaligned",
        ),
        pytest.param("2026-01-05", [], id="after-newest-complete"),
        pytest.param(
            "2025-06-01",
            [
                "2026-01-01T00:00+00:00",
                "2026-01-02T00:00+00:00",
                "2026-01-03T00:00+00:00",
                "2026-01-04T00:00+00:00",
                "2026-01-05T00:00+00:00",
                "2026-01-06T00:00+00:00",
            ],
            id="after-before-start",
        ),
    ],
)
def test_complete_intervals_after(after, expected):
    tt = make_timetable("@daily", at("2026-01-01"))
    assert bounds(tt.complete_intervals(at("2026-01-06T01:00"), after=at(after))) == expected


def test_complete_intervals_over_a_long_history():
    tt = make_timetable("@hourly", at("2025-01-01", AMS))
    done = tt.complete_intervals(at("2026-01-01", AMS))
    assert len(done) == 8760  # 2025 has 365 * 24 absolute hours, DST or not
    assert iso(done[0].start) == "2025-01-01T00:00+01:00"
    assert iso(done[-1].end) == "2026-01-01T00:00+01:00"
    assert span(tt.latest_complete(at("2026-01-01", AMS))) == span(done[-1])


def test_latest_complete_of_a_sparse_schedule_far_from_now():
    tt = make_timetable("0 0 29 2 *", at("2000-01-01"))
    assert span(tt.latest_complete(at("2026-06-01"))) == (
        "2020-02-29T00:00+00:00 2024-02-29T00:00+00:00"
    )
    assert iso(tt.next_due(at("2026-06-01"))) == "2028-02-29T00:00+00:00"


# --- intervals_between (backfill) --------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "start", "end", "first", "last", "expected"),
    [
        pytest.param(
            "@daily",
            at("2026-01-01"),
            None,
            "2026-01-01T05:00",
            "2026-01-04",
            [
                "2026-01-02T00:00+00:00",
                "2026-01-03T00:00+00:00",
                "2026-01-04T00:00+00:00",
                "2026-01-05T00:00+00:00",
            ],
            id="both-ends-inclusive",
        ),
        pytest.param(
            "@daily",
            at("2026-01-03"),
            at("2026-01-04"),
            "2025-12-25",
            "2026-01-31",
            ["2026-01-03T00:00+00:00", "2026-01-04T00:00+00:00", "2026-01-05T00:00+00:00"],
            id="clipped-to-start-and-end-date",
        ),
        pytest.param(
            dt.timedelta(hours=8),
            at("2026-01-01T01:00"),
            None,
            "2026-01-01T02:00",
            "2026-01-02T01:00",
            [
                "2026-01-01T09:00+00:00",
                "2026-01-01T17:00+00:00",
                "2026-01-02T01:00+00:00",
                "2026-01-02T09:00+00:00",
            ],
            id="timedelta",
        ),
        pytest.param(
            "@once",
            at("2026-01-02"),
            None,
            "2026-01-01",
            "2026-01-03",
            ["2026-01-02T00:00+00:00", "2026-01-02T00:00+00:00"],
            id="once-inside",
        ),
        pytest.param(
            "@once", at("2026-01-05"), None, "2026-01-01", "2026-01-03", [], id="once-outside"
        ),
        pytest.param(None, at("2026-01-01"), None, "2026-01-01", "2026-02-01", [], id="none"),
        pytest.param(
            "@daily", at("2026-01-01"), None, "2026-01-05", "2026-01-04", [], id="empty-range"
        ),
    ],
)
def test_intervals_between(schedule, start, end, first, last, expected):
    tt = make_timetable(schedule, start, end)
    assert bounds(tt.intervals_between(at(first), at(last))) == expected


# --- invalid input -----------------------------------------------------------


@pytest.mark.parametrize(
    "schedule",
    [
        pytest.param("bogus", id="garbage"),
        pytest.param("61 * * * *", id="out-of-range"),
        pytest.param("0 0 * *", id="four-fields"),
        pytest.param("0 0 * * * *", id="six-fields"),
        pytest.param("@fortnightly", id="unknown-preset"),
        pytest.param("0 0 30 2 *", id="never-fires"),
        pytest.param("R 6 * * *", id="random-field"),
        pytest.param(dt.timedelta(0), id="zero-timedelta"),
        pytest.param(dt.timedelta(hours=-1), id="negative-timedelta"),
        pytest.param(42, id="wrong-type"),
    ],
)
def test_invalid_schedule_raises_value_error_naming_it(schedule):
    with pytest.raises(ValueError, match="schedule") as info:
        make_timetable(schedule, at("2026-01-01"))
    message = str(info.value)
    assert repr(schedule) in message
    assert "\n" not in message


def test_schedule_needs_a_start_date():
    with pytest.raises(ValueError, match="'@daily' needs a start_date"):
        make_timetable("@daily", None)


def test_unknown_default_zone():
    with pytest.raises(ValueError, match="Mars/Olympus"):
        make_timetable("@daily", dt.datetime(2026, 1, 1), default_tz="Mars/Olympus")


# --- properties --------------------------------------------------------------

ZONES = ["UTC", AMS, NY, KOL, LHI, "America/Santiago", "Asia/Kathmandu", "Pacific/Chatham"]


def _transitions(zone: str) -> list[dt.datetime]:
    """The instants in 2025-2027 at which ``zone``'s offset changes."""
    tz, found = ZoneInfo(zone), []
    t = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    previous = t.astimezone(tz).utcoffset()
    while t.year < 2028:
        t += dt.timedelta(minutes=30)
        offset = t.astimezone(tz).utcoffset()
        if offset != previous:
            found.append(t)
        previous = offset
    return found


TRANSITIONS = [(zone, t) for zone in ZONES for t in _transitions(zone)]

CRON_FIELDS = [
    ["0", "30", "*/15", "*/20", "5,35", "10-12", "45"],  # minute
    ["*", "*", "*/2", "0", "1", "2", "3", "0,12", "1-3", "23", "*/6"],  # hour
    ["*", "*", "*", "1", "15", "1-7", "28", "31"],  # day of month
    ["*", "*", "*", "*/3", "1,4,7,10", "3", "10,11"],  # month
    ["*", "*", "*", "1-5", "0", "6", "0,6"],  # day of week
]
crons = st.tuples(*(st.sampled_from(f) for f in CRON_FIELDS)).map(" ".join)
presets = st.sampled_from(["@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly"])
deltas = st.sampled_from(
    [dt.timedelta(minutes=45), dt.timedelta(hours=1), dt.timedelta(hours=7), dt.timedelta(days=1)]
)


@st.composite
def starts(draw) -> pendulum.DateTime:
    """A start date in some zone, often within a few days before a DST change."""
    if draw(st.booleans()):
        zone, instant = draw(st.sampled_from(TRANSITIONS))
        instant += dt.timedelta(minutes=draw(st.integers(-3 * 24 * 60, 12 * 60)))
    else:
        zone = draw(st.sampled_from(ZONES))
        instant = dt.datetime(2025, 1, 1, tzinfo=dt.UTC) + dt.timedelta(
            minutes=draw(st.integers(0, 3 * 365 * 24 * 60))
        )
    return pendulum.instance(instant).in_timezone(zone)


@st.composite
def end_dates(draw, start: pendulum.DateTime) -> pendulum.DateTime | None:
    if draw(st.booleans()):
        return None
    return start.add(minutes=draw(st.integers(0, 60 * 24 * 40)))


def oracle_intervals(expr: str, start: pendulum.DateTime, until: dt.datetime, end_date):
    """The contract's cron rules applied literally, minute by wall-clock minute.

    Walks every calendar day, picks the wall times the cron fields name, and
    finds the instants that show each wall time by round-tripping candidate
    offsets; no fold, no heap, no croniter iteration.
    """
    tz = ZoneInfo(start.timezone_name)
    minutes, hours, doms, months, dows = croniter(expr, dt.datetime(2000, 1, 1)).expanded
    every_hour = hours == ["*"]
    hours = range(24) if every_hour else hours
    minutes = range(60) if minutes == ["*"] else minutes

    def day_matches(day: dt.date) -> bool:
        if months != ["*"] and day.month not in months:
            return False
        dom_ok = doms == ["*"] or day.day in doms
        dow_ok = dows == ["*"] or day.isoweekday() % 7 in dows
        if doms != ["*"] and dows != ["*"]:
            return dom_ok or dow_ok
        return dom_ok and dow_ok

    ticks = set()
    day = start.astimezone(tz).date() - dt.timedelta(days=2)
    last_day = until.astimezone(tz).date() + dt.timedelta(days=2)
    while day <= last_day:
        if day_matches(day):
            for hour in hours:
                for minute in minutes:
                    wall = dt.datetime(day.year, day.month, day.day, hour, minute)
                    near = wall.replace(tzinfo=dt.UTC)
                    offsets = {
                        (near + d).astimezone(tz).utcoffset()
                        for d in (-dt.timedelta(days=1), dt.timedelta(0), dt.timedelta(days=1))
                    }
                    shown = sorted(
                        near - o
                        for o in offsets
                        if (near - o).astimezone(tz).replace(tzinfo=None) == wall
                    )
                    if not shown:  # in a gap: read with the earlier (smaller) offset
                        ticks.add(near - min(offsets))
                    else:
                        ticks.update(shown if every_hour else shown[-1:])
        day += dt.timedelta(days=1)
    ordered = [t for t in sorted(ticks) if t >= start]
    return [
        (s, e)
        for s, e in zip(ordered, ordered[1:], strict=False)
        if e <= until and (end_date is None or s <= end_date)
    ]


PROPERTY_SETTINGS = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def pairs(intervals: list[DataInterval]) -> list[tuple[pendulum.DateTime, pendulum.DateTime]]:
    return [(utc(iv.start), utc(iv.end)) for iv in intervals]


@PROPERTY_SETTINGS
@given(expr=crons, start=starts(), data=st.data())
def test_cron_intervals_match_the_wall_clock_oracle(expr, start, data):
    end = data.draw(end_dates(start))
    got = pairs(make_timetable(expr, start, end).next_intervals(n=12))
    until = got[-1][1] if got else end.add(days=2)
    assert got == oracle_intervals(expr, start, until, end)


@PROPERTY_SETTINGS
@given(schedule=st.one_of(crons, presets, deltas), start=starts(), data=st.data())
def test_intervals_are_contiguous_ordered_aligned_and_bounded(schedule, start, data):
    end = data.draw(end_dates(start))
    tt = make_timetable(schedule, start, end)
    intervals = tt.next_intervals(n=30)
    got = pairs(intervals)
    assert len(got) == 30 or end is not None
    assert not got or got[0][0] >= utc(start)
    for (_, a_end), (b_start, _) in zip(got, got[1:], strict=False):
        assert a_end == b_start
    for (s, e), interval in zip(got, intervals, strict=True):
        assert s < e
        assert end is None or s <= utc(end)
        assert tt.is_aligned(interval.start)
        assert interval.start.timezone_name == start.timezone_name
        if isinstance(schedule, dt.timedelta):
            assert e - s == schedule


@PROPERTY_SETTINGS
@given(schedule=st.one_of(crons, presets, deltas), start=starts(), data=st.data())
def test_queries_agree_with_the_interval_list(schedule, start, data):
    end = data.draw(end_dates(start))
    tt = make_timetable(schedule, start, end)
    intervals = tt.next_intervals(n=13)
    got = pairs(intervals)
    horizon = got[:12][-1][1] if got else utc(start).add(days=3)  # got[12] is never complete
    minutes = int((horizon - utc(start)).total_minutes())
    now = utc(start).add(minutes=data.draw(st.integers(-600, minutes)))

    complete = [iv for iv in got if iv[1] <= now]
    assert pairs(tt.complete_intervals(now)) == complete
    latest = tt.latest_complete(now)
    assert (pairs([latest]) if latest else []) == complete[-1:]
    pending = [e for _, e in got if e > now]
    due = tt.next_due(now)
    assert (utc(due) if due else None) == (pending[0] if pending else None)
    if not got:
        return

    i = data.draw(st.integers(0, len(got) - 1))
    j = data.draw(st.integers(i, len(got) - 1))
    first = intervals[i].start
    assert pairs(tt.next_intervals(after=first, n=len(got) - i)) == got[i:]
    assert pairs(tt.complete_intervals(now, after=first)) == [
        iv for iv in complete if iv[0] > got[i][0]
    ]
    assert pairs(tt.intervals_between(first, intervals[j].start)) == got[i : j + 1]
    assert pairs([tt.interval_for(first)]) == [got[i]]
    assert pairs([tt.interval_for(first.add(seconds=1))]) == [got[i]]
