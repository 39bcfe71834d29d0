"""Timetable objects carry the flowctl schedule they stand for."""

from __future__ import annotations

from datetime import timedelta
from typing import Any


class ScheduleTimetable:
    """A built-in timetable: `flowctl_schedule` is the cron string, timedelta or None it means."""

    flowctl_schedule: Any = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.flowctl_schedule!r})"


def cron_or_delta(value: Any) -> Any:
    if isinstance(value, str | timedelta):
        return value
    raise TypeError(f"a timetable needs a cron string or a timedelta, not {value!r}")
