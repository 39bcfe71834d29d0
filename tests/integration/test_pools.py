"""Pools through the real command: `flowctl pools`, a pool held across a
foreground `run` and the scheduler at the same time, `explain` naming who
holds a full pool, and a task whose pool does not exist."""

from __future__ import annotations

import select
import time

import pytest
from polling import wait_for

pytestmark = pytest.mark.timeout(180)

POOLED = """
import pendulum
from flowctl import DAG, BashOperator
with DAG("pooled", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:
    for i in range(3):
        BashOperator(task_id=f"q{i}", bash_command="sleep {sleep}", pool="warehouse")
"""


def test_pools_commands(flow):
    """set (with a description), list and get with --json, delete; default_pool has the
    worker count and cannot be deleted; a wrong name or size is a usage error."""
    assert flow("pools", "set", "warehouse", "2", "two queries at once").code == 0
    rows = {r["pool"]: r for r in flow("pools", "list", "--json").json()}
    assert rows["default_pool"]["slots"] == 2  # FLOWCTL_WORKERS in the fixture
    assert rows["warehouse"] == {"pool": "warehouse", "slots": 2, "description": "two queries at once",
                                 "occupied": 0, "open": 2, "holders": []}
    assert flow("pools", "set", "warehouse", "3").code == 0  # the description stays
    assert flow("pools", "get", "warehouse", "--json").json()["description"] == "two queries at once"
    assert flow("pools", "set", "warehouse", "3", "--description", "three now").code == 0
    assert flow("pools", "get", "warehouse", "--json").json()["description"] == "three now"
    res = flow("pools", "set", "warehouse", "3", "one", "--description", "other")
    assert res.code == 2 and "give the description once" in res.err
    assert "warehouse" in flow("pools", "list").out
    res = flow("pools", "delete", "default_pool")
    assert res.code == 1 and "default_pool cannot be deleted" in res.err
    assert flow("pools", "set", "bad/name", "1").code == 2
    assert flow("pools", "set", "x", "-5").code == 2
    assert flow("pools", "delete", "warehouse").code == 0
    res = flow("pools", "get", "warehouse")
    assert res.code == 1 and "no pool named 'warehouse'" in res.err
    assert (flow.home / "state" / "pools.json").stat().st_mode & 0o777 == 0o600


def spans(flow, dag_id: str, run: str) -> list[tuple[str, str]]:
    return [(t["start_date"], t["end_date"]) for t in flow("tasks", "states", dag_id, run, "--json").json()]


def test_a_pool_holds_across_a_foreground_run_and_the_scheduler(flow):
    """A pool of one slot, one run carried by `flowctl run` and one by the scheduler at
    the same time: no two of their six tries ever overlap, and both runs succeed."""
    flow.write_dag("pooled.py", POOLED.replace("{sleep}", "0.4"))
    assert flow("pools", "set", "warehouse", "1").code == 0
    assert flow("trigger", "pooled", "--logical-date", "2026-02-01").code == 0
    scheduler = flow.popen("scheduler", "--until-idle", env={"FLOWCTL_WORKERS": "4"})
    try:
        res = flow("run", "pooled", "--logical-date", "2026-02-02", env={"FLOWCTL_WORKERS": "4"})
        assert res.code == 0, res.out + res.err
        assert scheduler.wait(timeout=60) == 0
    finally:
        if scheduler.poll() is None:
            scheduler.kill()
    tries = sorted(spans(flow, "pooled", "2026-02-01") + spans(flow, "pooled", "2026-02-02"))
    assert len(tries) == 6
    for (_, end), (start, _) in zip(tries, tries[1:], strict=False):
        assert end <= start, tries
    assert flow("pools", "get", "warehouse", "--json").json()["occupied"] == 0


def test_explain_names_who_holds_a_full_pool(flow):
    """While a foreground run holds the only slot, a queued run's task is explained
    with the pool, its size and the holder; `pools list` shows the same holder."""
    flow.write_dag("pooled.py", POOLED.replace("{sleep}", "30").replace("range(3)", "range(1)"))
    assert flow("pools", "set", "warehouse", "1").code == 0
    runner = flow.popen("run", "pooled", "--logical-date", "2026-02-02")
    try:
        row = wait_for("the run to hold the pool",
                       lambda: (r := flow("pools", "get", "warehouse", "--json").json())["occupied"] and r,
                       timeout=60)
        [held] = row["holders"]
        assert held["label"] == "pooled.q0 run manual__2026-02-02T00:00:00+00:00"
        assert flow("trigger", "pooled", "--logical-date", "2026-02-03").code == 0
        doc = flow("explain", "pooled", "2026-02-03", "--json").json()
        [task] = doc["tasks"]
        assert task["reason"] == ("pool warehouse is full (1 of 1 slots taken by "
                                  "pooled.q0 run manual__2026-02-02T00:00:00+00:00)")
    finally:
        runner.kill()
        runner.wait()
    time.sleep(0.2)
    assert flow("pools", "get", "warehouse", "--json").json()["occupied"] == 0  # a dead process holds nothing


def test_a_task_in_a_pool_that_does_not_exist_fails(flow):
    """Airflow never runs it; flowctl fails it at once with the reason, exit 1."""
    flow.write_dag("pooled.py", POOLED.replace("{sleep}", "0").replace("range(3)", "range(1)"))
    res = flow("run", "pooled", "--json")
    assert res.code == 1
    [task] = res.json()["tasks"]
    assert task["state"] == "failed"
    states = flow("tasks", "states", "pooled", res.json()["run_id"], "--json").json()
    assert states[0]["state"] == "failed"
    assert "pool 'warehouse' does not exist" in flow("explain", "pooled", res.json()["run_id"]).out


def test_a_run_held_by_a_pool_of_no_slots_says_so_and_goes_on_when_it_has_some(flow):
    """`flowctl run` with default_pool at 0 slots waited in silence; it says once why it
    waits (the pool, and what waits behind it), then runs when the pool has slots."""
    flow.write_dag("pooled.py", POOLED.replace("{sleep}", "0").replace(', pool="warehouse"', ""))
    assert flow("pools", "set", "default_pool", "0").code == 0
    run = flow.popen("run", "pooled")
    try:
        said, _, _ = select.select([run.stderr], [], [], 20)
        assert said, "nothing said on stderr in 20 s"
        line = run.stderr.readline()  # the first thing it says there
        assert line.startswith("flowctl: waiting: q0, q1, q2: pool default_pool has 0 slots"), line
        assert flow("pools", "set", "default_pool", "2").code == 0
        assert run.wait(timeout=60) == 0, run.stderr.read()
    finally:
        if run.poll() is None:
            run.kill()
    (only,) = flow("runs", "list", "--json").json()
    assert [t["state"] for t in flow("tasks", "states", "pooled", only["run_id"], "--json").json()] == ["success"] * 3
