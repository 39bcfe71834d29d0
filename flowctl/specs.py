"""DagSpec and TaskSpec: a DAG as plain data. The loader makes them in a child
process from the user's DAG objects; the scheduler, the CLI and the store use
only these, so no user code runs outside a task or loader process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowctl.authoring.dag import DAG
    from flowctl.authoring.operators import BaseOperator
    from flowctl.timetables import Timetable


@dataclass(frozen=True)
class TaskSpec:
    task_id: str
    operator: str
    upstream: tuple[str, ...]
    downstream: tuple[str, ...]
    trigger_rule: str = "all_success"
    retries: int = 0
    retry_delay: float = 300.0
    retry_exponential_backoff: bool = False
    max_retry_delay: float | None = None
    execution_timeout: float | None = None
    depends_on_past: bool = False
    priority_weight: int = 1
    pool: str | None = None
    fingerprint: str = ""
    group_id: str | None = None
    sensor_mode: str | None = None  #: "poke" or "reschedule" for sensors
    poke_interval: float | None = None
    has_callbacks: bool = False
    owner: str = "airflow"
    email: tuple[str, ...] = ()  #: Airflow's `email`: addresses to tell of failures
    email_on_failure: bool = True
    email_on_retry: bool = True
    pool_slots: int = 1
    max_active_tis_per_dag: int | None = None
    display_name: str | None = None  #: Airflow's task_display_name, when it differs from the id
    mapped: dict[str, Any] | None = None  #: a mapped task's expand inputs (authoring/mapping.py); None if not mapped
    outlets: tuple[str, ...] = ()  #: URIs of the assets a success updates
    outlet_aliases: tuple[str, ...] = ()  #: names of the AssetAliases it may add assets through
    inlets: tuple[str, ...] = ()  #: URIs of the assets it reads (`inlet_events`)
    external: dict[str, Any] | None = None  #: what a cross-DAG task points at (trigger, sensor, marker)
    is_setup: bool = False  #: Airflow's setup task (`as_setup`, `@setup`)
    is_teardown: bool = False  #: Airflow's teardown task (`as_teardown`, `@teardown`)
    on_failure_fail_dagrun: bool = False  #: a teardown whose failure fails the run
    setups: tuple[str, ...] = ()  #: the setups whose scope it is in (a teardown: the setups right above it)

    @classmethod
    def from_operator(cls, op: BaseOperator) -> TaskSpec:
        def seconds(td: timedelta | None) -> float | None:
            return None if td is None else td.total_seconds()

        return cls(
            task_id=op.task_id,
            operator=op.operator_name,
            upstream=tuple(sorted(op.upstream_task_ids)),
            downstream=tuple(sorted(op.downstream_task_ids)),
            trigger_rule=op.trigger_rule,
            retries=op.retries,
            retry_delay=op.retry_delay.total_seconds(),
            retry_exponential_backoff=op.retry_exponential_backoff,
            max_retry_delay=seconds(op.max_retry_delay),
            execution_timeout=seconds(op.execution_timeout),
            depends_on_past=op.depends_on_past,
            priority_weight=op.priority_weight,
            pool=op.pool,
            fingerprint=op.fingerprint(),
            group_id=op.group_id,
            sensor_mode=getattr(op, "mode", None),
            poke_interval=seconds(getattr(op, "poke_interval_td", None)),
            has_callbacks=any(
                (op.on_failure_callback, op.on_success_callback, op.on_retry_callback)
            ),
            owner=str(getattr(op, "owner", "airflow")),
            email=tuple(getattr(op, "email", ()) or ()),
            email_on_failure=bool(getattr(op, "email_on_failure", True)),
            email_on_retry=bool(getattr(op, "email_on_retry", True)),
            pool_slots=int(getattr(op, "pool_slots", 1) or 1),
            max_active_tis_per_dag=_int_or_none(getattr(op, "max_active_tis_per_dag", None)),
            display_name=_display_name(getattr(op, "task_display_name", None), op.task_id),
            mapped=op.expand_spec() if hasattr(op, "expand_spec") else None,
            **_asset_fields(op),
            is_setup=bool(getattr(op, "is_setup", False)),
            is_teardown=bool(getattr(op, "is_teardown", False)),
            on_failure_fail_dagrun=bool(getattr(op, "on_failure_fail_dagrun", False)),
        )

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> TaskSpec:
        doc = dict(doc)
        for name in ("upstream", "downstream", "email", "outlets", "outlet_aliases", "inlets", "setups"):
            doc[name] = tuple(doc.get(name, ()))
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in doc.items() if k in known})


@dataclass(frozen=True)
class DagSpec:
    dag_id: str
    fileloc: str
    schedule: str | None  #: cron string or preset; None for manual only
    schedule_seconds: float | None  #: set instead when the schedule is a timedelta
    start_date: str | None  #: ISO 8601 with offset
    end_date: str | None
    timezone: str
    catchup: bool
    max_active_runs: int
    max_active_tasks: int
    tags: tuple[str, ...]
    params: dict[str, Any]
    tasks: dict[str, TaskSpec]
    order: tuple[str, ...]  #: task ids, upstream before downstream
    description: str | None = None
    has_dag_callbacks: bool = False
    fingerprint: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    dagrun_timeout: float | None = None  #: Airflow's dagrun_timeout, in seconds (for the engine to enforce)
    is_paused_upon_creation: bool | None = None  #: Airflow's; None when not given
    display_name: str | None = None  #: Airflow's dag_display_name, when it differs from the id
    edge_labels: dict[str, dict[str, str]] = field(default_factory=dict)  #: upstream -> downstream -> Label
    warnings: tuple[str, ...] = ()  #: Airflow arguments accepted and not acted on, one line each
    airflow: bool = False  #: made through `import airflow` (renders undefined template names empty)
    asset_condition: dict[str, Any] | None = None  #: runs on asset updates (authoring/assets.py: condition_doc)
    assets: dict[str, dict[str, Any]] = field(default_factory=dict)  #: uri -> name, group, extra of assets named
    param_schemas: dict[str, dict[str, Any]] = field(default_factory=dict)  #: Param name -> schema, default, description

    # -- conversion ---------------------------------------------------------

    @classmethod
    def from_dag(cls, dag: DAG, fileloc: str, default_tz: str) -> DagSpec:
        import hashlib

        import pendulum

        def aware(value: datetime | None) -> pendulum.DateTime | None:
            if value is None:
                return None
            if value.tzinfo is None:
                return pendulum.instance(value, tz=default_tz)
            return pendulum.instance(value)

        start, end = aware(dag.start_date), aware(dag.end_date)
        tz = _zone_name(start) if start is not None else default_tz
        order = tuple(dag.topological_order())
        tasks = _with_setups({tid: TaskSpec.from_operator(dag.task_dict[tid]) for tid in order})
        schedule = dag.schedule
        fp = hashlib.sha256(
            "".join(f"{t.task_id}:{t.fingerprint}:{','.join(t.downstream)};" for t in tasks.values()).encode()
        ).hexdigest()[:16]
        return cls(
            dag_id=dag.dag_id,
            fileloc=fileloc,
            schedule=schedule if isinstance(schedule, str) else None,
            schedule_seconds=schedule.total_seconds() if isinstance(schedule, timedelta) else None,
            start_date=start.isoformat() if start else None,
            end_date=end.isoformat() if end else None,
            timezone=tz,
            catchup=bool(dag.catchup),
            max_active_runs=int(dag.max_active_runs),
            max_active_tasks=int(dag.max_active_tasks),
            tags=tuple(dag.tags),
            params=mask_doc(_jsonable(dag.params)),
            tasks=tasks,
            order=order,
            description=dag.description or _first_line(dag.doc_md),
            has_dag_callbacks=bool(dag.on_failure_callback or dag.on_success_callback),
            fingerprint=fp,
            dagrun_timeout=dag.dagrun_timeout.total_seconds() if getattr(dag, "dagrun_timeout", None) else None,
            is_paused_upon_creation=getattr(dag, "is_paused_upon_creation", None),
            display_name=_display_name(getattr(dag, "dag_display_name", None), dag.dag_id),
            edge_labels=_edge_labels(getattr(dag, "edge_labels", {})),
            warnings=tuple(dag.warning_lines()) if hasattr(dag, "warning_lines") else (),
            airflow=bool(getattr(dag, "airflow_layer", False)),
            asset_condition=getattr(dag, "asset_condition", None),
            assets=_assets_named(dag),
            param_schemas=_param_schemas(getattr(dag, "param_specs", {}) or {}),
        )

    def to_doc(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["tasks"] = {tid: asdict(t) for tid, t in self.tasks.items()}
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> DagSpec:
        doc = dict(doc)
        doc["tasks"] = {tid: TaskSpec.from_doc(t) for tid, t in doc["tasks"].items()}
        doc["order"] = tuple(doc["order"])
        doc["tags"] = tuple(doc.get("tags", ()))
        doc["warnings"] = tuple(doc.get("warnings", ()))
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in doc.items() if k in known})

    # -- derived ------------------------------------------------------------

    @property
    def position(self) -> dict[str, int]:
        """Task id -> its place in `order` (cached: asked for on every tick)."""
        cached = self.extra.get("_position")
        if cached is None:
            cached = {tid: i for i, tid in enumerate(self.order)}
            self.extra["_position"] = cached
        return cached

    @property
    def schedule_display(self) -> str | None:
        if self.schedule_seconds is not None:
            time: str | None = str(timedelta(seconds=self.schedule_seconds))
        else:
            time = self.schedule
        if self.asset_condition is not None:
            return f"{time} or on asset updates" if time else "on asset updates"
        return time

    @property
    def time_scheduled(self) -> bool:
        """Whether the schedule makes runs by time (a cron, preset or timedelta)."""
        return self.schedule is not None or self.schedule_seconds is not None

    def timetable(self) -> Timetable:
        import pendulum

        from flowctl.timetables import make_timetable

        schedule: str | timedelta | None = self.schedule
        if self.schedule_seconds is not None:
            schedule = timedelta(seconds=self.schedule_seconds)
        tz = zone(self.timezone)
        start = pendulum.parse(self.start_date).in_timezone(tz) if self.start_date else None
        end = pendulum.parse(self.end_date).in_timezone(tz) if self.end_date else None
        return make_timetable(schedule, start, end, default_tz=self.timezone)

    def version_doc(self) -> dict[str, Any]:
        """What a run records about the DAG it ran under (contract section 4)."""
        return {
            "fingerprint": self.fingerprint,
            "tasks": {
                tid: {
                    "operator": t.operator,
                    "upstream": list(t.upstream),
                    "fingerprint": t.fingerprint,
                    "trigger_rule": t.trigger_rule,
                }
                for tid, t in self.tasks.items()
            },
            "order": list(self.order),
        }


from flowctl.clock import zone  # noqa: E402,F401  (the one place zones are made)
from flowctl.masking import mask_doc  # noqa: E402


def _with_setups(tasks: dict[str, TaskSpec]) -> dict[str, TaskSpec]:
    """Each task's relevant setups (Airflow's `get_upstreams_only_setups`): the setups
    upstream of it whose teardown is downstream of it, or that have no teardown."""
    from dataclasses import replace

    if not any(t.is_setup for t in tasks.values()):
        return tasks

    def closure(start: str, step: str) -> set[str]:
        seen: set[str] = set()
        stack = [start]
        while stack:
            for nxt in getattr(tasks[stack.pop()], step):
                if nxt in tasks and nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return seen

    out = dict(tasks)
    for tid, task in tasks.items():
        if task.is_teardown:  # a teardown's setups are those right above it (its trigger rule reads them)
            direct = tuple(sorted(u for u in task.upstream if u in tasks and tasks[u].is_setup))
            if direct:
                out[tid] = replace(task, setups=direct)
            continue
        below = {d for d in closure(tid, "downstream") if tasks[d].is_teardown}
        relevant = []
        for up in closure(tid, "upstream"):
            setup = tasks[up]
            if not setup.is_setup:
                continue
            teardowns = {d for d in setup.downstream if d in tasks and tasks[d].is_teardown}
            if not teardowns or teardowns & below:
                relevant.append(up)
        if relevant:
            out[tid] = replace(task, setups=tuple(sorted(relevant)))
    return out


def _param_schemas(specs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each DAG Param as plain data: its JSON Schema, description and default
    (a secret-looking name's default masked), for checking a run's conf and
    for the TUI's trigger form."""
    from flowctl.masking import MASK, is_sensitive

    out = {}
    for name, param in specs.items():
        has = bool(getattr(param, "has_value", True))
        value = getattr(param, "value", None) if has else None
        masked = has and is_sensitive(name) and value not in (None, "")
        out[name] = {"schema": _jsonable(dict(getattr(param, "schema", {}) or {})),
                     "description": getattr(param, "description", None), "has_default": has,
                     "default": MASK if masked else _jsonable(value), "masked": bool(masked)}
    return out


