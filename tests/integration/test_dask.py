"""The dask executor: the same runs, carried out on a Dask cluster."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.timeout(120)

DAG = """
from datetime import timedelta
from flowctl import DAG, BashOperator, task

with DAG("remote", schedule=None) as dag:
    say = BashOperator(task_id="say", bash_command="echo on a worker; echo 41")

    @task
    def plus_one(value: str) -> int:
        return int(value) + 1

    plus_one(say.output)
    BashOperator(task_id="slow", bash_command="sleep 123.25", execution_timeout=timedelta(seconds=1))
"""


def test_local_cluster_runs_passes_xcom_and_enforces_timeouts(flow):
    """Without an address a local cluster runs the tries; XCom crosses tasks,
    logs come back, and a timed-out try's process group is killed on the worker."""
    flow.write_dag("remote.py", DAG)
    res = flow("run", "remote", "--json", env={"FLOWCTL_EXECUTOR": "dask"}, timeout=90)
    assert res.code == 1, res.err
    tis = {t["task_id"]: t for t in res.json()["tasks"]}
    assert tis["say"]["state"] == "success" and tis["plus_one"]["state"] == "success"
    assert tis["slow"]["state"] == "failed"
    run_id = res.json()["run_id"]
    xcom = {x["task_id"]: x["value"] for x in flow("xcom", "list", "remote", run_id, "--json").json()}
    assert xcom == {"say": "41", "plus_one": 42}
    log = flow("logs", "remote", run_id, "say").out
    assert "Dask worker" in log and "on a worker" in log
    assert "timed out" in flow("logs", "remote", run_id, "slow").out
    import subprocess

    deadline = time.monotonic() + 10
    while subprocess.run(["pgrep", "-f", "sleep 123.25"], capture_output=True).returncode == 0:
        assert time.monotonic() < deadline, "the timed-out task's process survived"
        time.sleep(0.2)


def test_an_address_reaches_a_running_cluster(flow):
    """--dask-address sends the tries to that scheduler (here one on 127.0.0.1)."""
    from distributed import LocalCluster

    flow.write_dag("remote.py", DAG.replace('execution_timeout=timedelta(seconds=1)', 'execution_timeout=None')
                   .replace("sleep 123.25", "true"))
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp", host="127.0.0.1",
                      scheduler_port=0, dashboard_address=None) as cluster:
        res = flow("--executor", "dask", "--dask-address", cluster.scheduler_address, "run", "remote", "--json",
                   timeout=90)
        assert res.code == 0, res.err
        ran = [k for k in cluster.scheduler.tasks] + list(getattr(cluster.scheduler, "task_prefixes", {}))
        assert any("flowctl-remote" in str(k) for k in ran), ran
    assert {t["state"] for t in res.json()["tasks"]} == {"success"}


def test_an_unreachable_address_is_one_clear_line(flow):
    """A scheduler that is not there: exit 1, one line naming the address, no run created."""
    flow.write_dag("remote.py", DAG)
    res = flow("--executor", "dask", "--dask-address", "tcp://127.0.0.1:9", "run", "remote", timeout=60)
    assert res.code == 1
    assert "tcp://127.0.0.1:9" in res.err and "Traceback" not in res.err
    assert flow("runs", "list", "--json").json() == []
