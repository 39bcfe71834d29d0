"""The Jinja context of a task try (contract section 2, and Airflow's) and template rendering.

Undefined names: a DAG made with flowctl's API fails on them (StrictUndefined:
a typo in `{{ ds }}` fails the task naming it instead of writing to a wrong
path). A DAG made through the `airflow` layer renders them empty and writes a
warning line naming them to the task log. `template_undefined=` on the DAG
picks either (any jinja2 Undefined class).

A templated field whose string value ends with one of the task's
`template_ext` (`.sql`, `.sh`, ...) names a file, found beside the DAG file or
in `template_searchpath`, whose content is rendered instead.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pendulum
from jinja2 import ChainableUndefined, Environment, FileSystemLoader, StrictUndefined


def ds_add(ds: str, days: int) -> str:
    """`ds_add('2026-01-05', -1)` -> '2026-01-04'."""
    return (pendulum.parse(ds) + timedelta(days=days)).strftime("%Y-%m-%d")


def ds_format(ds: str, input_format: str, output_format: str) -> str:
    """`ds_format('2026-01-05', '%Y-%m-%d', '%d/%m/%Y')` -> '05/01/2026'."""
    from datetime import datetime

    return datetime.strptime(ds, input_format).strftime(output_format)


def datetime_diff_for_humans(dt: Any, since: Any = None) -> str:
    """`datetime_diff_for_humans(dt)` -> '2 hours ago' (Airflow's macro)."""
    value = pendulum.instance(dt)
    return value.diff_for_humans(pendulum.instance(since) if since is not None else pendulum.now(value.tzinfo))


class Macros:
    """What `{{ macros.* }}` offers, as in Airflow."""

    ds_add = staticmethod(ds_add)
    ds_format = staticmethod(ds_format)
    datetime_diff_for_humans = staticmethod(datetime_diff_for_humans)

    def __init__(self) -> None:
        import datetime as _datetime
        import json
        import random
        import time
        import uuid

        import dateutil

        self.datetime = _datetime.datetime
        self.timedelta = _datetime.timedelta
        self.date = _datetime.date
        self.time = time
        self.uuid = uuid
        self.random = random
        self.json = json
        self.dateutil = dateutil
        self.pendulum = pendulum


def _parse(value: str | None, tz: str) -> pendulum.DateTime | None:
    if value is None:
        return None
    from flowctl.clock import zone

    return pendulum.parse(value).in_timezone(zone(tz))


class DagRunInfo(dict):
    """`dag_run` in the context: the run's fields, by key (as stored) or as
    attributes in Airflow's types (`dag_run.conf`, `dag_run.logical_date`, ...)."""

    def __init__(self, run: dict[str, Any], dag_id: str, timezone: str) -> None:
        super().__init__(run)
        self.dag_id = dag_id
        self.run_id = run.get("run_id")
        self.run_type = run.get("run_type")
        self.conf = run.get("conf") or {}
        self.logical_date = _parse(run.get("logical_date"), timezone)
        self.execution_date = self.logical_date
        self.data_interval_start = _parse(run.get("data_interval_start"), timezone) or self.logical_date
        self.data_interval_end = _parse(run.get("data_interval_end"), timezone) or self.logical_date
        self.start_date = _parse(run.get("start_date"), timezone) if run.get("start_date") else None
        self.external_trigger = self.run_type == "manual"
        self.state = "running"
        self.note = None
        self.run_after = self.data_interval_end

    def get_task_instances(self, *args: Any, **kwargs: Any) -> list[Any]:
        raise NotImplementedError("flowctl: dag_run.get_task_instances() is not available inside a task")

    def __repr__(self) -> str:
        return f"<DagRun {self.dag_id} @ {self.logical_date}: {self.run_id}, state:{self.state}>"


def neighbour_dates(dag: Any, logical: pendulum.DateTime, manual: bool) -> tuple[Any, Any]:
    """(previous, next) logical dates of the schedule around `logical`: Airflow's
    prev_ds / next_ds. A manual run is its own neighbour."""
    if manual:
        return logical, logical
    schedule = getattr(dag, "schedule", None)
    if isinstance(schedule, timedelta):
        return logical - schedule, logical + schedule
    if not isinstance(schedule, str) or schedule.strip() == "@once":
        return None, None
    from croniter import croniter

    from flowctl.timetables import PRESETS

    expr = PRESETS.get(schedule.strip(), schedule.strip())
    naive = logical.naive()
    tz = logical.tzinfo
    try:
        prev = croniter(expr, naive).get_prev(type(naive))
        nxt = croniter(expr, naive).get_next(type(naive))
    except (ValueError, KeyError):
        return None, None
    return pendulum.instance(prev, tz=tz), pendulum.instance(nxt, tz=tz)


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
    the DAG's zone; `ds` is the logical date's day in that zone. Params are
    the task's, overridden by the run's conf, and checked against their Params."""
    from flowctl import masking
    from flowctl.authoring.params import check_params
    from flowctl.connections import ConnectionAccessor
    from flowctl.variables import VariableAccessor

    dag_run = DagRunInfo(run, getattr(dag, "dag_id", ""), timezone)
    logical = dag_run.logical_date
    start = dag_run.data_interval_start
    end = dag_run.data_interval_end
    conf = dag_run.conf
    params = check_params(dict(getattr(task, "params", None) or getattr(dag, "params", {}) or {}),
                          dict(getattr(task, "param_specs", None) or {}), conf)
    masking.register_doc(params)
    masking.register_doc(conf)
    prev = prev_success or {}
    ds = logical.strftime("%Y-%m-%d")
    ds_nodash = logical.strftime("%Y%m%d")
    prev_date, next_date = neighbour_dates(dag, logical, dag_run.external_trigger)
    task_id = getattr(ti, "task_id", "") or ""
    context: dict[str, Any] = {
        "dag": dag,
        "task": task,
        "ti": ti,
        "task_instance": ti,
        "dag_run": dag_run,
        "run_id": run["run_id"],
        "logical_date": logical,
        "execution_date": logical,
        "ds": ds,
        "ds_nodash": ds_nodash,
        "ts": logical.isoformat(),
        "ts_nodash": logical.strftime("%Y%m%dT%H%M%S"),
        "ts_nodash_with_tz": logical.isoformat().replace("-", "").replace(":", ""),
        "data_interval_start": start,
        "data_interval_end": end,
        "prev_data_interval_start_success": _parse(prev.get("data_interval_start"), timezone),
        "prev_data_interval_end_success": _parse(prev.get("data_interval_end"), timezone),
        "prev_start_date_success": _parse(prev.get("start_date"), timezone),
        "prev_end_date_success": _parse(prev.get("end_date"), timezone),
        "prev_execution_date": prev_date,
        "next_execution_date": next_date,
        "prev_ds": prev_date.strftime("%Y-%m-%d") if prev_date else None,
        "prev_ds_nodash": prev_date.strftime("%Y%m%d") if prev_date else None,
        "next_ds": next_date.strftime("%Y-%m-%d") if next_date else None,
        "next_ds_nodash": next_date.strftime("%Y%m%d") if next_date else None,
        "yesterday_ds": (logical - timedelta(days=1)).strftime("%Y-%m-%d"),
        "yesterday_ds_nodash": (logical - timedelta(days=1)).strftime("%Y%m%d"),
        "tomorrow_ds": (logical + timedelta(days=1)).strftime("%Y-%m-%d"),
        "tomorrow_ds_nodash": (logical + timedelta(days=1)).strftime("%Y%m%d"),
        "task_instance_key_str": f"{getattr(dag, 'dag_id', '')}__{task_id}__{ds_nodash}",
        "params": params,
        "conf": conf,
        "var": VariableAccessor(),
        "conn": ConnectionAccessor(),
        "macros": Macros(),
        "try_number": getattr(ti, "try_number", 1),
        "test_mode": run.get("run_type") == "test",
        "inlets": list(getattr(task, "inlets", None) or []),
        "outlets": list(getattr(task, "outlets", None) or []),
        "map_index_template": None,
        "expanded_ti_count": None,
    }
    context.update(getattr(dag, "user_defined_macros", None) or {})
    return context


# -- the Jinja environment ------------------------------------------------------------

_warned: set[str] = set()


def _warn_undefined(text: str) -> None:
    if text in _warned:
        return
    _warned.add(text)
    from flowctl.runtime.runner import log_line

    log_line(f"warning: template {text} is undefined and rendered as ''")


class WarningUndefined(ChainableUndefined):
    """Renders as '' (Airflow DAGs through the layer) and says so in the task log once per name."""

    __slots__ = ()

    def _what(self) -> str:
        from jinja2.utils import missing

        name = self._undefined_name
        obj = self._undefined_obj
        if obj is not missing and obj is not None and not isinstance(obj, type(self)):
            return f"'{type(obj).__name__}.{name}'"
        return f"'{name}'"

    def __str__(self) -> str:
        _warn_undefined(self._what())
        return ""

    def __iter__(self) -> Any:
        _warn_undefined(self._what())
        return iter(())

    def __bool__(self) -> bool:
        return False


def undefined_class(dag: Any) -> type:
    chosen = getattr(dag, "template_undefined", None)
    if chosen is not None:
        return chosen
    return WarningUndefined if getattr(dag, "airflow_layer", False) else StrictUndefined


_envs: dict[int, Environment] = {}


def environment(dag: Any = None) -> Environment:
    """The Jinja environment of a DAG: its undefined class, search path, macros and filters."""
    key = id(dag)
    env = _envs.get(key)
    if env is None:
        native = bool(getattr(dag, "render_template_as_native_obj", False))
        if native:
            from jinja2.nativetypes import NativeEnvironment as env_class
        else:
            env_class = Environment  # type: ignore[misc]
        searchpath = []
        fileloc = getattr(dag, "fileloc", None)
        if fileloc:
            searchpath.append(os.path.dirname(fileloc))
        searchpath += list(getattr(dag, "template_searchpath", None) or [])
        options: dict[str, Any] = {"undefined": undefined_class(dag), "keep_trailing_newline": True,
                                   "autoescape": False, "cache_size": 0}
        options.update(getattr(dag, "jinja_environment_kwargs", None) or {})
        env = env_class(loader=FileSystemLoader(searchpath or [os.getcwd()]), **options)
        env.filters.update({
            "ds": lambda value: value.strftime("%Y-%m-%d"),
            "ds_nodash": lambda value: value.strftime("%Y%m%d"),
            "ts": lambda value: value.isoformat(),
            "ts_nodash": lambda value: value.strftime("%Y%m%dT%H%M%S"),
        })
        env.filters.update(getattr(dag, "user_defined_filters", None) or {})
        _envs[key] = env
    return env


def render(value: Any, context: dict[str, Any], env: Environment | None = None, task: Any = None) -> Any:
    """Render strings inside lists, tuples and dicts; leave other values alone.
    A string ending in one of the task's `template_ext` is a template file."""
    if env is None:
        env = environment(context.get("dag") if task is None else getattr(task, "dag", context.get("dag")))
    exts = tuple(getattr(task, "template_ext", ()) or ())
    if isinstance(value, str):
        if exts and value.endswith(exts) and "{" not in value:
            return env.get_template(value).render(context)
        if "{{" not in value and "{%" not in value and "{#" not in value:
            return value
        return env.from_string(value).render(context)
    if isinstance(value, list):
        return [render(v, context, env, task) for v in value]
    if isinstance(value, tuple):
        return tuple(render(v, context, env, task) for v in value)
    if isinstance(value, dict):
        return {k: render(v, context, env, task) for k, v in value.items()}
    return value


def render_fields(task: Any, context: dict[str, Any]) -> None:
    """Render the task's `template_fields` in place (the task process owns its copy)."""
    env = environment(getattr(task, "dag", None))
    for name in task.template_fields:
        if hasattr(task, name):
            setattr(task, name, render(getattr(task, name), context, env, task))
