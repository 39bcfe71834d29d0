"""Timetables: when a DAG's scheduled runs fall (contract section 3).

A schedule (cron string, preset, ``timedelta``, ``"@once"`` or ``None``) plus a
``start_date`` becomes a `Timetable`, which answers every question the
scheduler, backfill and the CLI ask about time: which data intervals exist,
which are complete at ``now``, when the next one falls due. Everything here is
pure: no I/O and no clock reads; ``now`` is always passed in.

The model is Airflow 2's: a run covers the data interval ``[start, end)``, its
logical date is ``start``, and it is due once ``end <= now``.

Cron schedules tick in the wall clock of ``start_date``'s zone. The DST rules
(worked example, ``start_date`` in the zone named)::

    "30 2 * * *"  Europe/Amsterdam, spring 2026-03-29 (02:00 -> 03:00):
        03-28 02:30+01:00, 03-29 03:30+02:00, 03-30 02:30+02:00
        (02:30 does not exist; the tick moves forward by the gap)
    "30 1 * * *"  America/New_York, fall 2026-11-01 (02:00 -> 01:00):
        10-31 01:30-04:00, 11-01 01:30-05:00, 11-02 01:30-05:00
        (01:30 happens twice; the tick is at the second, standard-time one)
    "0 * * * *"   America/New_York, same night: the hour field is "*"
        (or "*/1", "0-23"), so both 01:00s tick and every absolute hour
        is covered once: 00:00-04:00, 01:00-04:00, 01:00-05:00, 02:00-05:00
    "0 * * * *"   Europe/Amsterdam, spring: 01:00+01:00, 03:00+02:00 (02:00
        moves forward onto 03:00, and one tick is kept)
    "0 0 * * *"   stays at local midnight on both sides of every change.

croniter gets these wrong on aware datetimes (a gap tick lands on the whole
hour, 03:00, not 03:30; a repeated wall time ticks twice whatever the hour
field), so croniter only ever sees naive wall-clock times here, and
`_CronTimetable` maps each wall tick to absolute time itself.

``timedelta`` schedules step in absolute time instead: ``timedelta(days=1)``
from Amsterdam midnight lands on 01:00 local after the spring change.

Results are pendulum DateTimes in the schedule's zone. Compare them by
instant (``.in_timezone("UTC")``, ``.timestamp()``) around a fall-back:
Python compares two datetimes that share a tzinfo by wall clock and ignores
``fold``, so New York's 01:00-04:00 and 01:00-05:00 compare equal. Arguments
are read by instant, so any aware datetime works; a naive one is read in the
schedule's zone.
"""

from __future__ import annotations

import datetime as dt
import functools
import heapq
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

import pendulum
from pendulum import DateTime

__all__ = ["PRESETS", "DataInterval", "Timetable", "make_timetable"]

#: Presets that are cron strings under another name (``@once`` is separate).
PRESETS: dict[str, str] = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
}

_UTC = dt.UTC


@functools.cache
def croniter_module() -> Any:
    """croniter, imported when a cron schedule first needs it (a run of a DAG
    without one never does). Its import asks `platform.architecture()`, which
    runs the `file` program (7 ms, in every process that imports it); the
    answer it wants is the interpreter's own word size, given here instead."""
    import platform
    import struct

    asked = platform.architecture
    platform.architecture = lambda *a, **k: (f"{struct.calcsize('P') * 8}bit", "")  # type: ignore[assignment]
    try:
        import croniter
    finally:
        platform.architecture = asked  # type: ignore[method-assign]
    return croniter


_MINUTE = dt.timedelta(minutes=1)
_DAY = dt.timedelta(days=1)
#: How far back `_last_tick` searches before it gives up (croniter itself
#: gives up on a cron that has no tick within 50 years).
_MAX_LOOKBACK = dt.timedelta(days=366 * 60)
_OFFSET_NAME = re.compile(r"^([+-])(\d{2}):?(\d{2})$")

Instant = dt.datetime  # an aware stdlib datetime in UTC; the internal currency


@dataclass(frozen=True)
class DataInterval:
    """The span of data one run covers: ``[start, end)``; start is the logical date."""

    start: DateTime
    end: DateTime


