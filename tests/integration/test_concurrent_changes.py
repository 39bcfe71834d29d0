"""Changes that arrive while work is under way: a task marked or cleared mid-try,
a run another live process owns, a damaged run file, a run that cannot go on."""

from __future__ import annotations

import json

import pytest
from polling import wait_for

pytestmark = pytest.mark.timeout(120)

SLOW = """
from flowctl import DAG, BashOperator
with DAG("slow", schedule=None) as dag:
    BashOperator(task_id="a", bash_command="sleep 4") >> BashOperator(task_id="b", bash_command="echo b")
"""


def state_of(flow, dag, run_id, task):
    res = flow("tasks", "states", dag, run_id, "--json")
    return {t["task_id"]: t["state"] for t in res.json()}.get(task) if res.code == 0 else None


def test_marking_a_running_task_lets_the_foreground_run_finish(flow):
    """`tasks mark ... --state success` on a running task: its try is killed, the
    downstream runs, and `flowctl run` ends with exit 0 instead of waiting forever."""
    flow.write_dag("slow.py", SLOW)
    proc = flow.popen("run", "slow")
    try:
        run_id = wait_for("the run", lambda: (flow("runs", "list", "--json").json() or [{}])[0].get("run_id"))
        wait_for("a to run", lambda: state_of(flow, "slow", run_id, "a") == "running")
        assert flow("tasks", "mark", "slow", run_id, "a", "--state", "success").code == 0
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out + err
    assert state_of(flow, "slow", run_id, "b") == "success"


def test_clearing_a_running_task_under_the_scheduler_does_not_hang_it(flow):
    """A clear while the task runs: the old try is killed, the task runs again
    (try 2), and `--until-idle` still exits."""
    flow.write_dag("slow.py", SLOW)
    run_id = flow("trigger", "slow").out.strip()
    proc = flow.popen("scheduler", "--until-idle")
    try:
        wait_for("a to run", lambda: state_of(flow, "slow", run_id, "a") == "running")
        assert flow("clear", "slow", "--task", "^a$", "--yes").code == 0
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    tis = {t["task_id"]: t for t in flow("tasks", "states", "slow", run_id, "--json").json()}
    assert tis["a"]["state"] == "success" and tis["a"]["try_number"] == 2
    assert tis["b"]["state"] == "success"


def test_a_backfill_leaves_a_run_a_live_scheduler_carries_alone(flow):
    """The daemon carries a cleared run; a backfill over that interval leaves it to
    the daemon (the plan says who runs it), follows it to its end and exits with its
    outcome; each task runs once."""
    flow.write_dag("d.py", """
import pendulum
from flowctl import DAG, BashOperator
with DAG("d", schedule="@daily", start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:
    BashOperator(task_id="t", bash_command="sleep 2; echo {{ ds }} >> %s")
""" % (flow.root / "ran.txt"))
    assert flow("pause", "d").code == 0
    assert flow("backfill", "d", "--start", "2026-01-01", "--end", "2026-01-01").code == 0
    assert flow("clear", "d", "--yes").code == 0
    assert flow("scheduler", "--daemon").code == 0
    try:
        run_id = "backfill__2026-01-01T00:00:00+00:00"
        wait_for("the daemon to take the run", lambda: state_of(flow, "d", run_id, "t") == "running")
        plan = flow("backfill", "d", "--start", "2026-01-01", "--end", "2026-01-01", "--reprocess", "completed",
                    "--dry-run", "--json").json()
        assert plan["intervals"][0]["action"] == "follow" and "carried out by a scheduler (pid" in plan["intervals"][0]["why"]
        res = flow("backfill", "d", "--start", "2026-01-01", "--end", "2026-01-01", "--reprocess", "completed")
        assert res.code == 0, res.out + res.err
        assert state_of(flow, "d", run_id, "t") == "success"  # the backfill ended when the daemon's run did
    finally:
        flow("scheduler", "stop")
    assert (flow.root / "ran.txt").read_text().splitlines() == ["2026-01-01", "2026-01-01"]  # the backfill, then the daemon


def test_until_idle_names_a_run_that_cannot_go_on_and_exits_1(flow):
    """A queued run whose DAG file no longer imports cannot move: --until-idle says
    so and exits 1 instead of waiting forever."""
    flow.write_dag("q.py", "from flowctl import DAG, EmptyOperator\nwith DAG('q', schedule=None):\n    EmptyOperator(task_id='a')\n")
    run_id = flow("trigger", "q").out.strip()
    flow.write_dag("q.py", "raise ValueError('broken on purpose')\n")
    res = flow("scheduler", "--until-idle", timeout=30)
    assert res.code == 1
    assert "cannot go on" in res.out and run_id in res.out and "dags errors" in res.out


def test_a_damaged_old_run_does_not_stop_the_scheduler(flow):
    """One run file that no longer parses is reported; the other runs go on; --until-idle
    exits 1 naming it, and `runs list` shows it as damaged rather than leaving it out."""
    flow.write_dag("q.py", "from flowctl import DAG, EmptyOperator\nwith DAG('q', schedule=None):\n    EmptyOperator(task_id='a')\n")
    first = flow("trigger", "q", "--logical-date", "2026-01-01").out.strip()
    second = flow("trigger", "q", "--logical-date", "2026-01-02").out.strip()
    damaged = flow.home / "state" / "runs" / "q" / f"{first}.json"
    damaged.write_bytes(damaged.read_bytes()[:40])
    res = flow("scheduler", "--until-idle", timeout=30)
    assert "skipping a damaged run" in res.out and str(damaged) in res.out
    assert res.code == 1 and "cannot be read" in res.out
    listed = flow("runs", "list", "--json")
    runs = {r["run_id"]: r["state"] for r in listed.json()}
    assert runs == {second: "success", first: "damaged"}
    assert str(damaged) in listed.err
    assert damaged.read_bytes()[:40] == damaged.read_bytes()  # never overwritten
    doctor = flow("doctor", "--json")
    assert doctor.code == 1 and any(str(damaged) in p["problem"] for p in json.loads(doctor.out)["problems"])
