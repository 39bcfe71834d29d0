"""Sensors: tasks that wait for something to become true.

A sensor's `poke(context)` answers "is it there yet?". In `poke` mode the
task keeps its worker slot and pokes every `poke_interval` until the answer
is yes or `timeout` has passed. In `reschedule` mode each try pokes once and,
when the answer is no, raises `Reschedule`: the slot is freed and the
scheduler runs the task again at `Reschedule.next_poke_at`.

Timeout is measured from the *first* poke of the task instance, across
reschedules. In reschedule mode that time comes from the scheduler, through
`context["ti"].first_poke_at`:

- `ti.first_poke_at` missing or None: this is the first poke; the first poke
  time is now. The `Reschedule` raised carries it as `first_poke_at`.
- otherwise: an ISO 8601 string (with an offset; a naive one is read as UTC)
  or a number of epoch seconds; the time the instance first poked.

So the scheduler side stores `Reschedule.first_poke_at` on the task instance
the first time it sees one (keeping the first value it stored), and passes it
back as `ti.first_poke_at` on every later poke of the same try. It forgets it
when a new try starts (retry or clear), so a new try gets a fresh timeout.
"""

from __future__ import annotations

import glob
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from flowctl.authoring.operators import (
    BaseOperator,
    _as_timedelta,
    _source_of,
    call_with_context,
    link_references,
    set_callable,
)
from flowctl.errors import DagDefinitionError, TaskFailed, TaskSkipped

MODES = ("poke", "reschedule")
DEFAULT_POKE_INTERVAL = timedelta(seconds=60)
DEFAULT_TIMEOUT = timedelta(days=7)


class Reschedule(Exception):
    """Raised by a sensor in reschedule mode whose poke said "not yet".

    `next_poke_at`: when to poke again (ISO 8601, UTC).
    `first_poke_at`: when this task instance first poked (ISO 8601, UTC); the
    scheduler stores it and hands it back as `ti.first_poke_at`.
    """

    def __init__(self, next_poke_at: str, first_poke_at: str | None = None) -> None:
        super().__init__(f"rescheduled: next poke at {next_poke_at}")
        self.next_poke_at = next_poke_at
        self.first_poke_at = first_poke_at


class SensorTimeout(TaskFailed):
    """A sensor's timeout passed before its condition came true (a `TaskFailed`)."""


class PokeReturnValue:
    """What a poke may return instead of a bool: whether it is done, and the
    value to push as the sensor's XCom `return_value` (Airflow's)."""

    def __init__(self, is_done: bool, xcom_value: Any = None) -> None:
        self.is_done = is_done
        self.xcom_value = xcom_value

    def __bool__(self) -> bool:
        return bool(self.is_done)

    def __repr__(self) -> str:
        return f"PokeReturnValue(is_done={self.is_done!r}, xcom_value={self.xcom_value!r})"


def sensor_verdict(
    first_poke_at: float, now: float, poked_true: bool, timeout: float, soft_fail: bool
) -> str:
    """What a sensor does after one poke; times are epoch seconds.

    "done" when the poke said yes; else, once `timeout` seconds have passed
    since the first poke (at the boundary included), "timeout_skip" with
    `soft_fail` and "timeout_fail" without; else "wait".
    """
    if poked_true:
        return "done"
    if now - first_poke_at >= timeout:
        return "timeout_skip" if soft_fail else "timeout_fail"
    return "wait"