class Timetable(ABC):
    """The intervals of one schedule, and the scheduler's questions about them.

    Arguments are aware datetimes (stdlib or pendulum; a naive one is read in
    `timezone`); results are aware pendulum DateTimes in `timezone`.
    """

    def __init__(self, tz: dt.tzinfo, start: Instant | None, end: Instant | None) -> None:
        self._tz = tz
        self._start = start
        self._end = end

    @property
    def timezone(self) -> str:
        """The zone the schedule is evaluated in, as a name (``Europe/Amsterdam``, ``+02:00``)."""
        return _zone_name(self._tz)

    @property
    def start_date(self) -> DateTime | None:
        return None if self._start is None else self._out(self._start)

    @property
    def end_date(self) -> DateTime | None:
        return None if self._end is None else self._out(self._end)

    @abstractmethod
    def next_intervals(self, after: dt.datetime | None = None, n: int = 5) -> list[DataInterval]:
        """The first ``n`` intervals starting at or after ``after`` (default: start_date)."""

    @abstractmethod
    def intervals_between(self, first: dt.datetime, last: dt.datetime) -> list[DataInterval]:
        """Every interval whose start lies in ``[first, last]``: what a backfill runs."""

    @abstractmethod
    def complete_intervals(
        self, now: dt.datetime, after: dt.datetime | None = None
    ) -> list[DataInterval]:
        """Every interval with ``end <= now`` starting strictly after ``after``.

        ``after`` is the newest existing run's logical date; this is catch-up.
        """

    def iter_intervals_between(self, first: dt.datetime, last: dt.datetime) -> Iterator[DataInterval]:
        """`intervals_between`, one at a time: a range too long to plan is seen
        as such without making all of it."""
        return iter(self.intervals_between(first, last))

    def iter_complete_intervals(self, now: dt.datetime, after: dt.datetime | None = None) -> Iterator[DataInterval]:
        """`complete_intervals`, one at a time: catching up years of an hourly
        schedule takes the first few without making all of them."""
        return iter(self.complete_intervals(now, after))

    @abstractmethod
    def latest_complete(self, now: dt.datetime) -> DataInterval | None:
        """The newest interval with ``end <= now``: the one run ``catchup=False`` creates."""

    @abstractmethod
    def next_due(self, now: dt.datetime) -> DateTime | None:
        """When the scheduler must wake: the earliest interval end after ``now``.

        None when no interval will ever fall due again.
        """

    @abstractmethod
    def interval_for(self, logical_date: dt.datetime) -> DataInterval:
        """The interval a manual run at ``logical_date`` covers."""

    @abstractmethod
    def is_aligned(self, when: dt.datetime) -> bool:
        """Whether ``when`` is the start of one of this timetable's intervals."""

    # -- conversions ---------------------------------------------------------

    def _in(self, when: dt.datetime) -> Instant:
        return _to_instant(when, self._tz)

    def _out(self, instant: Instant) -> DateTime:
        return pendulum.instance(instant.astimezone(self._tz))

    def _interval(self, start: Instant, end: Instant) -> DataInterval:
        return DataInterval(self._out(start), self._out(end))


class _NullTimetable(Timetable):
    """``schedule=None``: no scheduled intervals; manual runs only."""

    def next_intervals(self, after=None, n=5):
        return []

    def intervals_between(self, first, last):
        return []

    def complete_intervals(self, now, after=None):
        return []

    def latest_complete(self, now):
        return None

    def next_due(self, now):
        return None

    def interval_for(self, logical_date):
        when = self._in(logical_date)
        return self._interval(when, when)

    def is_aligned(self, when):
        return False

    def __repr__(self) -> str:
        return f"<Timetable None tz={self.timezone}>"


class _OnceTimetable(_NullTimetable):
    """``@once``: the single interval ``[start_date, start_date]``."""

    def _only(self) -> list[Instant]:
        if self._end is not None and self._start > self._end:
            return []
        return [self._start]

    def next_intervals(self, after=None, n=5):
        after = self._start if after is None else self._in(after)
        return [self._interval(s, s) for s in self._only() if s >= after][:n]

    def intervals_between(self, first, last):
        first, last = self._in(first), self._in(last)
        return [self._interval(s, s) for s in self._only() if first <= s <= last]

    def complete_intervals(self, now, after=None):
        now = self._in(now)
        after = None if after is None else self._in(after)
        return [
            self._interval(s, s) for s in self._only() if s <= now and (after is None or s > after)
        ]

    def latest_complete(self, now):
        done = self.complete_intervals(now)
        return done[-1] if done else None

    def next_due(self, now):
        now = self._in(now)
        return next((self._out(s) for s in self._only() if s > now), None)

    def is_aligned(self, when):
        return self._in(when) in self._only()

    def __repr__(self) -> str:
        return f"<Timetable @once start={self._out(self._start).isoformat()}>"


