"""The Jinja context of a task try (contract section 2) and template rendering.

Undefined names are errors (StrictUndefined): a typo in `{{ ds }}` fails the
task with a message naming it instead of writing to a wrong path.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from jinja2 import Environment, StrictUndefined


def ds_add(ds: str, days: int) -> str:
    """`ds_add('2026-01-05', -1)` -> '2026-01-04'."""
    return (pendulum.parse(ds) + timedelta(days=days)).strftime("%Y-%m-%d")


def ds_format(ds: str, input_format: str, output_format: str) -> str:
    """`ds_format('2026-01-05', '%Y-%m-%d', '%d/%m/%Y')` -> '05/01/2026'."""
    from datetime import datetime

    return datetime.strptime(ds, input_format).strftime(output_format)


class Macros:
    """What `{{ macros.* }}` offers, as in Airflow."""

    ds_add = staticmethod(ds_add)
    ds_format = staticmethod(ds_format)

    def __init__(self) -> None:
        import datetime as _datetime

        self.datetime = _datetime.datetime
        self.timedelta = _datetime.timedelta
        self.date = _datetime.date
        self.pendulum = pendulum


def _parse(value: str | None, tz: str) -> pendulum.DateTime | None:
    if value is None:
        return None
    from flowctl.clock import zone

    return pendulum.parse(value).in_timezone(zone(tz))


def build_context(
    *,
    dag: Any,
    task: Any,
    ti: Any,
    run: dict[str, Any],
    timezone: str,
    prev_success: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The template context for one try. Dates are aware pendulum values in
    the DAG's zone; `ds` is the logical date's day in that zone."""
    logical = _parse(run["logical_date"], timezone)
    start = _parse(run.get("data_interval_start"), timezone) or logical
    end = _parse(run.get("data_interval_end"), timezone) or logical
    params = {**getattr(task, "params", {}), **(run.get("conf") or {})}
    prev = prev_success or {}
    return {
        "dag": dag,
        "task": task,
        "ti": ti,
        "task_instance": ti,
        "dag_run": run,
        "run_id": run["run_id"],
        "logical_date": logical,
        "execution_date": logical,
        "ds": logical.strftime("%Y-%m-%d"),
        "ds_nodash": logical.strftime("%Y%m%d"),
        "ts": logical.isoformat(),
        "ts_nodash": logical.strftime("%Y%m%dT%H%M%S"),
        "data_interval_start": start,
        "data_interval_end": end,
        "prev_data_interval_start_success": _parse(prev.get("data_interval_start"), timezone),
        "prev_data_interval_end_success": _parse(prev.get("data_interval_end"), timezone),
        "params": params,
        "conf": run.get("conf") or {},
        "macros": Macros(),
        "try_number": getattr(ti, "try_number", 1),
    }


_env: Environment | None = None


def environment() -> Environment:
    global _env
    if _env is None:
        _env = Environment(undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False)
    return _env


def render(value: Any, context: dict[str, Any]) -> Any:
    """Render strings inside lists, tuples and dicts; leave other values alone."""
    if isinstance(value, str):
        if "{{" not in value and "{%" not in value:
            return value
        return environment().from_string(value).render(context)
    if isinstance(value, list):
        return [render(v, context) for v in value]
    if isinstance(value, tuple):
        return tuple(render(v, context) for v in value)
    if isinstance(value, dict):
        return {k: render(v, context) for k, v in value.items()}
    return value


def render_fields(task: Any, context: dict[str, Any]) -> None:
    """Render the task's `template_fields` in place (the task process owns its copy)."""
    for name in task.template_fields:
        setattr(task, name, render(getattr(task, name), context))
