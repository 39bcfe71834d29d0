"""What runs inside a task's process: render templates, call the operator,
write the log, and hand back the result (XCom or error).

The task process never writes to the state store: it reads XCom from it,
and its result goes back to the one process that owns the run, which
records it. So a crashing task cannot damage the state.

In the task's log: what the task prints, and records of Python's `logging` at
INFO and above (root logger, `airflow.task`, module loggers), each with a
timestamp; every registered secret (masking.py) is replaced by `***`.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import signal
import socket
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flowctl.errors import TaskFailed, TaskSkipped
from flowctl.store import private_dir


class TaskInstanceHandle:
    """`ti` in the context: XCom exchange and the try's identity, with the
    attributes of Airflow's TaskInstance that task code reads."""

    def __init__(self, payload: dict[str, Any], store_home: str | None) -> None:
        self.dag_id = payload["dag_id"]
        self.run_id = payload["run_id"]
        self.task_id = payload["task_id"]
        self.try_number = payload["try_number"]
        self.retry_base = int(payload.get("retry_base") or 0)  # tries before its last clear
        self.map_index = int(payload.get("map_index", -1))
        self.state = "running"
        self.hostname = socket.gethostname()
        self.log_path = payload.get("log_path")
        self.log_url = payload.get("log_path")
        self.pid = os.getpid()
        self.task: Any = None
        self.max_tries = 0
        self.start_date: Any = None
        self._context: dict[str, Any] | None = None
        self.operator: str | None = None
        self.pool = "default_pool"
        self.queue = "default"
        self.priority_weight = 1
        self._home = store_home
        self.dag: Any = None
        self._pushed: dict[str, Any] = {}
        self._skip: list[str] = []
        self._skip_all_below = False
        self._requests: dict[str, Any] = {}  #: what the try asks the engine to commit with its result
        self._xcom_cache: dict[tuple[str, str], Any] | None = None
        self._ended: dict[str, datetime] = {}  #: each task's latest end time, read with the store's values
        self._xcom_limit: int | None = None
        self.first_poke_at = payload.get("first_poke_at")
        self._mapped_xcom: dict[tuple[str, str, int], Any] = {}
        if payload.get("xcom_values") is not None:  # sent along where the store is out of reach (Dask)
            self._xcom_cache = self._index(payload["xcom_values"])
        given = payload.get("xcom_given") or {}
        self._given_tasks = set(given.get("tasks", ()))  #: upstream tasks whose values came with the payload
        self._given = self._index(given.get("values", ()))

    def attach(self, task: Any, context: dict[str, Any]) -> None:
        import pendulum

        self.task = task
        self.max_tries = getattr(task, "retries", 0) + self.retry_base  # Airflow's: try_number + retries after a clear
        self.operator = type(task).__name__
        self.pool = getattr(task, "pool", None) or "default_pool"
        self.queue = getattr(task, "queue", "default")
        self.priority_weight = getattr(task, "priority_weight", 1)
        self.start_date = pendulum.now("UTC")
        self._context = context

    @property
    def logical_date(self) -> Any:
        return self._context.get("logical_date") if self._context is not None else None

    @property
    def execution_date(self) -> Any:
        return self.logical_date

    @property
    def key(self) -> tuple[str, str, str, int, int]:
        return (self.dag_id, self.task_id, self.run_id, self.try_number, self.map_index)

    def xcom_push(self, key: str, value: Any, execution_date: Any = None, **_: Any) -> None:
        _check_json(value, f"xcom_push({key!r})")
        if self._xcom_limit is not None:
            check_xcom_size(key, self.task_id, value, self._xcom_limit)
        self._pushed[key] = value

    def _stored_xcom(self) -> dict[tuple[str, str], Any]:
        if self._xcom_cache is None:
            self._xcom_cache = {}
            if self._home is not None:
                from flowctl.store import Store

                data = Store(Path(self._home)).read_run(self.dag_id, self.run_id)
                if data is not None:
                    self._xcom_cache = self._index(data.xcoms)
                    for key, ti in data.tis.items():
                        if ti.end_date:
                            ended = _aware(datetime.fromisoformat(ti.end_date))
                            self._ended[key.task_id] = max(ended, self._ended.get(key.task_id, ended))
        return self._xcom_cache

    def _index(self, xcoms: list[dict[str, Any]]) -> dict[tuple[str, str], Any]:
        """Values by (task, key); a mapped task's value is the list of its
        instances' values, in map-index order (as Airflow pulls it)."""
        plain: dict[tuple[str, str], Any] = {}
        mapped: dict[tuple[str, str], list[tuple[int, Any]]] = {}
        for x in xcoms:
            index = int(x.get("map_index", -1))
            if index < 0:
                plain[(x["task_id"], x["key"])] = x["value"]
            else:
                mapped.setdefault((x["task_id"], x["key"]), []).append((index, x["value"]))
                self._mapped_xcom[(x["task_id"], x["key"], index)] = x["value"]
        for name, values in mapped.items():
            plain[name] = [v for _, v in sorted(values, key=lambda iv: iv[0])]
        return plain

    def _values_of(self, task_id: str) -> dict[tuple[str, str], Any]:
        """Where a task's values are: the payload (the upstream tasks'), else the store."""
        return self._given if task_id in self._given_tasks else self._stored_xcom()

    def has_xcom(self, task_id: str, key: str = "return_value") -> bool:
        if task_id == self.task_id and key in self._pushed:
            return True
        return (task_id, key) in self._values_of(task_id)

    def xcom_pull(self, task_ids: str | list[str] | None = None, dag_id: str | None = None,
                  key: str = "return_value", include_prior_dates: bool = False,
                  map_indexes: Any = None, default: Any = None, **_: Any) -> Any:
        """One task id gives its value (`default` if absent); a list gives a list."""
        if dag_id is not None and dag_id != self.dag_id:
            raise TaskFailed(f"xcom_pull from another DAG ({dag_id!r}) is not supported yet")
        if task_ids is None:
            latest = self._latest_with(key)
            if latest is None:
                return default
            task_ids = latest

        def one(tid: str) -> Any:
            if tid == self.task_id and key in self._pushed:
                return self._pushed[key]
            stored = self._values_of(tid)
            if isinstance(map_indexes, int):
                return self._mapped_xcom.get((tid, key, map_indexes), default)
            if isinstance(map_indexes, list | tuple | range):
                return [self._mapped_xcom.get((tid, key, i), default) for i in map_indexes]
            if (tid, key) not in stored and self._mapped(tid):
                return []  # a mapped task none of whose instances returned a value (as Airflow pulls it)
            return stored.get((tid, key), default)

        if isinstance(task_ids, str):
            return one(task_ids)
        return [one(t) for t in task_ids]

    def _latest_with(self, key: str) -> str | None:
        """The task whose `key` `xcom_pull(task_ids=None)` reads: this task's own
        when it has one (Airflow 3's rule), else the task of this run that wrote
        the key last (Airflow 2's rule, which most Airflow 2 DAGs rely on: a push in
        one task, a pull without task_ids in the next). Last is the latest end of
        the pushing task's try, as the store records it."""
        if self.has_xcom(self.task_id, key):
            return self.task_id
        stored = self._stored_xcom()
        found = {tid for tid, k in (*self._given, *stored) if k == key}
        if not found:
            return None
        never = datetime.min.replace(tzinfo=UTC)
        # without end times (values sent along, as on Dask) the task latest in the DAG's order
        order = {t: i for i, t in enumerate(self.dag.topological_order())} if self.dag is not None else {}
        return max(sorted(found), key=lambda tid: (self._ended.get(tid, never), order.get(tid, -1)))

    def _mapped(self, task_id: str) -> bool:
        dag = self.dag
        task = dag.task_dict.get(task_id) if dag is not None else None
        return task is not None and hasattr(task, "unmap")

    def request(self, name: str, value: Any) -> None:
        """Ask the engine to do something when it records this try's result
        (trigger a run, say): the task process itself never writes state."""
        self._requests[name] = value

    def skip_downstream(self, task_ids: list[str], all_below: bool = False) -> None:
        self._skip = list(task_ids)
        self._skip_all_below = all_below

    def get_dagrun(self) -> Any:
        return (self._context or {}).get("dag_run")

    def get_template_context(self) -> dict[str, Any]:
        return self._context or {}

    def render_templates(self, context: dict[str, Any] | None = None) -> Any:
        from flowctl.runtime.templating import render_fields

        if self.task is not None:
            render_fields(self.task, context or self._context or {})
        return self.task

    def __repr__(self) -> str:
        return f"<TaskInstance: {self.dag_id}.{self.task_id} {self.run_id} [{self.state}]>"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _check_json(value: Any, what: str) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TaskFailed(
            f"{what} is a {type(value).__name__}, not a JSON value ({exc}); "
            f"XCom values must be JSON values (str, number, bool, None, list, dict)"
        ) from None