class _PeriodicTimetable(Timetable):
    """Shared logic for schedules that tick forever: cron and timedelta.

    Intervals run from one tick to the next, starting at the first tick at
    or after start_date and never starting after end_date. Subclasses only
    say where the ticks are (`_ticks`, `_last_tick`); all instants are UTC.
    """

    def __init__(self, tz: dt.tzinfo, start: Instant, end: Instant | None) -> None:
        super().__init__(tz, start, end)
        self._first = next(self._ticks(start), None)

    @abstractmethod
    def _ticks(self, t: Instant) -> Iterator[Instant]:
        """Every tick at or after ``t``, ascending, ignoring start/end dates."""

    @abstractmethod
    def _last_tick(self, t: Instant, inclusive: bool = True) -> Instant | None:
        """The newest tick at (if inclusive) or before ``t``."""

    def _intervals(self, t: Instant) -> Iterator[tuple[Instant, Instant]]:
        """The intervals starting at or after ``t``, in order."""
        if self._first is None:
            return
        ticks = self._ticks(max(t, self._first))
        start = next(ticks, None)
        for end in ticks:
            if self._end is not None and start > self._end:
                return
            yield start, end
            start = end

    def next_intervals(self, after=None, n=5):
        t = self._start if after is None else self._in(after)
        return [self._interval(s, e) for s, e in islice(self._intervals(t), n)]

    def intervals_between(self, first, last):
        return list(self.iter_intervals_between(first, last))

    def iter_intervals_between(self, first, last):
        last = self._in(last)
        for s, e in self._intervals(self._in(first)):
            if s > last:
                return
            yield self._interval(s, e)

    def complete_intervals(self, now, after=None):
        return list(self.iter_complete_intervals(now, after))

    def iter_complete_intervals(self, now, after=None):
        now = self._in(now)
        after = None if after is None else self._in(after)
        for s, e in self._intervals(self._start if after is None else after):
            if e > now:
                return
            if after is None or s > after:
                yield self._interval(s, e)

    def latest_complete(self, now):
        if self._first is None:
            return None
        end = self._last_tick(self._in(now))
        start = None if end is None else self._last_tick(end, inclusive=False)
        if start is not None and self._end is not None and start > self._end:
            # The schedule ended before now: its last interval is complete too.
            start = self._last_tick(self._end)
            end = next(self._ticks(start + dt.timedelta(microseconds=1)), None)
        if start is None or end is None or start < self._first:
            return None
        return self._interval(start, end)

    def next_due(self, now):
        if self._first is None:
            return None
        now = self._in(now)
        from_ = self._first if now < self._first else self._last_tick(now) or self._first
        for _, end in self._intervals(from_):
            if end > now:
                return self._out(end)
        return None

    def is_aligned(self, when):
        when = self._in(when)
        if self._first is None or when < self._first:
            return False
        if self._end is not None and when > self._end:
            return False
        return next(self._ticks(when), None) == when


