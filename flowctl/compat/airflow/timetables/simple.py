"""airflow.timetables.simple"""

from __future__ import annotations

from airflow.timetables._schedule import ScheduleTimetable


class NullTimetable(ScheduleTimetable):
    flowctl_schedule = None


class OnceTimetable(ScheduleTimetable):
    flowctl_schedule = "@once"

__all__ = ['NullTimetable', 'OnceTimetable']