def xcom_too_big(key: str, task_id: str, size: int, limit: int | None) -> str:
    """The one line a too-large XCom fails its task with."""
    return (f"XCom {key!r} of task {task_id!r} is {size:,} bytes of JSON, over the limit of "
            f"{limit:,} bytes (setting max_xcom_bytes / FLOWCTL_MAX_XCOM_BYTES)")


def check_xcom_size(key: str, task_id: str, value: Any, limit: int) -> None:
    if isinstance(value, str) and len(value) > limit:  # no need to encode a huge string to know
        raise TaskFailed(xcom_too_big(key, task_id, len(value) + 2, limit))
    size = len(json.dumps(value).encode())
    if size > limit:
        raise TaskFailed(xcom_too_big(key, task_id, size, limit))


def xcom_limit(payload: dict[str, Any]) -> int:
    """`max_xcom_bytes` from the payload, else the environment or flowctl.toml, else 1 MB."""
    if payload.get("max_xcom_bytes"):
        return int(payload["max_xcom_bytes"])
    from flowctl.config import max_xcom_bytes
    from flowctl.errors import UsageError

    try:
        return max_xcom_bytes()
    except UsageError:
        return 1 << 20


def resolve_references(value: Any, ti: TaskInstanceHandle, context: dict[str, Any], strict: bool = False) -> Any:
    """XComArgs and DagParams inside a value, replaced by what they stand for now.
    With `strict` (`tasks test`), an upstream value that is not there is an error."""
    from flowctl.authoring.dag import DagParam
    from flowctl.authoring.operators import XComArg

    if isinstance(value, XComArg):
        tid = value.operator.task_id
        if strict and not ti.has_xcom(tid, value.key):
            raise TaskFailed(
                f"the value of upstream task {tid!r} (XCom {value.key!r}) is not there: tasks test writes no "
                f"state, so run the DAG first (flowctl run) and test against that run with --logical-date"
            )
        return ti.xcom_pull(task_ids=tid, key=value.key)
    if isinstance(value, DagParam):
        return value.resolve(context)
    if hasattr(value, "resolve_with"):  # .map / .zip / .concat of task values
        return value.resolve_with(lambda arg: resolve_references(arg, ti, context, strict))
    if isinstance(value, list):
        return [resolve_references(v, ti, context, strict) for v in value]
    if isinstance(value, tuple):
        return tuple(resolve_references(v, ti, context, strict) for v in value)
    if isinstance(value, dict):
        return {k: resolve_references(v, ti, context, strict) for k, v in value.items()}
    return value


