"""Operators and sensors that decide by the clock or the calendar, as Airflow's
standard provider: `TimeSensor`, `DateTimeSensor`, `DayOfWeekSensor`,
`BranchDateTimeOperator`, `BranchDayOfWeekOperator`, `LatestOnlyOperator`.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from typing import Any

from flowctl.authoring.operators import BaseBranchOperator
from flowctl.authoring.sensors import BaseSensorOperator
from flowctl.errors import DagDefinitionError


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class WeekDay(enum.IntEnum):
    """Python's ISO weekday numbers (Airflow's `airflow.utils.weekday.WeekDay`)."""

    MONDAY = 1
    TUESDAY = 2
    WEDNESDAY = 3
    THURSDAY = 4
    FRIDAY = 5
    SATURDAY = 6
    SUNDAY = 7

    @classmethod
    def get_weekday_number(cls, week_day_str: str) -> WeekDay:
        name = week_day_str.upper()
        if name not in cls.__members__:
            raise AttributeError(f'Invalid Week Day passed: "{week_day_str}"')
        return cls[name]

    @classmethod
    def convert(cls, day: str | WeekDay) -> WeekDay:
        return day if isinstance(day, WeekDay) else cls.get_weekday_number(day)

    @classmethod
    def validate_week_day(cls, week_day: str | WeekDay | Iterable[str | WeekDay]) -> set[WeekDay]:
        if isinstance(week_day, str | WeekDay):
            return {cls.convert(week_day)}
        if isinstance(week_day, Iterable):
            days = list(week_day)
            if all(isinstance(d, str | WeekDay) for d in days):
                return {cls.convert(d) for d in days}
        raise TypeError(f"Unsupported Type for week_day parameter: {type(week_day)}")


def _dag_zone(task: Any) -> Any:
    return task.dag.timezone


class TimeSensor(BaseSensorOperator):
    """Done once the time of day `target_time` (in the DAG's zone) has passed,
    on the day the task is created (Airflow's standard provider)."""

    def __init__(self, task_id: str, target_time: dt.time, **kwargs: Any) -> None:
        if not isinstance(target_time, dt.time):
            raise DagDefinitionError(f"task {task_id!r}: target_time must be a datetime.time")
        self.target_time = target_time
        super().__init__(task_id=task_id, **kwargs)
        tz = target_time.tzinfo or _dag_zone(self)
        today = dt.datetime.now(tz).date()
        self.target_datetime = dt.datetime.combine(today, target_time.replace(tzinfo=None)).replace(
            tzinfo=tz).astimezone(dt.UTC)

    def code_text(self) -> str:
        return str(self.target_time)

    def poke(self, context: dict[str, Any]) -> bool:
        print(f"Checking if the time ({self.target_datetime.isoformat()}) has come", flush=True)
        return _utcnow() > self.target_datetime

    def seconds_until_done(self, context: dict[str, Any]) -> float | None:
        return (self.target_datetime - _utcnow()).total_seconds()


class TimeSensorAsync(TimeSensor):
    def __init__(self, task_id: str, target_time: dt.time, **kwargs: Any) -> None:
        kwargs.setdefault("deferrable", True)
        super().__init__(task_id=task_id, target_time=target_time, **kwargs)


class DateTimeSensor(BaseSensorOperator):
    """Done once `target_time` (a datetime, or a templated ISO string) has passed."""

    template_fields = ("target_time",)

    def __init__(self, task_id: str, target_time: str | dt.datetime, **kwargs: Any) -> None:
        if isinstance(target_time, dt.datetime):
            self.target_time = target_time.isoformat()
        elif isinstance(target_time, str):
            self.target_time = target_time
        else:
            raise DagDefinitionError(
                f"task {task_id!r}: expected a str or datetime for target_time, not {type(target_time).__name__}"
            )
        super().__init__(task_id=task_id, **kwargs)

    def code_text(self) -> str:
        return self.target_time

    def _target(self) -> dt.datetime:
        import pendulum

        value = pendulum.parse(str(self.target_time), tz=_dag_zone(self))
        return value.in_timezone("UTC")

    def poke(self, context: dict[str, Any]) -> bool:
        print(f"Checking if the time ({self.target_time}) has come", flush=True)
        return _utcnow() > self._target()

    def seconds_until_done(self, context: dict[str, Any]) -> float | None:
        return (self._target() - _utcnow()).total_seconds()


class DateTimeSensorAsync(DateTimeSensor):
    def __init__(self, task_id: str, target_time: str | dt.datetime, **kwargs: Any) -> None:
        kwargs.setdefault("deferrable", True)
        super().__init__(task_id=task_id, target_time=target_time, **kwargs)


class DayOfWeekSensor(BaseSensorOperator):
    """Done on one of `week_day` (names, WeekDay members, or a set of them):
    today in UTC, or the run's logical date with `use_task_logical_date`."""

    def __init__(self, task_id: str, week_day: Any, use_task_logical_date: bool = False, use_task_execution_day: bool = False,
                 **kwargs: Any) -> None:
        self.week_day = week_day
        self.use_task_logical_date = use_task_logical_date or use_task_execution_day  # Airflow 2's old name
        try:
            self._week_day_num = WeekDay.validate_week_day(week_day)
        except (AttributeError, TypeError) as exc:
            raise DagDefinitionError(f"task {task_id!r}: {exc}") from None
        super().__init__(task_id=task_id, **kwargs)

    def poke(self, context: dict[str, Any]) -> bool:
        today = WeekDay(_utcnow().isoweekday()).name
        print(f"Poking until weekday is in {sorted(d.name for d in self._week_day_num)}, Today is {today}", flush=True)
        if self.use_task_logical_date:
            return context["logical_date"].isoweekday() in self._week_day_num
        return _utcnow().isoweekday() in self._week_day_num


def _as_list(ids: str | Iterable[str]) -> list[str]:
    return [ids] if isinstance(ids, str) else list(ids)


class BranchDateTimeOperator(BaseBranchOperator):
    """Follows `follow_task_ids_if_true` when now (or the logical date) is within
    [`target_lower`, `target_upper`] (datetimes, or times of day), else the others."""

    def __init__(self, task_id: str, follow_task_ids_if_true: str | Iterable[str],
                 follow_task_ids_if_false: str | Iterable[str], target_lower: Any = None,
                 target_upper: Any = None, use_task_logical_date: bool = False, use_task_execution_day: bool = False,
                 **kwargs: Any) -> None:
        if target_lower is None and target_upper is None:
            raise DagDefinitionError(
                f"task {task_id!r}: target_lower and target_upper cannot both be None"
            )
        self.follow_task_ids_if_true = _as_list(follow_task_ids_if_true)
        self.follow_task_ids_if_false = _as_list(follow_task_ids_if_false)
        self.target_lower = target_lower
        self.target_upper = target_upper
        self.use_task_logical_date = use_task_logical_date or use_task_execution_day  # Airflow 2's old name
        super().__init__(task_id=task_id, **kwargs)

    def choose_branch(self, context: dict[str, Any]) -> list[str]:
        tz = _dag_zone(self)
        now = context["logical_date"] if self.use_task_logical_date else _utcnow()
        lower, upper = self.target_lower, self.target_upper
        if not (isinstance(lower, dt.datetime) and isinstance(upper, dt.datetime)):
            if isinstance(lower, dt.time):
                lower = dt.datetime.combine(now.astimezone(tz).date(), lower)
            if isinstance(upper, dt.time):
                upper = dt.datetime.combine(now.astimezone(tz).date(), upper)
            if lower is not None and upper is not None and upper < lower:
                upper += dt.timedelta(days=1)

        def aware(value: dt.datetime | None) -> dt.datetime | None:
            if value is None or value.tzinfo is not None:
                return value
            return value.replace(tzinfo=tz)

        lower, upper = aware(lower), aware(upper)
        if upper is not None and upper < now:
            return self.follow_task_ids_if_false
        if lower is not None and lower > now:
            return self.follow_task_ids_if_false
        return self.follow_task_ids_if_true


class BranchDayOfWeekOperator(BaseBranchOperator):
    """Follows `follow_task_ids_if_true` on one of `week_day` (today in the DAG's
    zone, or the logical date's), else `follow_task_ids_if_false`."""

    def __init__(self, task_id: str, follow_task_ids_if_true: str | Iterable[str],
                 follow_task_ids_if_false: str | Iterable[str], week_day: Any,
                 use_task_logical_date: bool = False, use_task_execution_day: bool = False,
                 **kwargs: Any) -> None:
        self.follow_task_ids_if_true = _as_list(follow_task_ids_if_true)
        self.follow_task_ids_if_false = _as_list(follow_task_ids_if_false)
        self.week_day = week_day
        self.use_task_logical_date = use_task_logical_date or use_task_execution_day  # Airflow 2's old name
        try:
            self._week_day_num = WeekDay.validate_week_day(week_day)
        except (AttributeError, TypeError) as exc:
            raise DagDefinitionError(f"task {task_id!r}: {exc}") from None
        super().__init__(task_id=task_id, **kwargs)

    def choose_branch(self, context: dict[str, Any]) -> list[str]:
        now = context["logical_date"] if self.use_task_logical_date else _utcnow().astimezone(_dag_zone(self))
        if now.isoweekday() in self._week_day_num:
            return self.follow_task_ids_if_true
        return self.follow_task_ids_if_false


class LatestOnlyOperator(BaseBranchOperator):
    """Lets the downstream tasks run only in the latest run: a manual run, or a
    run whose data interval is the latest one that has ended (now lies in the
    interval after it). In any other run (a catch-up or a backfill) the direct
    downstream tasks are skipped, and below them the trigger rules decide.

    Airflow's rule (the standard provider's): a manual run passes; a run with no
    next interval (`@once`, past `end_date`) passes; otherwise the run is the
    latest when `left < now <= right` around the interval that follows it. With
    flowctl's data intervals a scheduled run is made once its interval has ended,
    so that is the interval after it, as in Airflow 2; the log lines are Airflow's."""

    ui_color = "#e9ffdb"

    def choose_branch(self, context: dict[str, Any]) -> list[str]:
        everything = sorted(self.downstream_task_ids)
        run = context.get("dag_run")
        if getattr(run, "run_type", None) == "manual":
            print("Manually triggered DAG_Run: allowing execution to proceed.", flush=True)
            return everything
        from flowctl.timetables import make_timetable

        end = context["data_interval_end"]
        tt = make_timetable(self.dag.schedule, self.dag.start_date, self.dag.end_date,
                            default_tz=getattr(end.tzinfo, "name", None) or "UTC")
        following = tt.next_intervals(after=end, n=1) if self.dag.schedule is not None else []
        if not following:
            print("Last scheduled execution: allowing execution to proceed.", flush=True)
            return everything
        now = _utcnow()
        left, right = following[0].start, following[0].end
        print(f"Checking latest only with left_window: {left} right_window: {right} now: {now}", flush=True)
        if not left < now <= right:
            print("Not latest execution, skipping downstream.", flush=True)
            return []
        print("Latest, allowing execution to proceed.", flush=True)
        return everything
