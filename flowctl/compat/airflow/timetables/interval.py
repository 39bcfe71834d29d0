"""airflow.timetables.interval: data-interval timetables (flowctl's own model)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.timetables._schedule import ScheduleTimetable, cron_or_delta


class CronDataIntervalTimetable(ScheduleTimetable):
    def __init__(self, cron: str, timezone: Any = None) -> None:
        self.flowctl_schedule = cron_or_delta(cron)


class DeltaDataIntervalTimetable(ScheduleTimetable):
    def __init__(self, delta: timedelta) -> None:
        self.flowctl_schedule = cron_or_delta(delta)

__all__ = ['CronDataIntervalTimetable', 'DeltaDataIntervalTimetable']