def resolve_xcom_args(value: Any, ti: TaskInstanceHandle) -> Any:
    """XComArgs inside a value, replaced by their values (kept for callers of the old name)."""
    return resolve_references(value, ti, {})


def log_line(message: str) -> None:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    sys.stdout.write(f"[{stamp}] flowctl: {message}\n")
    sys.stdout.flush()


class _TaskLogHandler(logging.StreamHandler):
    """Log records to the current `sys.stdout` (the try's log), whatever it is by then."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def prepare_fork_server(dags: dict[str, Any]) -> None:
    """What every try of these DAGs would make for itself, made once in the
    fork server before it forks tries: each DAG's Jinja environment and the
    task log handler. A try then shares them instead of building its own (a
    try is a fresh process: whatever it makes costs it page faults)."""
    from flowctl.authoring.operators import signature_of
    from flowctl.runtime.templating import environment

    setup_task_logging()
    for dag in dags.values():
        try:
            environment(dag)
            for task in dag.task_dict.values():
                fn = getattr(task, "python_callable", None)
                if fn is None:  # a mapped task: each instance builds its operator from these
                    fn = (getattr(task, "partial_kwargs", None) or {}).get("python_callable")
                if callable(fn):
                    signature_of(fn)
        except Exception:  # noqa: BLE001 - a warm-up; the try reports any real problem
            pass


def setup_task_logging() -> None:
    """Records of `logging` at INFO and above go to the task's log, with a timestamp."""
    root = logging.getLogger()
    if any(isinstance(h, _TaskLogHandler) for h in root.handlers):
        return
    handler = _TaskLogHandler()
    handler.setFormatter(logging.Formatter(
        "[%(asctime)s] {%(filename)s:%(lineno)d} %(levelname)s - %(message)s", "%Y-%m-%d %H:%M:%S"))
    handler.setLevel(logging.INFO)
    root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)


