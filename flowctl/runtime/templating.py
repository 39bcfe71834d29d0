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

import functools
import os
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pendulum

if TYPE_CHECKING:
    from jinja2 import Environment


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
        self.triggered_by = run.get("triggered_by")

    @property
    def consumed_asset_events(self) -> list[Any]:
        """Airflow 3's name: the asset events that made this run."""
        from flowctl.authoring.assets import AssetEvent

        return [AssetEvent(doc) for doc in self.get("triggering_asset_events") or []]

    consumed_dataset_events = consumed_asset_events

    def get_task_instances(self, *args: Any, **kwargs: Any) -> list[Any]:
        raise NotImplementedError("flowctl: dag_run.get_task_instances() is not available inside a task")

    def __repr__(self) -> str:
        return f"<DagRun {self.dag_id} @ {self.logical_date}: {self.run_id}, state:{self.state}>"


def _outlet_events() -> Any:
    from flowctl.authoring.assets import OutletEvents

    return OutletEvents()


def _triggering_events(run: dict[str, Any]) -> Any:
    """The asset events that made this run (an asset-triggered run), by asset."""
    from flowctl.authoring.assets import AssetEvents

    return AssetEvents(run.get("triggering_asset_events") or [])


def _inlet_events(ti: Any) -> Any:
    """Every recorded event of an asset, read from the store when first asked for."""
    from flowctl.authoring.assets import AssetEvents

    home = getattr(ti, "_home", None)

    def load(key: Any) -> list[dict[str, Any]]:
        """An asset's events (key: its URI), or those made through an alias (an AssetAlias)."""
        if not home:
            return []
        from pathlib import Path

        from flowctl import assetlog
        from flowctl.store import Store

        alias = getattr(key, "name", None) if not isinstance(key, str) else None
        return [e for e in assetlog.events(Store(Path(home)))
                if (e.get("alias") == alias if alias is not None else e.get("uri") == key)]

    return AssetEvents([], loader=load)


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
    from flowctl.timetables import PRESETS, croniter_module

    croniter = croniter_module().croniter

    expr = PRESETS.get(schedule.strip(), schedule.strip())
    naive = logical.naive()
    tz = logical.tzinfo
    try:
        prev = croniter(expr, naive).get_prev(type(naive))
        nxt = croniter(expr, naive).get_next(type(naive))
    except (ValueError, KeyError):
        return None, None
    return pendulum.instance(prev, tz=tz), pendulum.instance(nxt, tz=tz)