def _seconds_text(seconds: float) -> str:
    return f"{seconds:g} s"


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def _epoch_of(value: Any) -> float | None:
    """An epoch-seconds float from an ISO string, a number or a datetime."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError(f"first_poke_at must be a time, not {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        value = datetime.fromisoformat(text)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    raise TypeError(f"first_poke_at must be an ISO 8601 string or epoch seconds, not {value!r}")


class BaseSensorOperator(BaseOperator):
    """Waits until `poke(context)` returns True.

    `poke_interval` and `timeout` are seconds or timedeltas (defaults 60 s and
    7 days); `soft_fail=True` ends a timed-out sensor as skipped instead of
    failed; `mode` is "poke" (hold the worker slot, sleep between pokes) or
    "reschedule" (one poke per try; free the slot between pokes).

    Timeout counts from the first poke of the task instance; in reschedule
    mode the first poke time is `context["ti"].first_poke_at` when that
    attribute exists and is not None (ISO 8601 string or epoch seconds,
    provided by the scheduler), otherwise now. See the module docstring.
    """

    ui_color = "khaki1"

    def __init__(
        self,
        task_id: str,
        poke_interval: float | timedelta = DEFAULT_POKE_INTERVAL,
        timeout: float | timedelta = DEFAULT_TIMEOUT,
        soft_fail: bool = False,
        mode: str = "poke",
        deferrable: bool = False,
        exponential_backoff: bool = False,
        max_wait: float | timedelta | None = None,
        silent_fail: bool = False,
        never_fail: bool = False,
        **kwargs: Any,
    ) -> None:
        if deferrable:
            mode = "reschedule"  # Airflow's deferral frees the slot; reschedule does that here
        if mode not in MODES:
            raise DagDefinitionError(
                f"task {task_id!r}: sensor mode must be 'poke' or 'reschedule', not {mode!r}"
            )
        interval = _as_timedelta(poke_interval, f"task {task_id!r}: poke_interval")
        limit = _as_timedelta(timeout, f"task {task_id!r}: timeout")
        if interval is None or interval < timedelta(0):
            raise DagDefinitionError(
                f"task {task_id!r}: poke_interval must be zero or more seconds, not {poke_interval!r}"
            )
        if limit is None or limit < timedelta(0):
            raise DagDefinitionError(
                f"task {task_id!r}: timeout must be zero or more seconds, not {timeout!r}"
            )
        self.mode = mode
        self.poke_interval_td: timedelta = interval
        self.poke_interval: float = interval.total_seconds()
        self.timeout_td: timedelta = limit
        self.timeout: float = limit.total_seconds()
        self.soft_fail = bool(soft_fail) or bool(never_fail)
        self.deferrable = bool(deferrable)
        self._poke_value: Any = None
        super().__init__(task_id=task_id, **kwargs)
        for name, value in (("exponential_backoff", exponential_backoff), ("max_wait", max_wait),
                            ("silent_fail", silent_fail)):
            if value:
                self.dag.warn(name, self.task_id)

    def poke(self, context: dict[str, Any]) -> bool | PokeReturnValue:
        raise NotImplementedError

    def seconds_until_done(self, context: dict[str, Any]) -> float | None:
        """When the condition will come true, for sensors that know (time sensors):
        the next poke is then no later than that."""
        return None

    def _poke(self, context: dict[str, Any]) -> bool:
        value = self.poke(context)
        if isinstance(value, PokeReturnValue):
            self._poke_value = value.xcom_value
            return bool(value.is_done)
        return bool(value)

    def _pause(self, context: dict[str, Any], now: float, deadline: float) -> float:
        pause = self.poke_interval
        hint = self.seconds_until_done(context)
        if hint is not None:
            pause = min(pause, max(0.0, hint) + 0.05)
        return max(0.0, min(pause, deadline - now))

    def _timed_out(self, verdict: str) -> BaseException:
        message = f"sensor timed out after {_seconds_text(self.timeout)}"
        if verdict == "timeout_skip":
            return TaskSkipped(f"{message} (soft_fail)")
        return SensorTimeout(message)

    def execute(self, context: dict[str, Any]) -> Any:
        if self.mode == "reschedule":
            return self._execute_reschedule(context)
        return self._execute_poke(context)

    def _execute_poke(self, context: dict[str, Any]) -> Any:
        first = time.time()
        number = 0
        while True:
            number += 1
            poked = self._poke(context)
            now = time.time()
            verdict = sensor_verdict(first, now, poked, self.timeout, self.soft_fail)
            if verdict == "done":
                print(f"poke {number}: condition met", flush=True)
                return self._poke_value
            if verdict != "wait":
                print(f"poke {number}: not yet; timed out", flush=True)
                raise self._timed_out(verdict)
            # Never sleep past the deadline: the last poke happens at the timeout.
            pause = self._pause(context, now, first + self.timeout)
            print(f"poke {number}: not yet; next in {_seconds_text(round(pause, 3))}", flush=True)
            time.sleep(pause)

    def _execute_reschedule(self, context: dict[str, Any]) -> Any:
        ti = context.get("ti")
        stored = getattr(ti, "first_poke_at", None)
        poked = self._poke(context)
        now = time.time()
        try:
            first = _epoch_of(stored)
        except (TypeError, ValueError) as exc:
            raise TaskFailed(f"ti.first_poke_at is not a time: {exc}") from None
        if first is None:
            first = now
        verdict = sensor_verdict(first, now, poked, self.timeout, self.soft_fail)
        if verdict == "done":
            print("poke: condition met", flush=True)
            return self._poke_value
        if verdict != "wait":
            print(f"poke: not yet; timed out (first poke at {_iso(first)})", flush=True)
            raise self._timed_out(verdict)
        next_at = now + self._pause(context, now, first + self.timeout)
        print(
            f"poke: not yet; rescheduled, next in {_seconds_text(next_at - now)} "
            f"(at {_iso(next_at)})",
            flush=True,
        )
        raise Reschedule(next_poke_at=_iso(next_at), first_poke_at=_iso(first))


class PythonSensor(BaseSensorOperator):
    """Done when `python_callable(*op_args, **op_kwargs)` returns a truthy value;
    the callable receives context values for its parameters of the same names."""

    template_fields = ("templates_dict", "op_args", "op_kwargs")

    def __init__(
        self,
        task_id: str,
        python_callable: Callable[..., Any],
        op_args: list[Any] | None = None,
        op_kwargs: dict[str, Any] | None = None,
        templates_dict: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        set_callable(self, task_id, python_callable, op_args, op_kwargs)
        self.templates_dict = templates_dict
        super().__init__(task_id=task_id, **kwargs)
        link_references(self)

    def code_text(self) -> str:
        return _source_of(self.python_callable)

    def poke(self, context: dict[str, Any]) -> bool | PokeReturnValue:
        context["templates_dict"] = self.templates_dict  # rendered, as PythonOperator's
        value = call_with_context(self.python_callable, self.op_args, self.op_kwargs, context)
        return value if isinstance(value, PokeReturnValue) else bool(value)


class DecoratedSensor(PythonSensor):
    """`@task.sensor`: the function is the poke; it returns a bool or a PokeReturnValue."""

    @property
    def operator_name(self) -> str:
        return "@task.sensor"


class BashSensor(BaseSensorOperator):
    """Done when `bash_command` exits 0 (Airflow's). With `retry_exit_code`, that
    code means "not yet" and any other non-zero code fails the sensor."""

    template_fields = ("bash_command", "env", "cwd")
    template_ext = (".sh", ".bash")

    def __init__(self, task_id: str, bash_command: str, env: dict[str, str] | None = None,
                 output_encoding: str = "utf-8", retry_exit_code: int | None = None,
                 cwd: str | None = None, **kwargs: Any) -> None:
        self.bash_command = bash_command
        self.env = env
        self.append_env = False
        self.cwd = cwd
        self.output_encoding = output_encoding
        self.retry_exit_code = retry_exit_code
        super().__init__(task_id=task_id, **kwargs)

    def code_text(self) -> str:
        return str(self.bash_command)

    def poke(self, context: dict[str, Any]) -> bool:
        import subprocess
        import sys

        from flowctl.authoring.operators import airflow_env, bash_working_dir

        env = {**os.environ, **airflow_env(context)} if self.env is None else {**airflow_env(context), **self.env}
        sys.stdout.flush()
        with bash_working_dir(self) as cwd:
            code = subprocess.run(["bash", "-c", str(self.bash_command)], stdin=subprocess.DEVNULL,
                                  env={str(k): str(v) for k, v in env.items()}, cwd=cwd).returncode
        print(f"Command exited with return code {code}", flush=True)
        if self.retry_exit_code is not None:
            if code == self.retry_exit_code:
                return False
            if code != 0:
                raise TaskFailed(f"Command exited with return code {code}")
        return code == 0


class FileSensor(BaseSensorOperator):
    """Done when `filepath` exists. Glob patterns (`*`, `?`, `[...]`) are
    allowed, `**` across folders with `recursive=True`; `~` is expanded. As in
    Airflow, a relative path is relative to the `path` extra of the connection
    `fs_conn_id` (`fs_default` when not given; without such a connection, the
    task's working directory), and a directory counts only once it holds a file
    (directly or in a subdirectory)."""

    template_fields = ("filepath",)

    def __init__(self, task_id: str, filepath: str | os.PathLike[str], fs_conn_id: str = "fs_default",
                 recursive: bool = False, **kwargs: Any) -> None:
        if not isinstance(filepath, str | os.PathLike) or not str(filepath).strip():
            raise DagDefinitionError(f"task {task_id!r}: filepath must be a non-empty path")
        self.filepath = str(filepath)
        self._filepath_template = self.filepath
        self.fs_conn_id = fs_conn_id
        self.recursive = bool(recursive)
        super().__init__(task_id=task_id, **kwargs)

    def code_text(self) -> str:
        return self._filepath_template

    @property
    def path(self) -> str:
        """`filepath` under the connection's base path (Airflow's FSHook)."""
        from flowctl import connections

        conn = connections.find(self.fs_conn_id)
        if conn is None and self.fs_conn_id != "fs_default":
            raise TaskFailed(f"The conn_id `{self.fs_conn_id}` isn't defined")
        base = str(conn.extra_dejson.get("path", "")) if conn is not None else ""
        return os.path.join(base, os.path.expanduser(str(self.filepath)))

    def poke(self, context: dict[str, Any]) -> bool:
        pattern = self.path
        print(f"looking for {pattern}", flush=True)
        for match in glob.iglob(pattern, recursive=self.recursive):
            if os.path.isfile(match):
                return True
            if os.path.isdir(match):
                for _root, _dirs, files in os.walk(match):
                    if files:
                        return True
        return False


class TimeDeltaSensor(BaseSensorOperator):
    """Done once `data_interval_end + delta` has passed (Airflow's semantics:
    wait `delta` after the end of the run's data interval)."""

    def __init__(self, task_id: str, delta: timedelta | float, **kwargs: Any) -> None:
        converted = _as_timedelta(delta, f"task {task_id!r}: delta")
        if converted is None:
            raise DagDefinitionError(f"task {task_id!r}: delta must be a timedelta")
        self.delta = converted
        super().__init__(task_id=task_id, **kwargs)

    def code_text(self) -> str:
        return str(self.delta)

    def target_time(self, context: dict[str, Any]) -> datetime:
        end = context.get("data_interval_end") or context.get("logical_date")
        if end is None:
            raise TaskFailed("TimeDeltaSensor needs data_interval_end in the context")
        if isinstance(end, str):
            end = datetime.fromisoformat(end)
        if end.tzinfo is None:
            end = end.replace(tzinfo=UTC)
        return end + self.delta

    def poke(self, context: dict[str, Any]) -> bool:
        target = self.target_time(context)
        print(f"waiting until {target.isoformat()}", flush=True)
        return datetime.now(UTC) >= target

    def seconds_until_done(self, context: dict[str, Any]) -> float | None:
        return (self.target_time(context) - datetime.now(UTC)).total_seconds()


class TimeDeltaSensorAsync(TimeDeltaSensor):
    """Airflow's deferrable TimeDeltaSensor: here a TimeDeltaSensor in reschedule mode."""

    def __init__(self, task_id: str, delta: timedelta | float, **kwargs: Any) -> None:
        kwargs.setdefault("deferrable", True)
        super().__init__(task_id=task_id, delta=delta, **kwargs)