def _prepare(task: Any, payload: dict[str, Any], home: str | None, limit: int) -> None:
    task._xcom_limit = limit
    task._flowctl_home = home
    if home and getattr(task.dag, "airflow_layer", False):
        os.environ.setdefault("AIRFLOW_HOME", home)  # Airflow's tasks always have one


def _store_result(task: Any, ti: TaskInstanceHandle, value: Any, limit: int) -> None:
    """The return value as XCom: `return_value`, and each key with multiple_outputs."""
    if value is None or not getattr(task, "do_xcom_push", True):
        return
    _check_json(value, f"the return value of {task.task_id!r}")
    if getattr(task, "multiple_outputs", False):
        if not isinstance(value, dict):
            raise TaskFailed(f"multiple_outputs is set, so {task.task_id!r} must return a dict, "
                             f"not a {type(value).__name__}")
        for key, item in value.items():
            if not isinstance(key, str):
                raise TaskFailed(f"multiple_outputs: the returned dict's keys must be strings, not {key!r}")
            check_xcom_size(key, task.task_id, item, limit)
            ti._pushed.setdefault(key, item)
    check_xcom_size("return_value", task.task_id, value, limit)
    ti._pushed.setdefault("return_value", value)


def execute_task(dag: Any, payload: dict[str, Any], home: str | None) -> dict[str, Any]:
    """Run one try of `payload['task_id']` in this process; return its result.

    Used by the task process and by `flowctl tasks test` (home None: no XCom
    from the store)."""
    from flowctl import masking, variables
    from flowctl.runtime.context import set_current_context
    from flowctl.runtime.templating import build_context, render_fields

    saved = sys.stdout, sys.stderr
    if not isinstance(sys.stdout, masking.RedactingWriter):
        sys.stdout = masking.RedactingWriter(sys.stdout)
    if not isinstance(sys.stderr, masking.RedactingWriter):
        sys.stderr = masking.RedactingWriter(sys.stderr)
    setup_task_logging()
    if home:
        variables.use_home(home)
    try:
        return _execute(dag, payload, home, build_context, render_fields, set_current_context)
    finally:
        sys.stdout.flush()
        sys.stdout, sys.stderr = saved