class _DeltaTimetable(_PeriodicTimetable):
    """A ``timedelta`` schedule: ticks at ``start_date + k * delta`` in absolute time."""

    def __init__(self, delta: dt.timedelta, tz, start, end) -> None:
        self._delta = delta
        super().__init__(tz, start, end)

    def _ticks(self, t):
        k = -((self._start - t) // self._delta)  # ceil((t - start) / delta)
        tick = self._start + k * self._delta
        while True:
            yield tick
            tick += self._delta

    def _last_tick(self, t, inclusive=True):
        tick = self._start + ((t - self._start) // self._delta) * self._delta
        return tick if inclusive or tick < t else tick - self._delta

    def interval_for(self, logical_date):
        when = self._in(logical_date)
        start = when if when < self._start else self._last_tick(when)
        return self._interval(start, start + self._delta)

    def __repr__(self) -> str:
        return f"<Timetable {self._delta!r} start={self._out(self._start).isoformat()}>"


class _CronTimetable(_PeriodicTimetable):
    """A cron schedule, ticking in the wall clock of its zone.

    croniter walks naive wall-clock times (plain calendar arithmetic, no DST);
    `_wall_instants` turns each wall tick into absolute time with the DST
    rules of the module docstring. Mapped ticks are not quite in wall order
    (a gap tick moved forward can land after the next real tick, and can
    coincide with one), so `_ticks` sorts them through a small heap and drops
    repeats.
    """

    def __init__(self, expr: str, tz, start, end) -> None:
        self._expr = expr
        # "*", "*/1" and "0-23" all expand to ["*"]: every hour ticks.
        self._every_hour = croniter_module().croniter(expr, dt.datetime(2000, 1, 1)).expanded[1] == ["*"]
        super().__init__(tz, start, end)

    def _wall_instants(self, wall: dt.datetime) -> tuple[tuple[Instant, ...], Instant]:
        """The absolute ticks of one naive wall tick, and a lower bound for later ones.

        By PEP 495, ``fold=0`` reads a wall time with the offset in force
        before a change and ``fold=1`` with the one after. In a gap the
        offset grows, and the earlier offset moves the tick forward by the
        gap; in a fall-back the offset shrinks, and the second occurrence
        is ``fold=1``. No later wall tick maps before ``wall - larger
        offset``, which is what lets `_ticks` release its heap.
        """
        as_utc = wall.replace(tzinfo=_UTC)
        before = wall.replace(tzinfo=self._tz, fold=0).utcoffset()
        after = wall.replace(tzinfo=self._tz, fold=1).utcoffset()
        bound = as_utc - max(before, after)
        if before == after:  # an ordinary wall time
            return (as_utc - before,), bound
        if before < after:  # a gap: move forward by the gap
            return (as_utc - before,), bound
        if self._every_hour:  # repeated, and every hour ticks: both occurrences
            return (as_utc - before, as_utc - after), bound
        return (as_utc - after,), bound  # repeated: the second occurrence only

    def _ticks(self, t):
        # Wall ticks before t's wall time (read with the smallest offset
        # nearby) all map before t; start croniter just before that.
        offset = min(_offset(self._tz, _shifted(t, d)) for d in (-_DAY, dt.timedelta(0), _DAY))
        wall = _shifted(_shifted(t, offset).replace(tzinfo=None, second=0, microsecond=0), -_MINUTE)
        cron = croniter_module()
        walls = cron.croniter(self._expr, wall)
        heap: list[Instant] = []
        last: Instant | None = None
        while True:
            try:
                wall = walls.get_next(dt.datetime)
            except (cron.CroniterBadDateError, OverflowError):
                bound = None  # croniter found no further tick: flush and stop
            else:
                instants, bound = self._wall_instants(wall)
            while heap and (bound is None or heap[0] <= bound):
                tick = heapq.heappop(heap)
                if tick >= t and (last is None or tick > last):
                    last = tick
                    yield tick
            if bound is None:
                return
            for tick in instants:
                heapq.heappush(heap, tick)

    def _last_tick(self, t, inclusive=True):
        # Search forward from ever earlier points: cheap for dense crons
        # (the first hour answers) and bounded for sparse ones.
        span = dt.timedelta(hours=1)
        while span <= _MAX_LOOKBACK:
            best = None
            try:
                for tick in self._ticks(t - span):
                    if tick > t or (tick == t and not inclusive):
                        break
                    best = tick
            except OverflowError:
                return None
            if best is not None:
                return best
            span *= 4
        return None

    def interval_for(self, logical_date):
        when = self._in(logical_date)
        start = self._last_tick(when)
        if start is None:
            start = when
        end = next(self._ticks(start + dt.timedelta(microseconds=1)), start)
        return self._interval(start, end)

    def __repr__(self) -> str:
        start = self._out(self._start).isoformat()
        return f"<Timetable {self._expr!r} tz={self.timezone} start={start}>"


def make_timetable(
    schedule: str | dt.timedelta | None,
    start_date: dt.datetime | None,
    end_date: dt.datetime | None = None,
    default_tz: str = "UTC",
) -> Timetable:
    """Build the timetable of a DAG's ``schedule``.

    The schedule is evaluated in ``start_date``'s zone; naive dates are read
    in ``default_tz`` (an IANA name or an offset like ``+02:00``). Raises
    ValueError, naming the schedule, for anything that cannot be scheduled.
    """
    fallback = _zone(default_tz)
    if start_date is None:
        if schedule is not None:
            raise ValueError(f"schedule {schedule!r} needs a start_date")
        return _NullTimetable(fallback, None, None)
    start_dt = _aware(start_date, fallback)
    tz = start_dt.tzinfo
    start = _to_instant(start_dt, tz)
    end = None if end_date is None else _to_instant(end_date, fallback)

    if schedule is None:
        return _NullTimetable(tz, start, end)
    if isinstance(schedule, dt.timedelta):
        if schedule <= dt.timedelta(0):
            raise ValueError(f"invalid schedule {schedule!r}: a timedelta must be positive")
        return _DeltaTimetable(schedule, tz, start, end)
    if not isinstance(schedule, str):
        raise ValueError(
            f"invalid schedule {schedule!r}: expected a cron string, a preset, a timedelta or None"
        )
    expr = schedule.strip()
    if expr.startswith("@"):
        expr = expr.lower()  # croniter, which Airflow hands the string to, reads "@Daily" as "@daily"
    if expr == "@once":
        return _OnceTimetable(tz, start, end)
    if expr.startswith("@"):
        if expr not in PRESETS:
            known = ", ".join(["@once", *PRESETS])
            raise ValueError(f"invalid schedule {schedule!r}: unknown preset (known: {known})")
        expr = PRESETS[expr]
    _check_cron(schedule, expr)
    return _CronTimetable(expr, tz, start, end)


def _check_cron(schedule: str, expr: str) -> None:
    """Refuse what croniter would take but a 5-field cron is not, and crons that never fire."""
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(
            f"invalid schedule {schedule!r}: a cron string has 5 fields "
            "(minute hour day-of-month month day-of-week)"
        )
    if any(token.upper() == "R" for field in fields for token in re.split(r"[,/-]", field)):
        # croniter's "R" picks a new random value on every parse.
        raise ValueError(f"invalid schedule {schedule!r}: random 'R' fields are not supported")
    cron = croniter_module()
    try:
        cron.croniter(expr, dt.datetime(2000, 1, 1)).get_next(dt.datetime)
    except cron.CroniterBadDateError:
        raise ValueError(f"invalid schedule {schedule!r}: it never fires") from None
    except (cron.CroniterError, ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"invalid schedule {schedule!r}: {exc}") from None


def _zone(name: str | dt.tzinfo) -> dt.tzinfo:
    """A pendulum zone from an IANA name or a ``+HH:MM`` offset."""
    if isinstance(name, dt.tzinfo):
        return name
    match = _OFFSET_NAME.match(name.strip())
    if match:
        sign, hours, minutes = match.groups()
        seconds = (int(hours) * 3600 + int(minutes) * 60) * (-1 if sign == "-" else 1)
        return pendulum.FixedTimezone(seconds)
    try:
        return pendulum.timezone(name.strip())
    except ValueError:
        raise ValueError(f"unknown time zone {name!r}") from None


def _zone_name(tz: dt.tzinfo) -> str:
    return str(getattr(tz, "name", None) or getattr(tz, "key", None) or tz)


def _aware(when: dt.datetime, tz: dt.tzinfo) -> DateTime:
    """A pendulum DateTime; a naive one is read in ``tz``.

    Naive wall times follow the cron rule: one in a DST gap moves forward,
    a repeated one is its second occurrence (pendulum's default ``fold=1``;
    ``pendulum.instance`` would read a gap time backward instead).
    """
    if when.tzinfo is None:
        return pendulum.datetime(
            when.year,
            when.month,
            when.day,
            when.hour,
            when.minute,
            when.second,
            when.microsecond,
            tz=tz,
        )
    return pendulum.instance(when)


def _to_instant(when: dt.datetime, tz: dt.tzinfo) -> Instant:
    """A plain UTC datetime: cheap to compare and exact to add to."""
    if not isinstance(when, dt.datetime):
        raise TypeError(f"expected a datetime, got {when!r}")
    utc = _aware(when, tz).astimezone(_UTC)
    return dt.datetime.combine(utc.date(), utc.time(), _UTC)


def _shifted(t: dt.datetime, by: dt.timedelta) -> dt.datetime:
    """`t + by`, or `t` where that leaves the calendar (a start_date of datetime.min)."""
    try:
        return t + by
    except OverflowError:
        return t


def _offset(tz: dt.tzinfo, instant: Instant) -> dt.timedelta:
    try:
        return instant.astimezone(tz).utcoffset()
    except OverflowError:
        return dt.timedelta(0)
