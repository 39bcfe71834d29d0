"""The Dask executor: the same task payload, run on a Dask cluster.

The scheduler and the state store stay on this machine. Each try is a Dask
task that starts a fresh Python process on the worker (its own process
group, as locally), which imports the DAG file and runs the try; the try's
log and result come back with the Dask result and are written here. A timeout
or a cleared task sets a Dask Event the worker watches, and the worker kills
the process group. XCom values a task needs are sent with its payload, so a
worker needs no access to the state store, only to the DAG files at the same
path (a shared folder or the same checkout).

A worker that dies in the middle of a try takes the try with it: the try
fails ("the Dask worker ... left the cluster") and its task's `retries`
decide what follows. Dask itself would run the task again elsewhere; a try
runs at most once, so such a second start returns at once without running
it. The try's process on the dead worker's machine ends itself when its
parent is gone.

    FLOWCTL_EXECUTOR=dask FLOWCTL_DASK_ADDRESS=tcp://scheduler:8786 flowctl scheduler
    FLOWCTL_EXECUTOR=dask flowctl run etl          # no address: a local cluster
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from pathlib import Path
from typing import Any

from flowctl.executors.base import Event, Finished, Job, Started
from flowctl.records import JobKey

LOOK_EVERY = 1.0  #: seconds between looks at which workers are still in the cluster


def run_on_worker(payload: dict[str, Any], kill_event: str) -> dict[str, Any]:
    """Runs on a Dask worker: one try in a child process. Returns result and log."""
    import signal
    import subprocess
    import sys
    import tempfile
    import time

    from distributed import Event as DaskEvent
    from distributed import get_worker

    started = DaskEvent(f"{kill_event}-started")
    if started.is_set():  # Dask runs it again after the worker that had it died: a try runs once
        error = ("its Dask worker left the cluster while it ran; Dask started it again here, "
                 "but a try runs at most once (retries start a new try)")
        return {"result": {"state": "failed", "error": error, "xcom": {}}, "exit_code": None,
                "how": "lost on the cluster", "host": socket.gethostname(), "log": f"flowctl: {error}\n"}
    started.set()
    try:
        where = get_worker().address
    except ValueError:
        where = socket.gethostname()
    stop = DaskEvent(kill_event)
    with tempfile.TemporaryDirectory(prefix="flowctl-try-") as tmp:
        result_path = Path(tmp) / "result.json"
        log_path = Path(tmp) / "try.log"
        remote = {**payload, "result_path": str(result_path)}
        with open(log_path, "wb") as log:
            proc = subprocess.Popen([sys.executable, "-m", "flowctl.executors.dask"], stdin=subprocess.PIPE,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(remote).encode())
            proc.stdin.close()
            killed = False
            while proc.poll() is None:
                if not killed and stop.is_set():
                    killed = True
                    os.killpg(proc.pid, signal.SIGTERM)
                    deadline = time.monotonic() + 5
                    while proc.poll() is None and time.monotonic() < deadline:
                        time.sleep(0.05)
                    if proc.poll() is None:
                        os.killpg(proc.pid, signal.SIGKILL)
                time.sleep(0.02)
        code = proc.returncode
        try:
            result = json.loads(result_path.read_text())
        except (OSError, ValueError):
            result = None
        how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        return {"result": result, "exit_code": code, "how": how, "host": socket.gethostname(), "worker": where,
                "log": log_path.read_text(errors="replace")}


def _main() -> None:
    """The try's process on the worker: import the DAG file, run, write the result."""
    import sys

    from flowctl.loader import describe_exception, import_dag_file
    from flowctl.runtime.runner import execute_task, run_callback

    payload = json.loads(sys.stdin.read())
    _end_with_parent()
    try:
        dags = {d.dag_id: d for d in import_dag_file(payload["fileloc"], root=payload.get("dags_folder"))}
    except BaseException as exc:  # noqa: BLE001
        message, _ = describe_exception(exc, payload["fileloc"])
        result = {"state": "failed", "error": f"the DAG file failed to import on the worker: {message}", "xcom": {}}
    else:
        dag = dags.get(payload["dag_id"])
        if dag is None:
            result = {"state": "failed", "error": f"DAG {payload['dag_id']!r} is not in {payload['fileloc']} on the worker", "xcom": {}}
        elif payload.get("callback"):
            result = run_callback(dag, payload, None)
        else:
            result = execute_task(dag, payload, None)
    sys.stdout.flush()
    Path(payload["result_path"]).write_text(json.dumps(result, default=str))


def _end_with_parent() -> None:
    """The worker that started this process may die (killed, its machine
    lost): then this process and its children end too, rather than run on
    unseen. A thread watches the parent; the process leads its own group."""
    import signal
    import threading
    import time

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os.killpg(os.getpgrp(), signal.SIGKILL)

    threading.Thread(target=watch, daemon=True, name="flowctl-parent-watch").start()