def _execute(dag: Any, payload: dict[str, Any], home: str | None, build_context: Any, render_fields: Any,
             set_current_context: Any) -> dict[str, Any]:
    task = dag.get_task(payload["task_id"])
    ti = TaskInstanceHandle(payload, home)
    ti.dag = dag
    if hasattr(task, "unmap"):  # one instance of a mapped task: the real operator, with its element
        try:
            task = _unmapped(task, ti, payload["run"].get("run_type") == "test")
        except Exception as exc:  # noqa: BLE001 - the expand input is the user's
            why = str(exc) if isinstance(exc, TaskFailed) else _error_text(exc)
            error = f"cannot make instance {ti.map_index} of mapped task {task.task_id!r}: {why}"
            log_line(f"failed: {error}")
            return {"state": "failed", "xcom": {}, "error": error}
    run = payload["run"]
    limit = xcom_limit(payload)
    ti._xcom_limit = limit
    result: dict[str, Any] = {"state": "failed", "xcom": {}, "error": None}
    instance = f"[{ti.map_index}]" if ti.map_index >= 0 else ""
    log_line(
        f"{dag.dag_id}.{task.task_id}{instance} {run['run_id']} try {payload['try_number']} "
        f"started (pid {os.getpid()})"
    )
    started = time.perf_counter()
    context: dict[str, Any] = {}
    try:
        _prepare(task, payload, home, limit)
        context = build_context(
            dag=dag, task=task, ti=ti, run=run, timezone=payload["timezone"],
            prev_success=payload.get("prev_success"),
        )
        ti.attach(task, context)
        set_current_context(context)
        render_fields(task, context)
        strict = run.get("run_type") == "test"
        for name in {*task.template_fields, "op_args", "op_kwargs"}:
            if hasattr(task, name):
                setattr(task, name, resolve_references(getattr(task, name), ti, context, strict))
        if getattr(task, "on_execute_callback", None):
            _call_all(task.on_execute_callback, context)
        task.pre_execute(context)
        value = task.execute(context)
        yielded: list[Any] = []
        if inspect.isgenerator(value):  # a task that yields Metadata for its outlets
            value = _drain(value, yielded)
        task.post_execute(context, value)
        _store_result(task, ti, value, limit)
        events = _outlet_events(task, context, yielded)
        if events:
            result["outlet_events"] = events
        result["state"] = "success"
    except TaskSkipped as exc:
        result["state"] = "skipped"
        log_line(f"skipped: {exc}" if str(exc) else "skipped")
        if getattr(task, "on_skipped_callback", None):
            ti.state = "skipped"  # as Airflow sets it before the callback
            try:
                _call_all(task.on_skipped_callback, context)
            except Exception as cb_exc:  # noqa: BLE001
                log_line(f"on_skipped_callback raised {_error_text(cb_exc)}")
    except TaskFailed as exc:
        result["error"] = str(exc) or type(exc).__name__
        if type(exc).__name__ == "SensorTimeout" or getattr(exc, "no_retry", False):
            result["no_retry"] = True  # as Airflow: a timed-out sensor or AirflowFailException is not retried
        log_line(f"failed: {result['error']}")
    except BaseException as exc:  # noqa: BLE001 - task code may raise anything
        if type(exc).__name__ == "Reschedule":
            result.update(state="reschedule", next_poke_at=exc.next_poke_at, first_poke_at=exc.first_poke_at)
            result.update(ti._requests)
            log_line(f"not yet: next poke at {exc.next_poke_at} (the worker slot is freed meanwhile)")
            set_current_context(None)
            return result
        if isinstance(exc, SystemExit) and exc.code in (0, None):
            result["state"] = "success"
        else:
            print_user_traceback(exc)
            result["error"] = _error_text(exc)
            if getattr(exc, "no_retry", False):
                result["no_retry"] = True
            log_line(f"failed: {result['error']}")
    finally:
        set_current_context(None)
    template = getattr(task, "map_index_template", None)
    if template and ti.map_index >= 0 and "dag" in context:
        result["rendered_map_index"] = _rendered_map_index(template, task, context)
    if result["state"] == "success":
        result["xcom"] = ti._pushed
        result.update(ti._requests)
        if ti._skip:
            result["skip_downstream"] = ti._skip
            result["skip_all_below"] = ti._skip_all_below
        log_line(f"success in {time.perf_counter() - started:.3f} s")
    return result


def _unmapped(task: Any, ti: TaskInstanceHandle, strict: bool) -> Any:
    if ti.map_index < 0:
        raise TaskFailed("a mapped task runs as its instances; this one has no map index")
    values = task.values_for(ti.map_index, lambda arg: resolve_references(arg, ti, {}, strict))
    return task.unmap(values)