class Context(dict):
    """Airflow's task context: a dict whose costlier values (parsed dates, the
    schedule's neighbours, Variables, macros) are made when first read. A task
    that reads none of them pays for none: a try is a fresh process, and every
    object it makes costs page faults there."""

    def __init__(self, eager: dict[str, Any], lazy: dict[str, Callable[[], Any]]) -> None:
        super().__init__(eager)
        self._lazy = lazy

    def _load(self, key: Any) -> Any:
        value = self._lazy.pop(key)()
        dict.__setitem__(self, key, value)
        return value

    def _all(self) -> None:
        for key in list(self._lazy):
            if key in self._lazy:
                self._load(key)

    def __missing__(self, key: Any) -> Any:
        if key in self._lazy:
            return self._load(key)
        raise KeyError(key)

    def get(self, key: Any, default: Any = None) -> Any:
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        if key in self._lazy:
            return self._load(key)
        return default

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or key in self._lazy

    def __setitem__(self, key: Any, value: Any) -> None:
        self._lazy.pop(key, None)
        dict.__setitem__(self, key, value)

    def __delitem__(self, key: Any) -> None:
        if key in self._lazy:
            del self._lazy[key]
            if not dict.__contains__(self, key):
                return
        dict.__delitem__(self, key)

    def __iter__(self) -> Any:
        self._all()
        return dict.__iter__(self)

    def __len__(self) -> int:
        return dict.__len__(self) + len(self._lazy)

    def keys(self) -> Any:  # type: ignore[override]
        self._all()
        return dict.keys(self)

    def values(self) -> Any:  # type: ignore[override]
        self._all()
        return dict.values(self)

    def items(self) -> Any:  # type: ignore[override]
        self._all()
        return dict.items(self)

    def copy(self) -> dict[str, Any]:  # type: ignore[override]
        self._all()
        return dict(self)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key in self:
            return self[key]
        self[key] = default
        return default

    def pop(self, key: Any, *default: Any) -> Any:  # type: ignore[override]
        if key in self._lazy and not dict.__contains__(self, key):
            self._load(key)
        return dict.pop(self, key, *default)

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def __repr__(self) -> str:
        self._all()
        return dict.__repr__(self)

    def __eq__(self, other: object) -> bool:
        self._all()
        return dict.__eq__(self, other)

    __hash__ = None  # type: ignore[assignment]


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
    the DAG's zone; `ds` is the logical date's day in that zone. In a DAG made
    through the `airflow` layer they are in UTC, as Airflow renders them (a
    07:00 Seoul run has yesterday's `ds`): an unchanged DAG writes the same
    partitions. Params are the task's, overridden by the run's conf, and
    checked against their Params. The dates and helpers are made when first
    read (see `Context`)."""
    from flowctl import masking
    from flowctl.authoring.params import check_params

    if getattr(dag, "airflow_layer", False):
        timezone = "UTC"

    conf = run.get("conf") or {}
    params = check_params(dict(getattr(task, "params", None) or getattr(dag, "params", {}) or {}),
                          dict(getattr(task, "param_specs", None) or {}), conf)
    masking.register_doc(params)
    masking.register_doc(conf)
    prev = prev_success or {}
    task_id = getattr(ti, "task_id", "") or ""
    memo: dict[str, Any] = {}

    def dag_run() -> DagRunInfo:
        if "dag_run" not in memo:
            memo["dag_run"] = DagRunInfo(run, getattr(dag, "dag_id", ""), timezone)
        return memo["dag_run"]

    def logical() -> Any:
        return dag_run().logical_date

    def neighbours() -> tuple[Any, Any]:
        if "neighbours" not in memo:
            memo["neighbours"] = neighbour_dates(dag, logical(), dag_run().external_trigger)
        return memo["neighbours"]

    def day(value: Any, fmt: str = "%Y-%m-%d") -> str | None:
        return value.strftime(fmt) if value else None

    def accessor(kind: str) -> Any:
        if kind == "var":
            from flowctl.variables import VariableAccessor

            return VariableAccessor()
        from flowctl.connections import ConnectionAccessor

        return ConnectionAccessor()

    eager: dict[str, Any] = {
        "dag": dag,
        "task": task,
        "ti": ti,
        "task_instance": ti,
        "run_id": run["run_id"],
        "params": params,
        "conf": conf,
        "try_number": getattr(ti, "try_number", 1),
        "test_mode": run.get("run_type") == "test",
        "inlets": list(getattr(task, "inlets", None) or []),
        "outlets": list(getattr(task, "outlets", None) or []),
        "outlet_events": _outlet_events(),
        "map_index_template": None,
        "expanded_ti_count": None,
    }
    lazy: dict[str, Callable[[], Any]] = {
        "dag_run": dag_run,
        "logical_date": logical,
        "execution_date": logical,
        "ds": lambda: day(logical()),
        "ds_nodash": lambda: day(logical(), "%Y%m%d"),
        "ts": lambda: logical().isoformat(),
        "ts_nodash": lambda: day(logical(), "%Y%m%dT%H%M%S"),
        "ts_nodash_with_tz": lambda: logical().isoformat().replace("-", "").replace(":", ""),
        "data_interval_start": lambda: dag_run().data_interval_start,
        "data_interval_end": lambda: dag_run().data_interval_end,
        "prev_data_interval_start_success": lambda: _parse(prev.get("data_interval_start"), timezone),
        "prev_data_interval_end_success": lambda: _parse(prev.get("data_interval_end"), timezone),
        "prev_start_date_success": lambda: _parse(prev.get("start_date"), timezone),
        "prev_end_date_success": lambda: _parse(prev.get("end_date"), timezone),
        "prev_execution_date": lambda: neighbours()[0],
        "next_execution_date": lambda: neighbours()[1],
        "prev_ds": lambda: day(neighbours()[0]),
        "prev_ds_nodash": lambda: day(neighbours()[0], "%Y%m%d"),
        "next_ds": lambda: day(neighbours()[1]),
        "next_ds_nodash": lambda: day(neighbours()[1], "%Y%m%d"),
        "yesterday_ds": lambda: day(logical() - timedelta(days=1)),
        "yesterday_ds_nodash": lambda: day(logical() - timedelta(days=1), "%Y%m%d"),
        "tomorrow_ds": lambda: day(logical() + timedelta(days=1)),
        "tomorrow_ds_nodash": lambda: day(logical() + timedelta(days=1), "%Y%m%d"),
        "task_instance_key_str": lambda: f"{getattr(dag, 'dag_id', '')}__{task_id}__{day(logical(), '%Y%m%d')}",
        "var": lambda: accessor("var"),
        "conn": lambda: accessor("conn"),
        "macros": Macros,
        "triggering_asset_events": lambda: _triggering_events(run),
        "triggering_dataset_events": lambda: _triggering_events(run),
        "inlet_events": lambda: _inlet_events(ti),
    }
    context = Context(eager, lazy)
    for key, value in (getattr(dag, "user_defined_macros", None) or {}).items():
        context[key] = value
    return context


# -- the Jinja environment ------------------------------------------------------------

_warned: set[str] = set()


def _warn_undefined(text: str) -> None:
    if text in _warned:
        return
    _warned.add(text)
    from flowctl.runtime.runner import log_line

    log_line(f"warning: template {text} is undefined and rendered as ''")


@functools.cache
def warning_undefined() -> type:
    """The Undefined that renders as '' (Airflow DAGs through the layer) and says
    so in the task log once per name. Made when first asked for: jinja2 is
    imported only by a try that renders a template (30 ms of a try's start)."""
    from jinja2 import ChainableUndefined
    from jinja2.utils import missing

    class WarningUndefined(ChainableUndefined):
        __slots__ = ()

        def _what(self) -> str:
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

    return WarningUndefined


def undefined_class(dag: Any) -> type:
    chosen = getattr(dag, "template_undefined", None)
    if chosen is not None:
        return chosen
    if getattr(dag, "airflow_layer", False):
        return warning_undefined()
    from jinja2 import StrictUndefined

    return StrictUndefined


_envs: dict[int, Environment] = {}


def environment(dag: Any = None) -> Environment:
    """The Jinja environment of a DAG: its undefined class, search path, macros and filters."""
    key = id(dag)
    env = _envs.get(key)
    if env is None:
        from jinja2 import Environment, FileSystemLoader

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
    A string ending in one of the task's `template_ext` is a template file.
    The DAG's environment is made (and jinja2 imported) only for a template."""
    exts = tuple(getattr(task, "template_ext", ()) or ())
    if isinstance(value, str):
        is_file = bool(exts) and value.endswith(exts) and "{" not in value
        if not is_file and "{{" not in value and "{%" not in value and "{#" not in value:
            return value
        if env is None:
            env = environment(context.get("dag") if task is None else getattr(task, "dag", context.get("dag")))
        if is_file:
            return env.get_template(value).render(context)
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
    for name in task.template_fields:
        if hasattr(task, name):
            setattr(task, name, render(getattr(task, name), context, None, task))
