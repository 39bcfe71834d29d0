"""A Dask cluster flowctl did not start: `dask scheduler` and `dask worker`
processes on 127.0.0.1. Tasks run on the workers and their logs and XCom come
back; a worker killed in the middle of a try makes that try fail, and its
retry runs on another worker; nothing hangs and no task process is left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(180)

DAG = """
from datetime import timedelta
from flowctl import DAG, BashOperator, task

with DAG("remote", schedule=None) as dag:
    slow = BashOperator(
        task_id="slow", retries=1, retry_delay=timedelta(seconds=1),
        bash_command="if [ -e {marker}.1 ]; then echo second try; echo 41; "
                     "else touch {marker}.1; exec sleep 98.5; fi",
    )

    @task
    def plus_one(value: str) -> int:
        return int(value) + 1

    plus_one(slow.output)
"""


def dask(*args: str, log: Path) -> subprocess.Popen:
    """A `dask ...` process in its own session (killed with its children)."""
    dask_bin = Path(sys.executable).with_name("dask")
    return subprocess.Popen([str(dask_bin), *args], stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True,
                            env={**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"})


def wait_for(check, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def kill_session(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


def test_a_killed_worker_fails_the_try_and_its_retry_runs_elsewhere(flow, tmp_path: Path):
    marker = tmp_path / "marker"
    flow.write_dag("remote.py", DAG.replace("{marker}", str(marker)))
    info = tmp_path / "scheduler.json"
    scheduler = dask("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                     "--scheduler-file", str(info), log=tmp_path / "scheduler.log")
    workers: list[subprocess.Popen] = []
    run = None
    try:
        wait_for(info.exists, "the Dask scheduler")
        import json

        wait_for(lambda: bool(info.read_text().strip()), "the scheduler file")
        address = json.loads(info.read_text())["address"]
        workers.append(dask("worker", "--scheduler-file", str(info), "--nthreads", "2", "--no-dashboard",
                            "--host", "127.0.0.1", log=tmp_path / "worker-a.log"))
        run = flow.popen("run", "remote", "--json", "--executor", "dask", "--dask-address", address)
        wait_for(lambda: Path(f"{marker}.1").exists(), "the first try to start on worker A")
        wait_for(lambda: subprocess.run(["pgrep", "-f", "sleep 98.5"], capture_output=True).returncode == 0,
                 "the first try's process")
        kill_session(workers[0])  # worker A dies with the try in its hands
        workers.append(dask("worker", "--scheduler-file", str(info), "--nthreads", "2", "--no-dashboard",
                            "--host", "127.0.0.1", log=tmp_path / "worker-b.log"))
        out, err = run.communicate(timeout=120)
        assert run.returncode == 0, err
        tis = {t["task_id"]: t for t in json.loads(out)["tasks"]}
        assert tis["slow"]["state"] == "success" and tis["slow"]["try_number"] == 2
        assert tis["plus_one"]["state"] == "success"
        run_id = json.loads(out)["run_id"]
        first = flow("logs", "remote", run_id, "slow", "--try", "1").out
        assert "worker" in first and "left the cluster" in first
        assert "second try" in flow("logs", "remote", run_id, "slow", "--try", "2").out
        xcom = {x["task_id"]: x["value"] for x in flow("xcom", "list", "remote", run_id, "--json").json()}
        assert xcom == {"slow": "41", "plus_one": 42}
        wait_for(lambda: subprocess.run(["pgrep", "-f", "sleep 98.5"], capture_output=True).returncode != 0,
                 "the killed worker's task process to go", seconds=10)
    finally:
        if run is not None and run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
        for proc in [*workers, scheduler]:
            kill_session(proc)