def _rendered_map_index(template: str, task: Any, context: dict[str, Any]) -> str | None:
    """The instance's name from `map_index_template`, rendered after it ran
    (the task may have set what it names in the context), as in Airflow."""
    from flowctl.runtime.templating import render

    try:
        text = render(template, context, task=None)
    except Exception as exc:  # noqa: BLE001 - a name, never a reason to fail the try
        log_line(f"map_index_template: {_error_text(exc)}")
        return None
    return str(text)[:250] if text not in (None, "") else None


def _drain(generator: Any, yielded: list[Any]) -> Any:
    """Run a generator task to its end: what it yields is kept (Metadata for its
    outlets), what it returns is its value."""
    while True:
        try:
            yielded.append(next(generator))
        except StopIteration as stop:
            return stop.value


def _outlet_events(task: Any, context: dict[str, Any], yielded: list[Any]) -> list[dict[str, Any]]:
    """The asset events this successful try asks the engine to record (see authoring/assets.py)."""
    if not getattr(task, "outlets", None):
        return []
    from flowctl.authoring.assets import outlet_event_docs

    return outlet_event_docs(task, context["outlet_events"], yielded)


def _call_all(callbacks: Any, context: dict[str, Any]) -> None:
    for fn in callbacks if isinstance(callbacks, list | tuple) else [callbacks]:
        fn(context)


def print_user_traceback(exc: BaseException) -> None:
    """The traceback from the task's own code on: flowctl's frames above it are noise."""
    here = str(Path(__file__).parent.parent)  # the flowctl package
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(here) and tb.tb_next is not None:
        tb = tb.tb_next
    sys.stdout.write("".join(traceback.format_exception(type(exc), exc, tb)))
    sys.stdout.flush()


def _error_text(exc: BaseException) -> str:
    from jinja2 import TemplateNotFound, UndefinedError

    if isinstance(exc, UndefinedError):
        return f"template error: {exc}"
    if isinstance(exc, TemplateNotFound):
        return f"template file not found: {exc}"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


_CALLBACK_STATES = {"on_success_callback": "success", "on_failure_callback": "failed",
                    "on_retry_callback": "up_for_retry", "on_skipped_callback": "skipped"}


def run_callback(dag: Any, payload: dict[str, Any], home: str | None) -> dict[str, Any]:
    """Call a task or DAG callback once, with the context (and the error for
    failures). A callback that raises is logged and changes nothing."""
    from flowctl import masking, variables
    from flowctl.runtime.context import set_current_context
    from flowctl.runtime.templating import build_context

    name = payload["callback"]
    task_id = payload.get("task_id")
    task = dag.get_task(task_id) if task_id and task_id in dag.task_dict else None
    owner = task if task is not None else dag
    fn = getattr(owner, name, None)
    if fn is None:
        return {"state": "success"}
    if not isinstance(sys.stdout, masking.RedactingWriter):
        sys.stdout = masking.RedactingWriter(sys.stdout)
    setup_task_logging()
    if home:
        variables.use_home(home)
    ti = TaskInstanceHandle({**payload, "task_id": task_id or ""}, home)
    ti.dag = dag
    try:
        context = build_context(dag=dag, task=task, ti=ti, run=payload["run"], timezone=payload["timezone"],
                                prev_success=payload.get("prev_success"))
    except TaskFailed:  # a param that fails its check: the callback still gets the rest
        context = build_context(dag=dag, task=None, ti=ti, run={**payload["run"], "conf": {}},
                                timezone=payload["timezone"], prev_success=payload.get("prev_success"))
    if task is not None:
        ti.attach(task, context)
    # what the callback is about has happened: Airflow sets the state before calling it
    outcome = _CALLBACK_STATES.get(name)
    if outcome is not None:
        if task is not None:
            ti.state = outcome
        elif outcome in ("success", "failed"):
            context["dag_run"].state = outcome
    if payload.get("error"):
        context["exception"] = failure_exception(payload["error"], [fn, getattr(task, "python_callable", None)])
    context["reason"] = payload.get("reason")
    set_current_context(context)
    log_line(f"calling {name} of {'task ' + task_id if task is not None else 'DAG ' + dag.dag_id}")
    try:
        _call_all(fn, context)
    except BaseException as exc:  # noqa: BLE001
        print_user_traceback(exc)
        log_line(f"{name} raised {_error_text(exc)}; the state is unchanged")
        return {"state": "failed", "error": _error_text(exc)}
    finally:
        set_current_context(None)
    return {"state": "success"}


