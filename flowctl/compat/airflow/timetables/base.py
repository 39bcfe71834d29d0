"""airflow.timetables.base"""

from __future__ import annotations

from typing import Any, NamedTuple

from airflow.timetables._schedule import ScheduleTimetable as Timetable  # noqa: F401


class DataInterval(NamedTuple):
    start: Any
    end: Any


class TimeRestriction(NamedTuple):
    earliest: Any
    latest: Any
    catchup: bool


class DagRunInfo(NamedTuple):
    run_after: Any
    data_interval: Any

__all__ = ['Timetable', 'DataInterval', 'TimeRestriction', 'DagRunInfo']
