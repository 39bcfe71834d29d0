"""airflow.timetables.trigger: trigger timetables, run as flowctl's data intervals of the same cron."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.timetables._schedule import ScheduleTimetable, cron_or_delta


class CronTriggerTimetable(ScheduleTimetable):
    def __init__(self, cron: str, *, timezone: Any = None, interval: Any = timedelta(), run_immediately: Any = False) -> None:
        self.flowctl_schedule = cron_or_delta(cron)


class DeltaTriggerTimetable(ScheduleTimetable):
    def __init__(self, delta: timedelta, *, interval: Any = timedelta()) -> None:
        self.flowctl_schedule = cron_or_delta(delta)


class MultipleCronTriggerTimetable(ScheduleTimetable):
    def __init__(self, *crons: str, timezone: Any = None, interval: Any = timedelta(), run_immediately: Any = False) -> None:
        if len(crons) != 1:
            raise TypeError("flowctl runs one cron per DAG: give MultipleCronTriggerTimetable one cron")
        self.flowctl_schedule = cron_or_delta(crons[0])

__all__ = ['CronTriggerTimetable', 'DeltaTriggerTimetable', 'MultipleCronTriggerTimetable']