class DaskExecutor:
    """Submits tries to a Dask cluster (an address, or a local cluster)."""

    name = "dask"

    def __init__(self, address: str | None, workers: int = 2) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            from flowctl.errors import UsageError

            raise UsageError("the dask executor needs Dask: pip install 'flowctl[dask]'") from None
        self._cluster = None
        if address:
            try:
                self.client = Client(address, timeout="10s")
            except OSError as exc:
                from flowctl.errors import FlowctlError

                raise FlowctlError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        else:
            self._cluster = LocalCluster(n_workers=1, threads_per_worker=max(1, workers), processes=False,
                                         dashboard_address=None)
            self.client = Client(self._cluster)
        self._futures: dict[JobKey, Any] = {}
        self._where: dict[JobKey, str] = {}  #: the worker each try was last seen running on
        self._looked = 0.0
        self._payloads: dict[JobKey, dict[str, Any]] = {}
        self._events: list[Event] = []
        self.wake_fds: list[int] = []

    def prepare(self, fileloc: str, version: str) -> None:
        pass  # a worker imports the DAG file with the first try it runs

    def submit(self, job: Job) -> None:
        key = job.key
        payload = dict(job.payload)
        payload["xcom_values"] = self._xcoms(payload)
        kill_event = f"flowctl-kill-{uuid.uuid4().hex}"
        payload["_kill_event"] = kill_event
        future = self.client.submit(run_on_worker, payload, kill_event, pure=False,
                                    key=f"flowctl-{payload['dag_id']}-{payload.get('task_id')}-{uuid.uuid4().hex[:8]}")
        self._futures[key] = future
        self._payloads[key] = payload
        self._events.append(Started(key, 0, "dask"))

    @staticmethod
    def _xcoms(payload: dict[str, Any]) -> list[dict[str, Any]]:
        """The run's XCom values, so the worker needs no access to the store."""
        home = payload.get("home")
        if not home:
            return []
        from flowctl.store import Store

        data = Store(Path(home)).read_run(payload["dag_id"], payload["run_id"])
        return data.xcoms if data is not None else []

    def running(self) -> int:
        return len(self._futures)

    def poll(self, timeout: float) -> list[Event]:
        from distributed import wait

        events, self._events = self._events, []
        done = [k for k, f in self._futures.items() if f.done()]
        if not done and not events and self._futures and timeout > 0:
            try:
                wait(list(self._futures.values()), timeout=timeout, return_when="FIRST_COMPLETED")
            except TimeoutError:
                pass
            done = [k for k, f in self._futures.items() if f.done()]
        elif not self._futures and not events and timeout > 0:
            import time

            time.sleep(timeout)
        events.extend(self._lost_with_their_workers())
        for key in done:
            if key not in self._futures:
                continue
            self._where.pop(key, None)
            future = self._futures.pop(key)
            payload = self._payloads.pop(key)
            try:
                answer = future.result()
            except Exception as exc:  # noqa: BLE001 - a lost worker, a cancelled future
                answer = {"result": {"state": "failed", "error": f"the Dask task failed: {type(exc).__name__}: {exc}", "xcom": {}},
                          "exit_code": None, "how": "lost on the cluster", "log": ""}
            self._write_log(payload, answer)
            events.append(Finished(key, answer["result"], answer["exit_code"], answer["how"]))
        return events

    def _lost_with_their_workers(self) -> list[Event]:
        """Tries whose worker left the cluster while it ran them: failed now
        (Dask would wait for another worker, or run them again there)."""
        import time

        if not self._futures or time.monotonic() - self._looked < LOOK_EVERY:
            return []
        self._looked = time.monotonic()
        try:
            processing = self.client.processing()
            workers = set(self.client.scheduler_info().get("workers", {}))
        except Exception:  # noqa: BLE001 - the scheduler is busy or away: look again later
            return []
        ours = {f.key: k for k, f in self._futures.items()}
        for worker, dask_keys in processing.items():
            for dask_key in dask_keys:
                if dask_key in ours:
                    self._where[ours[dask_key]] = worker
        events: list[Event] = []
        for key, worker in list(self._where.items()):
            if worker in workers or key not in self._futures:
                continue
            from distributed import Event as DaskEvent

            future, payload = self._futures.pop(key), self._payloads.pop(key)
            del self._where[key]
            DaskEvent(payload["_kill_event"], client=self.client).set()
            future.cancel()
            error = f"the Dask worker {worker} running this try left the cluster"
            self._write_log(payload, {"log": f"flowctl: {error}\n"})
            events.append(Finished(key, {"state": "failed", "error": error, "xcom": {}}, None, "lost on the cluster"))
        return events

    @staticmethod
    def _write_log(payload: dict[str, Any], answer: dict[str, Any]) -> None:
        from flowctl.store import private_dir

        path = Path(payload["log_path"])
        private_dir(path.parent)
        with open(path, "a") as f:
            if answer.get("host"):
                f.write(f"(ran on Dask worker host {answer['host']})\n")
            f.write(answer.get("log", ""))

    def kill(self, key: JobKey, hard: bool = False) -> None:
        payload = self._payloads.get(key)
        if payload is None:
            return
        from distributed import Event as DaskEvent

        DaskEvent(payload["_kill_event"], client=self.client).set()

    def shutdown(self, grace: float = 0.0) -> list[Event]:
        events: list[Event] = []
        if grace > 0:
            events = self.poll(grace)
        for key in list(self._futures):
            self.kill(key, hard=True)
        try:
            self.client.close()
            if self._cluster is not None:
                self._cluster.close()
        except Exception:  # noqa: BLE001 - closing must not mask the run's outcome
            pass
        return events


if __name__ == "__main__":
    _main()
