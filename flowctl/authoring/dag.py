"""The authoring model: DAG, edges between tasks, `chain`, `TaskGroup`, `Label`. No I/O.

A DAG file builds these objects when it is imported; the loader turns them
into `DagSpec` values (plain data) that the scheduler works with, so the
scheduler never runs user code.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from flowctl.errors import DagDefinitionError
from flowctl.home import ID_MAX_LENGTH, NAME_MAX_BYTES, is_valid_id

if TYPE_CHECKING:
    from flowctl.authoring.operators import BaseOperator

_dag_stack: list[DAG] = []
_group_stack: list[TaskGroup] = []
_created: list[DAG] = []
"""Every DAG created since the loader last called `collect_created()`."""


class _NotSet:
    def __repr__(self) -> str:
        return "NOTSET"

    def __bool__(self) -> bool:
        return False


NOTSET: Any = _NotSet()
"""An argument that was not given (Airflow's NOTSET): `None` means "no schedule"."""

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def current_dag() -> DAG | None:
    return _dag_stack[-1] if _dag_stack else None


def current_group() -> TaskGroup | None:
    return _group_stack[-1] if _group_stack else None


def collect_created() -> list[DAG]:
    """Hand over (and forget) the DAGs created since the last call."""
    dags = list(_created)
    _created.clear()
    return dags


def check_id(kind: str, value: Any, owner: str = "") -> str:
    """Airflow's rule for ids (home.py's, the one the store checks): letters
    and digits (Unicode ones too), `_`, `.` and `-`, at most 250 characters,
    not `.` or `..`. It also keeps every file flowctl writes for an id (runs,
    logs) inside the home, so an id the store would refuse fails here, at load."""
    where = f"{owner}: " if owner else ""
    if not isinstance(value, str) or not value:
        raise DagDefinitionError(f"{where}{kind} must be a non-empty string, not {value!r}")
    if len(value) > ID_MAX_LENGTH:
        raise DagDefinitionError(
            f"{where}{kind} {value[:40]!r}... is {len(value)} characters long (at most {ID_MAX_LENGTH})"
        )
    if len(value.encode(errors="replace")) > NAME_MAX_BYTES:
        raise DagDefinitionError(
            f"{where}{kind} {value[:40]!r}... is too long for a file name ({NAME_MAX_BYTES} bytes as UTF-8)"
        )
    if not is_valid_id(value):
        raise DagDefinitionError(
            f"{where}{kind} {value!r} must be made of letters, digits, '_', '.' and '-' "
            f"(and not be '.' or '..')"
        )
    return value


def caller_line() -> int | None:
    """The line of the first frame outside flowctl: where the DAG file did it."""
    frame = sys._getframe(1)
    while frame is not None:
        if not frame.f_code.co_filename.startswith(_PACKAGE_DIR):
            return frame.f_lineno
        frame = frame.f_back  # type: ignore[assignment]
    return None


class DAG:
    """A set of tasks with dependencies and the metadata of when to run them.

    Usable as a context manager (`with DAG(...) as dag:`), or built by `@dag`.
    Arguments mirror Airflow's; those Airflow takes and flowctl does not act
    on are accepted and reported by `flowctl dags warnings` (see airflow_args.py).
    """

    airflow_layer = False
    """True for DAGs made through `import airflow`: they render undefined template
    names empty (with a warning) unless `template_undefined=` says otherwise."""

    def __init__(
        self,
        dag_id: str,
        schedule: Any = NOTSET,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        catchup: bool | None = None,
        max_active_runs: int = 16,
        max_active_tasks: int | None = None,
        default_args: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        tags: Sequence[str] | None = None,
        description: str | None = None,
        doc_md: str | None = None,
        on_failure_callback: Callable | None = None,
        on_success_callback: Callable | None = None,
        *,
        schedule_interval: Any = NOTSET,
        timetable: Any = None,
        concurrency: int | None = None,
        template_searchpath: str | Iterable[str] | None = None,
        template_undefined: type | None = None,
        user_defined_macros: dict[str, Any] | None = None,
        user_defined_filters: dict[str, Callable] | None = None,
        render_template_as_native_obj: bool = False,
        jinja_environment_kwargs: dict[str, Any] | None = None,
        dagrun_timeout: timedelta | float | None = None,
        is_paused_upon_creation: bool | None = None,
        dag_display_name: str | None = None,
        **others: Any,
    ) -> None:
        from flowctl.authoring.airflow_args import DAG_IGNORED

        check_id("dag_id", dag_id)
        unknown = sorted(set(others) - set(DAG_IGNORED))
        if unknown:
            raise DagDefinitionError(f"DAG {dag_id!r}: unknown argument(s) {', '.join(unknown)}")
        self.dag_id = dag_id
        self.lineno = caller_line()
        self.warnings: dict[str, list[str]] = {}  #: argument -> where it was used ("DAG", task ids)
        self.default_args = dict(default_args or {})
        self.fileloc: str | None = None
        self.task_dict: dict[str, BaseOperator] = {}
        self.task_group_ids: set[str] = set()
        self.edge_labels: dict[tuple[str, str], str] = {}
        self.edge_lines: dict[tuple[str, str], int | None] = {}
        for name in others:
            self.warn(name)
        if is_paused_upon_creation is not None:
            self.warn("is_paused_upon_creation")
        if dag_display_name is not None:
            self.warn("dag_display_name")
        if start_date is None:
            start_date = self.default_args.get("start_date")
        if end_date is None:
            end_date = self.default_args.get("end_date")
        self.start_date = start_date
        self.end_date = end_date
        self.schedule = self._schedule(schedule, schedule_interval, timetable)
        self.catchup = bool(catchup) if catchup is not None else False
        self.max_active_runs = int(max_active_runs)
        tasks_limit = max_active_tasks if max_active_tasks is not None else concurrency
        self.max_active_tasks = int(tasks_limit) if tasks_limit is not None else 16
        from flowctl.authoring.params import resolve_params

        self.params, self.param_specs = resolve_params(params or {}, f"DAG {dag_id!r}")
        self.tags = [str(t) for t in (tags or [])]
        self.description = description
        self.doc_md = doc_md
        self.on_failure_callback = on_failure_callback
        self.on_success_callback = on_success_callback
        if isinstance(template_searchpath, str):
            template_searchpath = [template_searchpath]
        self.template_searchpath = [str(p) for p in (template_searchpath or [])]
        self.template_undefined = template_undefined
        self.user_defined_macros = dict(user_defined_macros or {})
        self.user_defined_filters = dict(user_defined_filters or {})
        self.render_template_as_native_obj = bool(render_template_as_native_obj)
        self.jinja_environment_kwargs = dict(jinja_environment_kwargs or {})
        if dagrun_timeout is not None and not isinstance(dagrun_timeout, timedelta):
            dagrun_timeout = timedelta(seconds=float(dagrun_timeout))
        self.dagrun_timeout = dagrun_timeout
        self.is_paused_upon_creation = is_paused_upon_creation
        self.dag_display_name = dag_display_name or dag_id
        _created.append(self)

    # -- construction helpers ----------------------------------------------

    def _schedule(self, schedule: Any, schedule_interval: Any, timetable: Any) -> Any:
        """Airflow 2's `schedule_interval` and `timetable=` are other names for `schedule`."""
        given = [v for v in (schedule, schedule_interval) if v is not NOTSET]
        if len(given) > 1 or (given and timetable is not None):
            raise DagDefinitionError(
                f"DAG {self.dag_id!r}: give one of schedule, schedule_interval and timetable"
            )
        value = timetable if timetable is not None else (given[0] if given else None)
        value = self._asset_schedule(value)
        value = getattr(value, "flowctl_schedule", value)  # an airflow.timetables object
        if value is not None and not isinstance(value, str | timedelta):
            raise DagDefinitionError(
                f"DAG {self.dag_id!r}: invalid schedule {value!r}: expected a cron string, a preset, "
                "a timedelta or None"
            )
        if value is not None and self.start_date is None:
            raise DagDefinitionError(f"DAG {self.dag_id!r}: a schedule needs a start_date")
        if value is not None:
            from flowctl.timetables import make_timetable

            try:
                make_timetable(value, self.start_date, self.end_date, default_tz="UTC")
            except (ValueError, TypeError) as exc:
                raise DagDefinitionError(f"DAG {self.dag_id!r}: {exc}") from None
        return value

    def _asset_schedule(self, value: Any) -> Any:
        """Assets in the schedule become `asset_condition` (plain data, see
        authoring/assets.py); what is left is the time schedule (None for assets only)."""
        from flowctl.authoring.assets import AssetOrTimeSchedule, condition_doc, is_asset_schedule

        self.asset_condition: dict[str, Any] | None = None
        self.schedule_assets: Any = None
        if isinstance(value, AssetOrTimeSchedule):
            if not is_asset_schedule(value.assets):
                raise DagDefinitionError(f"DAG {self.dag_id!r}: AssetOrTimeSchedule: assets= must be assets")
            self.asset_condition = condition_doc(value.assets)
            self.schedule_assets = value.assets
            return value.timetable
        if is_asset_schedule(value):
            self.asset_condition = condition_doc(value)
            self.schedule_assets = value
            return None
        return value

    def assets_named(self) -> dict[str, dict[str, Any]]:
        """Every asset the DAG names (schedule, outlets, inlets): uri -> its description."""
        from flowctl.authoring.assets import assets_in

        found: dict[str, dict[str, Any]] = {}
        for asset in assets_in(self.schedule_assets or []):
            found.setdefault(asset.uri, asset.describe())
        for op in self.task_dict.values():
            for asset in assets_in([*(getattr(op, "outlets", None) or []), *(getattr(op, "inlets", None) or [])]):
                found.setdefault(asset.uri, asset.describe())
        return dict(sorted(found.items()))

    def warn(self, argument: str, where: str = "DAG") -> None:
        """Note an Airflow argument flowctl accepts and does not act on (`dags warnings`)."""
        places = self.warnings.setdefault(argument, [])
        if where not in places:
            places.append(where)

    # -- the context manager and Airflow's DAG API ---------------------------

    def __enter__(self) -> DAG:
        _dag_stack.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _dag_stack.pop()

    def __repr__(self) -> str:
        return f"<DAG {self.dag_id}>"

    @property
    def tasks(self) -> Any:
        """Task id -> task (Airflow's DAG gives a list; see `AirflowDAG`)."""
        return self.task_dict

    @property
    def timezone(self) -> Any:
        """The DAG's zone: its start_date's, UTC when naive or absent."""
        import pendulum

        tz = getattr(self.start_date, "tzinfo", None)
        return pendulum.instance(self.start_date).tzinfo if tz is not None else pendulum.timezone("UTC")

    @property
    def owner(self) -> str:
        owners = sorted({t.owner for t in self.task_dict.values()})
        return ", ".join(owners) if owners else str(self.default_args.get("owner", "airflow"))

    def add_task(self, op: BaseOperator) -> None:
        if op.task_id in self.task_dict:
            raise DagDefinitionError(
                f"DAG {self.dag_id!r}: duplicate task id {op.task_id!r}"
            )
        self.task_dict[op.task_id] = op
        from flowctl.authoring.setup_teardown import register

        register(op)

    def get_task(self, task_id: str) -> BaseOperator:
        return self.task_dict[task_id]

    def has_task(self, task_id: str) -> bool:
        return task_id in self.task_dict

    @property
    def task_ids(self) -> list[str]:
        return list(self.task_dict)

    @property
    def roots(self) -> list[BaseOperator]:
        return [t for t in self.task_dict.values() if not t.upstream_task_ids]

    @property
    def leaves(self) -> list[BaseOperator]:
        return [t for t in self.task_dict.values() if not t.downstream_task_ids]

    def param(self, name: str, default: Any = NOTSET) -> DagParam:
        """A reference to a param's value at run time (Airflow's `dag.param`)."""
        if default is not NOTSET and name not in self.params:
            self.params[name] = default
        return DagParam(name, default)

    def test(self, *args: Any, **kwargs: Any) -> None:
        raise DagDefinitionError(
            f"DAG.test() is Airflow's; with flowctl use `flowctl run {self.dag_id}` "
            f"or `flowctl tasks test {self.dag_id} TASK`"
        )

    def topological_order(self) -> list[str]:
        """Task ids with every upstream before its downstream; a cycle is an error
        that names it, e.g. `extract -> load -> extract`, and the line of the edge
        that closes it. A depth-first walk with its own stack, not recursion, so a
        chain of any length loads."""
        order: list[str] = []
        state: dict[str, int] = {}  # 1 = on the current path, 2 = done
        path: list[str] = []
        stack: list[Iterator[str]] = []
        for root in self.task_dict:
            if state.get(root):
                continue
            state[root] = 1
            path.append(root)
            stack.append(iter(sorted(self.task_dict[root].downstream_task_ids)))
            while stack:
                down = next(stack[-1], None)
                if down is None:
                    stack.pop()
                    done = path.pop()
                    state[done] = 2
                    order.append(done)
                elif state.get(down) == 1:
                    cycle = path[path.index(down):] + [down]
                    error = DagDefinitionError(f"DAG {self.dag_id!r} has a cycle: {' -> '.join(cycle)}")
                    error.lineno = self.edge_lines.get((cycle[-2], cycle[-1])) or self.lineno  # type: ignore[attr-defined]
                    raise error
                elif state.get(down) is None:
                    state[down] = 1
                    path.append(down)
                    stack.append(iter(sorted(self.task_dict[down].downstream_task_ids)))
        order.reverse()
        return order

    def warning_lines(self) -> tuple[str, ...]:
        """One line per Airflow argument this DAG uses that flowctl accepts and does not act on."""
        from flowctl.authoring.airflow_args import warning_lines

        return warning_lines(self)

    def validate(self) -> None:
        """Raise if the DAG cannot be run: a cycle, or an edge to an unknown task."""
        for op in self.task_dict.values():
            for other in op.upstream_task_ids | op.downstream_task_ids:
                if other not in self.task_dict:
                    raise DagDefinitionError(
                        f"DAG {self.dag_id!r}: task {op.task_id!r} is linked to "
                        f"{other!r}, which is not in this DAG"
                    )
        self.topological_order()


class AirflowDAG(DAG):
    """The DAG class behind `airflow.DAG`: Airflow's argument order and `tasks` as a list."""

    airflow_layer = True

    def __init__(self, dag_id: str, description: str | None = None, schedule: Any = NOTSET, **kwargs: Any) -> None:
        super().__init__(dag_id, schedule=schedule, description=description, **kwargs)

    @property
    def tasks(self) -> Any:
        return list(self.task_dict.values())

    @property
    def task_group_dict(self) -> dict[str, Any]:
        return {}

    @property
    def schedule_interval(self) -> Any:
        """Airflow 2's name for the schedule (a cron string, preset, timedelta or None)."""
        return self.schedule

    @property
    def timetable(self) -> Any:
        """The schedule's timetable, with Airflow's `summary` (the schedule as written)."""
        from flowctl.timetables import make_timetable

        made = make_timetable(self.schedule, self.start_date, self.end_date, default_tz="UTC")
        made.summary = "None" if self.schedule is None else str(self.schedule)
        return made


class Dependable:
    """`a >> b`, `a << b` and their reflections (lists on either side), for
    anything that has `set_upstream` and `set_downstream`."""

    def set_upstream(self, other: Any) -> None:
        raise NotImplementedError

    def set_downstream(self, other: Any) -> None:
        raise NotImplementedError

    def __rshift__(self, other: Any) -> Any:
        self.set_downstream(other)
        return other

    def __lshift__(self, other: Any) -> Any:
        self.set_upstream(other)
        return other

    def __rrshift__(self, other: Any) -> Any:
        self.set_upstream(other)
        return self

    def __rlshift__(self, other: Any) -> Any:
        self.set_downstream(other)
        return self


class DagParam:
    """A DAG param used as an argument in the body of a `@dag` function: its
    value is read from the run's params when the task runs."""

    def __init__(self, name: str, default: Any = NOTSET) -> None:
        self.name = name
        self.default = default

    def resolve(self, context: dict[str, Any]) -> Any:
        params = context.get("params") or {}
        if self.name in params:
            return params[self.name]
        return None if self.default is NOTSET else self.default

    def __repr__(self) -> str:
        return f"DagParam({self.name!r})"


class TaskGroup(Dependable):
    """Groups tasks under a prefix (`group.task`); edges to a group reach its
    roots, edges from a group leave from its leaves."""

    def __init__(
        self,
        group_id: str,
        prefix_group_id: bool = True,
        parent_group: TaskGroup | None = None,
        dag: DAG | None = None,
        default_args: dict[str, Any] | None = None,
        tooltip: str = "",
        ui_color: str = "CornflowerBlue",
        ui_fgcolor: str = "#000",
        add_suffix_on_collision: bool = False,
        group_display_name: str = "",
    ) -> None:
        self.parent = parent_group if parent_group is not None else current_group()
        self.dag = dag or (self.parent.dag if self.parent is not None else None) or current_dag()
        if self.dag is None:
            raise DagDefinitionError(f"TaskGroup {group_id!r} must be created inside a DAG")
        check_id("group_id", group_id, f"DAG {self.dag.dag_id!r}")
        self.prefix_group_id = prefix_group_id
        self.tooltip = tooltip
        self.ui_color = ui_color
        self.ui_fgcolor = ui_fgcolor
        self.group_display_name = group_display_name
        self.default_args = dict(default_args or {})
        self.children: list[BaseOperator] = []
        self.group_id = group_id
        if self.full_id in self.dag.task_group_ids:
            if not add_suffix_on_collision:
                raise DagDefinitionError(f"DAG {self.dag.dag_id!r}: duplicate task group id {self.full_id!r}")
            base, n = group_id, 1
            while True:
                self.group_id = f"{base}__{n}"
                if self.full_id not in self.dag.task_group_ids:
                    break
                n += 1
        self.dag.task_group_ids.add(self.full_id)

    @property
    def full_id(self) -> str:
        if self.parent is not None and self.parent.prefix_group_id:
            return f"{self.parent.full_id}.{self.group_id}"
        return self.group_id

    def child_id(self, task_id: str) -> str:
        return f"{self.full_id}.{task_id}" if self.prefix_group_id else task_id

    def all_default_args(self) -> dict[str, Any]:
        """The default_args a task in this group gets: the DAG's, then each enclosing group's."""
        chain_: list[TaskGroup] = []
        group: TaskGroup | None = self
        while group is not None:
            chain_.append(group)
            group = group.parent
        merged = dict(self.dag.default_args) if self.dag is not None else {}
        for g in reversed(chain_):
            merged.update(g.default_args)
        return merged

    def __enter__(self) -> TaskGroup:
        _group_stack.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _group_stack.pop()

    def __repr__(self) -> str:
        return f"<TaskGroup {self.full_id}>"

    def roots(self) -> list[BaseOperator]:
        ids = {t.task_id for t in self.children}
        return [t for t in self.children if not (t.upstream_task_ids & ids)]

    def leaves(self) -> list[BaseOperator]:
        """The group's last tasks; a teardown is passed over for the work before it
        (Airflow: teardowns are ignored when setting dependencies against groups)."""
        ids = {t.task_id for t in self.children}
        by_id = {t.task_id: t for t in self.children}
        out: list[BaseOperator] = []

        def more_work_below(task: Any, exclude: str) -> bool:
            return any(d != exclude and d in ids and not by_id[d].is_teardown for d in task.downstream_task_ids)

        def work_before(teardown: Any) -> None:
            """The work before a teardown, through any teardowns before it, depth
            first (with a stack, not recursion: a long chain of them loads)."""
            stack = [(teardown, iter(sorted(teardown.upstream_task_ids)))]
            seen = {teardown.task_id}
            while stack:
                task, ups = stack[-1]
                u = next(ups, None)
                if u is None:
                    stack.pop()
                    continue
                up = by_id.get(u)
                if up is None or (task.is_teardown and up.is_setup):
                    continue
                if up.is_teardown:
                    if u not in seen:
                        seen.add(u)
                        stack.append((up, iter(sorted(up.upstream_task_ids))))
                elif not more_work_below(up, task.task_id) and up not in out:
                    out.append(up)

        for t in self.children:
            if not (t.downstream_task_ids & ids):
                if not getattr(t, "is_teardown", False):
                    out.append(t)
                else:
                    work_before(t)
        return out

    def set_downstream(self, other: Any) -> None:
        for leaf in self.leaves():
            leaf.set_downstream(other)

    def set_upstream(self, other: Any) -> None:
        if isinstance(other, Label) or (isinstance(other, list | tuple) and any(isinstance(o, Label) for o in other)):
            for label in as_tasks(other):
                label.set_downstream(self)
            return
        for root in self.roots():
            root.set_upstream(other)


class Label(Dependable):
    """A label on the edges it sits on: `check >> Label("no errors") >> save`.
    The label is recorded (`DagSpec.edge_labels`); it changes nothing else."""

    def __init__(self, label: str) -> None:
        self.label = str(label)
        self._ups: list[Any] = []
        self._downs: list[Any] = []

    def set_upstream(self, other: Any) -> None:  # other >> label
        for up in as_tasks(other):
            self._ups.append(up)
            for down in self._downs:
                self._link(up, down)

    def set_downstream(self, other: Any) -> None:  # label >> other
        for down in as_tasks(other):
            self._downs.append(down)
            for up in self._ups:
                self._link(up, down)

    def _link(self, up: Any, down: Any) -> None:
        up.set_downstream(down)
        for u in _edge_ends(up, leaves=True):
            for d in _edge_ends(down, leaves=False):
                u.dag.edge_labels[(u.task_id, d.task_id)] = self.label

    def __repr__(self) -> str:
        return f"Label({self.label!r})"


def _edge_ends(value: Any, leaves: bool) -> list[Any]:
    """The operators an edge from (`leaves`) or to `value` touches."""
    if hasattr(value, "roots") and hasattr(value, "children"):
        return value.leaves() if leaves else value.roots()
    operator = getattr(value, "operator", value)
    return [operator] if hasattr(operator, "task_id") else []


def chain(*elements: Any) -> None:
    """Link the elements in order: `chain(a, b, c)` is `a >> b >> c`.

    Adjacent lists of equal length are linked pairwise (`chain([a, b], [c, d])`
    is `a >> c` and `b >> d`), as in Airflow; a list next to a single task
    links every member to it.
    """
    for up, down in zip(elements, elements[1:], strict=False):
        if isinstance(up, list | tuple) and isinstance(down, list | tuple):
            if len(up) != len(down):
                raise DagDefinitionError(
                    f"chain: adjacent lists must have the same length ({len(up)} and {len(down)})"
                )
            for u, d in zip(up, down, strict=True):
                u.set_downstream(d)
        elif isinstance(up, list | tuple):
            for u in up:
                u.set_downstream(down)
        else:
            up.set_downstream(down)


def cross_downstream(from_tasks: Sequence[Any], to_tasks: Any) -> None:
    """Every task of `from_tasks` upstream of every task of `to_tasks` (Airflow's)."""
    for task in from_tasks:
        task.set_downstream(to_tasks)


def chain_linear(*elements: Any) -> None:
    """Every task of each element upstream of every task of the next (Airflow's)."""
    for up, down in zip(elements, elements[1:], strict=False):
        for u in as_tasks(up):
            u.set_downstream(down)


def as_tasks(value: Any) -> list[Any]:
    """A task, a group, an XCom reference, or a list of them -> a flat list."""
    if isinstance(value, list | tuple | set):
        return [x for v in value for x in as_tasks(v)]
    return [value]


def make_dag_decorator(dag_class: type[DAG]) -> Callable[..., Any]:
    """`@dag` for a DAG class: flowctl's own, or Airflow's through the layer."""

    def dag(*dag_args: Any, **dag_kwargs: Any) -> Any:
        """`@dag(schedule=...)` (or bare `@dag`) on a function: calling the function
        builds the DAG, named after the function unless `dag_id` is given. The
        function's parameters become DAG params, as in Airflow."""

        def decorate(fn: Callable[..., Any]) -> Callable[..., DAG]:
            signature = inspect.signature(fn)

            @functools.wraps(fn)
            def build(*args: Any, **kwargs: Any) -> DAG:
                kw = dict(dag_kwargs)
                positional = list(dag_args)
                if positional and isinstance(positional[0], str):  # `@dag("my_id", ...)`, Airflow's first argument
                    kw.setdefault("dag_id", positional.pop(0))
                kw.setdefault("dag_id", fn.__name__)
                if fn.__doc__ and "doc_md" not in kw:
                    kw["doc_md"] = inspect.cleandoc(fn.__doc__)
                try:
                    bound = signature.bind(*args, **kwargs)
                except TypeError as exc:
                    raise DagDefinitionError(f"@dag {fn.__name__}: {exc}") from None
                bound.apply_defaults()
                params = dict(kw.pop("params", None) or {})
                for name, value in bound.arguments.items():
                    param = signature.parameters[name]
                    if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                        continue
                    params.setdefault(name, value)
                built = dag_class(*positional, params=params, **kw)
                with built:
                    fn(**{name: DagParam(name) for name in bound.arguments
                          if signature.parameters[name].kind not in (inspect.Parameter.VAR_POSITIONAL,
                                                                     inspect.Parameter.VAR_KEYWORD)})
                return built

            return build

        if len(dag_args) == 1 and callable(dag_args[0]) and not dag_kwargs and not isinstance(dag_args[0], str):
            fn, dag_args = dag_args[0], ()
            return decorate(fn)
        return decorate

    return dag


dag = make_dag_decorator(DAG)
