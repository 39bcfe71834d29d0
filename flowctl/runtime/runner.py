"""What runs inside a task's process: render templates, call the operator,
write the log, and hand back the result (XCom or error).

The task process never writes to the state store: it reads XCom from it,
and its result goes back to the one process that owns the run, which
records it. So a crashing task cannot damage the state.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from flowctl.errors import TaskFailed, TaskSkipped


class TaskInstanceHandle:
    """`ti` in the context: XCom exchange and the try's identity."""

    def __init__(self, payload: dict[str, Any], store_home: str | None) -> None:
        self.dag_id = payload["dag_id"]
        self.run_id = payload["run_id"]
        self.task_id = payload["task_id"]
        self.try_number = payload["try_number"]
        self.hostname = socket.gethostname()
        self.log_path = payload.get("log_path")
        self._home = store_home
        self._pushed: dict[str, Any] = {}
        self._skip: list[str] = []
        self._skip_all_below = False
        self._xcom_cache: dict[tuple[str, str], Any] | None = None
        self.first_poke_at = payload.get("first_poke_at")
        if payload.get("xcom_values") is not None:  # sent along where the store is out of reach (Dask)
            self._xcom_cache = {(x["task_id"], x["key"]): x["value"] for x in payload["xcom_values"]}

    def xcom_push(self, key: str, value: Any) -> None:
        _check_json(value, f"xcom_push({key!r})")
        self._pushed[key] = value

    def _stored_xcom(self) -> dict[tuple[str, str], Any]:
        if self._xcom_cache is None:
            self._xcom_cache = {}
            if self._home is not None:
                from flowctl.store import Store

                data = Store(Path(self._home)).read_run(self.dag_id, self.run_id)
                if data is not None:
                    self._xcom_cache = {(x["task_id"], x["key"]): x["value"] for x in data.xcoms}
        return self._xcom_cache

    def xcom_pull(self, task_ids: str | list[str] | None = None, key: str = "return_value") -> Any:
        """One task id gives its value (None if absent); a list gives a list."""
        if task_ids is None:
            task_ids = self.task_id
        stored = self._stored_xcom()

        def one(tid: str) -> Any:
            if tid == self.task_id and key in self._pushed:
                return self._pushed[key]
            return stored.get((tid, key))

        if isinstance(task_ids, str):
            return one(task_ids)
        return [one(t) for t in task_ids]

    def skip_downstream(self, task_ids: list[str], all_below: bool = False) -> None:
        self._skip = list(task_ids)
        self._skip_all_below = all_below

    def __repr__(self) -> str:
        return f"<TaskInstance {self.dag_id}.{self.task_id} {self.run_id} try {self.try_number}>"


def _check_json(value: Any, what: str) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TaskFailed(
            f"{what} is a {type(value).__name__}, not a JSON value ({exc}); "
            f"XCom values must be JSON values (str, number, bool, None, list, dict)"
        ) from None


def resolve_xcom_args(value: Any, ti: TaskInstanceHandle) -> Any:
    from flowctl.authoring.operators import XComArg

    if isinstance(value, XComArg):
        return ti.xcom_pull(task_ids=value.operator.task_id, key=value.key)
    if isinstance(value, list):
        return [resolve_xcom_args(v, ti) for v in value]
    if isinstance(value, tuple):
        return tuple(resolve_xcom_args(v, ti) for v in value)
    if isinstance(value, dict):
        return {k: resolve_xcom_args(v, ti) for k, v in value.items()}
    return value


def log_line(message: str) -> None:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    sys.stdout.write(f"[{stamp}] flowctl: {message}\n")
    sys.stdout.flush()