def failure_exception(error: str, code: list[Any]) -> BaseException:
    """`context["exception"]` for a failure callback. The callback runs in a
    process of its own after the try, so the exception the task raised is gone;
    from the try's error line (`ValueError: row 17 has no id`) this makes an
    instance of the same class with the same str(): a builtin, or a class the
    callback's or task's module names (`code`: their functions). It has no
    traceback, and only the message as its args. Any other error stays a
    TaskFailed with the error line."""
    import ast
    import builtins

    name, sep, message = error.partition(": ")
    if not name.isidentifier():
        return TaskFailed(error)
    namespaces = [vars(builtins), *(getattr(f, "__globals__", {}) for f in _flat(code))]
    cls = next((ns[name] for ns in namespaces if name in ns), None)
    if not (isinstance(cls, type) and issubclass(cls, BaseException)):
        return TaskFailed(error)
    attempts: list[tuple[Any, ...]] = [(message,)] if sep else [()]
    try:
        attempts.append((ast.literal_eval(message),))  # KeyError's str() is the repr of its key
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        pass
    for args in attempts:
        try:
            exc = cls(*args)
        except Exception:  # noqa: BLE001 - a class whose constructor wants other arguments
            continue
        if str(exc) == (message if sep else ""):
            return exc
    return TaskFailed(error)


def _flat(values: list[Any]) -> list[Any]:
    """Callables, with lists of callbacks opened up."""
    out: list[Any] = []
    for value in values:
        out.extend(value if isinstance(value, list | tuple) else [value])
    return [v for v in out if v is not None]


class LogStream:
    """A try's stdout or stderr (its log file) that a full disk cannot break:
    a write the disk refuses is dropped, so the try's result still reaches
    the engine; the log is incomplete, not the run."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.lost = 0  #: characters the disk refused

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError:
            self.lost += len(text)
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError:
            pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def task_process_main(dags: dict[str, Any], payload: dict[str, Any], result_fd: int) -> None:
    """The body of a forked task process. Never returns."""
    code = 0
    try:
        os.setpgid(0, 0)
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # the fork server ignores it; the task should not
        log_path = payload["log_path"]
        private_dir(Path(log_path).parent)  # every new folder on the way 0700, not only the last
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        os.close(devnull)
        sys.stdout = LogStream(open(1, "w", buffering=1, closefd=False))  # noqa: SIM115
        sys.stderr = LogStream(open(2, "w", buffering=1, closefd=False))  # noqa: SIM115
        dag = dags.get(payload["dag_id"])
        if dag is not None and payload.get("callback"):
            result = run_callback(dag, payload, payload.get("home"))
        elif dag is None:
            result = {"state": "failed", "error": f"DAG {payload['dag_id']!r} is no longer in {payload['fileloc']}", "xcom": {}}
        elif payload["task_id"] not in dag.task_dict:
            result = {"state": "failed", "error": f"task {payload['task_id']!r} is no longer in DAG {payload['dag_id']!r}", "xcom": {}}
        else:
            result = execute_task(dag, payload, payload.get("home"))
        data = json.dumps(result, default=str).encode()
        sys.stdout.flush()  # the log is whole before the result goes: the server then ends the
        sys.stderr.flush()  # try's process group at once, this process with it
        with os.fdopen(result_fd, "wb") as out:
            out.write(data)
    except BaseException:  # noqa: BLE001
        code = 70
        try:
            traceback.print_exc()
            sys.stderr.flush()
        except BaseException:  # noqa: BLE001
            pass
    finally:
        os._exit(code)