def _first_line(text: str | None) -> str | None:
    lines = [line.strip() for line in (text or "").strip().splitlines() if line.strip()]
    return lines[0].lstrip("#").strip() or None if lines else None


def _display_name(name: Any, ident: str) -> str | None:
    return str(name) if name and str(name) != ident else None


def _int_or_none(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _edge_labels(labels: dict[tuple[str, str], str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for (up, down), label in sorted(labels.items()):
        out.setdefault(up, {})[down] = label
    return out


def _asset_fields(op: Any) -> dict[str, Any]:
    """What a task declares about assets and other DAGs, as plain data (the
    authoring model says: `BaseOperator.spec_extras`)."""
    extras = getattr(op, "spec_extras", None)
    return dict(extras()) if callable(extras) else {}


def _assets_named(dag: Any) -> dict[str, dict[str, Any]]:
    """Every asset the DAG names (schedule, outlets, inlets): uri -> its description."""
    named = getattr(dag, "assets_named", None)
    return dict(named()) if callable(named) else {}


def _zone_name(dt: Any) -> str:
    tz = dt.tzinfo
    name = getattr(tz, "name", None) or getattr(tz, "key", None)
    if name:
        return str(name)
    offset = dt.utcoffset()
    if not offset:
        return "UTC"
    total = int(offset.total_seconds() // 60)
    sign = "+" if total >= 0 else "-"
    return f"{sign}{abs(total) // 60:02d}:{abs(total) % 60:02d}"


def _jsonable(value: Any) -> Any:
    import json

    try:
        json.dumps(value)
        return value
    except TypeError:
        return json.loads(json.dumps(value, default=str))


def mapped_count(spec_inputs: dict[str, Any], xcom_value: Callable[[str, str], Any]) -> int:
    """How many instances a mapped task gets, from its spec's expand inputs;
    `xcom_value(task_id, key)` is a task's committed value (a list for a mapped task)."""
    def size(item: dict[str, Any]) -> int:
        if "length" in item:
            return int(item["length"])
        if "map" in item:
            return size(item["map"])
        if "zip" in item:
            sizes = [size(i) for i in item["zip"]]
            return (max if item.get("longest") else min)(sizes) if sizes else 0
        if "concat" in item:
            return sum(size(i) for i in item["concat"])
        task_id, key = item["xcom"]
        value = xcom_value(task_id, key)
        if value is None:
            return 0
        if isinstance(value, list | dict | tuple):
            return len(value)
        raise TypeError(f"cannot map over the value of {task_id!r} (XCom {key!r}): it is of type "
                        f"{type(value).__name__}, not a list or a dict")

    sizes = [size(item) for item in spec_inputs.get("inputs", [])]
    if not sizes:
        return 0
    if spec_inputs.get("kind") == "expand_kwargs":
        return sizes[0]
    total = 1
    for n in sizes:
        total *= n
    return total