def execute_task(dag: Any, payload: dict[str, Any], home: str | None) -> dict[str, Any]:
    """Run one try of `payload['task_id']` in this process; return its result.

    Used by the task process and by `flowctl tasks test` (home None: no XCom
    from the store)."""
    from flowctl.runtime.context import set_current_context
    from flowctl.runtime.templating import build_context, render_fields

    task = dag.get_task(payload["task_id"])
    ti = TaskInstanceHandle(payload, home)
    run = payload["run"]
    result: dict[str, Any] = {"state": "failed", "xcom": {}, "error": None}
    log_line(
        f"{dag.dag_id}.{task.task_id} {run['run_id']} try {payload['try_number']} "
        f"started (pid {os.getpid()})"
    )
    started = time.perf_counter()
    try:
        context = build_context(
            dag=dag, task=task, ti=ti, run=run, timezone=payload["timezone"],
            prev_success=payload.get("prev_success"),
        )
        set_current_context(context)
        render_fields(task, context)
        for name in ("op_args", "op_kwargs"):
            if hasattr(task, name):
                setattr(task, name, resolve_xcom_args(getattr(task, name), ti))
        value = task.execute(context)
        if value is not None:
            _check_json(value, f"the return value of {task.task_id!r}")
            ti._pushed.setdefault("return_value", value)
        result["state"] = "success"
    except TaskSkipped as exc:
        result["state"] = "skipped"
        log_line(f"skipped: {exc}")
    except TaskFailed as exc:
        result["error"] = str(exc)
        if type(exc).__name__ == "SensorTimeout":
            result["no_retry"] = True  # as Airflow: a sensor that timed out is not retried
        log_line(f"failed: {exc}")
    except BaseException as exc:  # noqa: BLE001 - task code may raise anything
        if type(exc).__name__ == "Reschedule":
            result.update(state="reschedule", next_poke_at=exc.next_poke_at, first_poke_at=exc.first_poke_at)
            log_line(f"not yet: next poke at {exc.next_poke_at} (the worker slot is freed meanwhile)")
            set_current_context(None)
            return result
        if isinstance(exc, SystemExit) and exc.code in (0, None):
            result["state"] = "success"
        else:
            print_user_traceback(exc)
            result["error"] = _error_text(exc)
            log_line(f"failed: {result['error']}")
    finally:
        set_current_context(None)
    if result["state"] == "success":
        result["xcom"] = ti._pushed
        if ti._skip:
            result["skip_downstream"] = ti._skip
            result["skip_all_below"] = ti._skip_all_below
        log_line(f"success in {time.perf_counter() - started:.3f} s")
    return result


def print_user_traceback(exc: BaseException) -> None:
    """The traceback from the task's own code on: flowctl's frames above it are noise."""
    here = str(Path(__file__).parent.parent)  # the flowctl package
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(here) and tb.tb_next is not None:
        tb = tb.tb_next
    sys.stdout.write("".join(traceback.format_exception(type(exc), exc, tb)))
    sys.stdout.flush()


def _error_text(exc: BaseException) -> str:
    from jinja2 import UndefinedError

    if isinstance(exc, UndefinedError):
        return f"template error: {exc}"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run_callback(dag: Any, payload: dict[str, Any], home: str | None) -> dict[str, Any]:
    """Call a task or DAG callback once, with the context (and the error for
    failures). A callback that raises is logged and changes nothing."""
    from flowctl.runtime.context import set_current_context
    from flowctl.runtime.templating import build_context

    name = payload["callback"]
    task_id = payload.get("task_id")
    task = dag.get_task(task_id) if task_id and task_id in dag.tasks else None
    owner = task if task is not None else dag
    fn = getattr(owner, name, None)
    if fn is None:
        return {"state": "success"}
    ti = TaskInstanceHandle({**payload, "task_id": task_id or ""}, home)
    context = build_context(dag=dag, task=task, ti=ti, run=payload["run"], timezone=payload["timezone"],
                            prev_success=payload.get("prev_success"))
    if payload.get("error"):
        context["exception"] = TaskFailed(payload["error"])
    context["reason"] = payload.get("reason")
    set_current_context(context)
    log_line(f"calling {name} of {'task ' + task_id if task is not None else 'DAG ' + dag.dag_id}")
    try:
        for f in fn if isinstance(fn, list | tuple) else [fn]:
            f(context)
    except BaseException as exc:  # noqa: BLE001
        print_user_traceback(exc)
        log_line(f"{name} raised {_error_text(exc)}; the state is unchanged")
        return {"state": "failed", "error": _error_text(exc)}
    finally:
        set_current_context(None)
    return {"state": "success"}


def task_process_main(dags: dict[str, Any], payload: dict[str, Any], result_fd: int) -> None:
    """The body of a forked task process. Never returns."""
    code = 0
    try:
        os.setpgid(0, 0)
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # the fork server ignores it; the task should not
        log_path = Path(payload["log_path"])
        from flowctl.store import private_dir

        private_dir(log_path.parent)
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        os.close(devnull)
        sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        dag = dags.get(payload["dag_id"])
        if dag is not None and payload.get("callback"):
            result = run_callback(dag, payload, payload.get("home"))
        elif dag is None:
            result = {"state": "failed", "error": f"DAG {payload['dag_id']!r} is no longer in {payload['fileloc']}", "xcom": {}}
        elif payload["task_id"] not in dag.tasks:
            result = {"state": "failed", "error": f"task {payload['task_id']!r} is no longer in DAG {payload['dag_id']!r}", "xcom": {}}
        else:
            result = execute_task(dag, payload, payload.get("home"))
        data = json.dumps(result, default=str).encode()
        with os.fdopen(result_fd, "wb") as out:
            out.write(data)
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # noqa: BLE001
        code = 70
        try:
            traceback.print_exc()
            sys.stderr.flush()
        except BaseException:  # noqa: BLE001
            pass
    finally:
        os._exit(code)
