"""Across DAGs through the real `flowctl` command: TriggerDagRunOperator (conf,
logical date, one run per date, reset, skip, waiting), ExternalTaskSensor
(tasks, groups, whole runs, deltas, failed and skipped states, time-outs) and
ExternalTaskMarker (clears that follow it into the other DAG)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.timeout(180)

TARGET = """
import pendulum
from flowctl import DAG, BashOperator, task

with DAG("target", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
    @task
    def show(dag_run=None):
        print(f"conf={dag_run.conf} triggered_by={dag_run.triggered_by}")
    show() >> BashOperator(task_id="maybe_fail", bash_command="exit {{ dag_run.conf.get('code', 0) }}")
"""


def controller(**args: str) -> str:
    given = ", ".join(f"{k}={v}" for k, v in args.items())
    return f"""
import pendulum
from flowctl import DAG, TriggerDagRunOperator

with DAG("controller", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
    TriggerDagRunOperator(task_id="go", trigger_dag_id="target", {given})
"""


def runs(flow, dag_id: str) -> list[dict]:
    return flow("runs", "list", "--dag", dag_id, "--json").json()


def states(flow, dag_id: str, run: str) -> dict[str, str]:
    return {t["task_id"]: t["state"] for t in flow("tasks", "states", dag_id, run, "--json").json()}


def test_a_triggered_run_has_the_conf_and_runs_with_its_trigger(flow):
    """`flowctl run controller` makes the target's run (its conf, templated; triggered_by)
    in the commit of the trigger's success, and carries it out too."""
    flow.write_dag("target.py", TARGET)
    flow.write_dag("controller.py", controller(conf='{"who": "{{ dag.dag_id }}"}'))
    res = flow("run", "controller")
    assert res.code == 0, res.out + res.err
    assert "== target manual__" in res.out and "target.show  success" in res.out
    (run,) = runs(flow, "target")
    assert run["conf"] == {"who": "controller"} and run["state"] == "success" and run["run_type"] == "manual"
    assert run["triggered_by"]["dag_id"] == "controller" and run["triggered_by"]["task_id"] == "go"
    log = flow("logs", "target", run["run_id"], "show").out
    assert "conf={'who': 'controller'} triggered_by={'dag_id': 'controller'" in log
    (ctl,) = runs(flow, "controller")
    xcom = {x["key"]: x["value"] for x in flow("xcom", "list", "controller", ctl["run_id"], "--json").json()}
    assert xcom["trigger_run_id"] == run["run_id"] and xcom["trigger_dag_id"] == "target"
    assert "triggered by controller.go" in " ".join(flow("explain", "target", run["run_id"], "--json").json()["notes"])


def test_one_run_per_logical_date_fails_skips_or_resets(flow):
    """A fixed logical_date that has a run: DagRunAlreadyExists fails the trigger; with
    skip_when_already_exists it is skipped; with reset_dag_run the run is cleared and runs again."""
    flow.write_dag("target.py", TARGET)
    flow.write_dag("controller.py", controller(logical_date='"2026-02-01"'))
    assert flow("run", "controller", "--logical-date", "2026-01-01").code == 0
    res = flow("run", "controller", "--logical-date", "2026-01-02")
    assert res.code == 1 and "DagRunAlreadyExists" in res.out
    (target,) = runs(flow, "target")
    assert target["logical_date"] == "2026-02-01T00:00:00+00:00"
    (failed,) = [r for r in runs(flow, "controller") if r["state"] == "failed"]
    assert "one run per logical date" in flow("logs", "controller", failed["run_id"], "go").out

    flow.write_dag("controller.py", controller(logical_date='"2026-02-01"', skip_when_already_exists="True"))
    assert flow("run", "controller", "--logical-date", "2026-01-03").code == 0
    assert states(flow, "controller", "2026-01-03") == {"go": "skipped"}

    flow.write_dag("controller.py", controller(logical_date='"2026-02-01"', reset_dag_run="True"))
    assert flow("run", "controller", "--logical-date", "2026-01-04").code == 0
    tis = {t["task_id"]: t for t in flow("tasks", "states", "target", "2026-02-01", "--json").json()}
    assert tis["show"]["state"] == "success" and tis["show"]["try_number"] == 2  # cleared and run again
    assert len(runs(flow, "target")) == 1


@pytest.mark.parametrize("code, outcome", [pytest.param(0, "success", id="allowed"),
                                           pytest.param(3, "failed", id="failed")])
def test_wait_for_completion_follows_the_triggered_run(flow, code, outcome):
    """wait_for_completion: the trigger succeeds when the run does, and fails
    "with failed states failed" when it fails."""
    flow.write_dag("target.py", TARGET)
    flow.write_dag("controller.py", controller(conf=f'{{"code": {code}}}', wait_for_completion="True",
                                               poke_interval="1"))
    res = flow("run", "controller")
    assert res.code == (0 if outcome == "success" else 1), res.out + res.err
    (ctl,) = runs(flow, "controller")
    ti = flow("tasks", "states", "controller", ctl["run_id"], "--json").json()[0]
    assert ti["state"] == outcome and ti["try_number"] == 1
    log = flow("logs", "controller", ctl["run_id"], "go").out
    assert "Waiting for target on manual__" in log
    if outcome == "failed":
        assert "target failed with failed states failed" in log
    else:
        assert "target finished with allowed state success" in log


def test_the_scheduler_carries_triggered_runs(flow):
    """A trigger in a scheduled run: the scheduler makes the target's run and carries it out."""
    flow.write_dag("target.py", TARGET)
    flow.write_dag("controller.py", controller().replace('schedule=None', 'schedule="@once"'))
    res = flow("scheduler", "--until-idle", timeout=150)
    assert res.code == 0, res.out + res.err
    (run,) = runs(flow, "target")
    assert run["state"] == "success"


def test_a_missing_dag_fails_the_trigger_naming_it(flow):
    flow.write_dag("controller.py", controller().replace('"target"', '"nowhere"'))
    res = flow("run", "controller")
    assert res.code == 1 and "DagNotFound: Dag id nowhere not found" in res.out


SENSED = """
import pendulum
from datetime import timedelta
from flowctl import DAG, BashOperator, EmptyOperator, ExternalTaskSensor, TaskGroup

with DAG("upstream", schedule="@daily", start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
    with TaskGroup("load"):
        BashOperator(task_id="a", bash_command="exit {{ dag_run.conf.get('code', 0) }}")
        EmptyOperator(task_id="b")

with DAG("downstream", schedule="@daily", start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
    ExternalTaskSensor(task_id="task", external_dag_id="upstream", external_task_id="load.a",
                       failed_states=["failed"], poke_interval=1, timeout=90, mode="reschedule")
    ExternalTaskSensor(task_id="group", external_dag_id="upstream", external_task_group_id="load",
                       poke_interval=1, timeout=GROUP_TIMEOUT, mode="reschedule")
    ExternalTaskSensor(task_id="whole_run", external_dag_id="upstream", allowed_states=["success", "failed"],
                       poke_interval=1, timeout=90, mode="reschedule")
    ExternalTaskSensor(task_id="yesterday", external_dag_id="upstream", external_task_id="load.b",
                       execution_delta=timedelta(days=1), poke_interval=1, timeout=2, soft_fail=True,
                       mode="reschedule")
"""


def test_external_task_sensor_waits_for_tasks_groups_and_runs(flow):
    """The sensors wait while the upstream run is missing, then succeed on its
    task, its group and its run; one day earlier has no run: soft_fail skips."""
    flow.write_dag("sensed.py", SENSED.replace("GROUP_TIMEOUT", "90"))
    proc = flow.popen("run", "downstream", "--logical-date", "2026-01-05")
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        res = flow("tasks", "states", "downstream", "2026-01-05", "--json")
        if res.code == 0 and {t["task_id"]: t["state"] for t in res.json()}.get("task") == "up_for_reschedule":
            break
        time.sleep(0.2)
    explain = {t["task_id"]: t["reason"] for t in flow("explain", "downstream", "2026-01-05", "--json").json()["tasks"]}
    assert "waits for task load.a of upstream at 2026-01-05T00:00:00+00:00 to be success" in explain["task"]
    assert "upstream has no run for that date yet" in explain["task"]
    assert flow("run", "upstream", "--logical-date", "2026-01-05").code == 0
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err
    got = states(flow, "downstream", "2026-01-05")
    assert got == {"task": "success", "group": "success", "whole_run": "success", "yesterday": "skipped"}


def test_external_task_sensor_fails_on_failed_states(flow):
    """failed_states=["failed"]: the upstream task failing fails the sensor at once (the
    group sensor, without failed_states, waits for its time-out, as in Airflow)."""
    flow.write_dag("sensed.py", SENSED.replace("GROUP_TIMEOUT", "3"))
    assert flow("run", "upstream", "--logical-date", "2026-01-05", "--conf", '{"code": 1}').code == 1
    res = flow("run", "downstream", "--logical-date", "2026-01-05")
    assert res.code == 1
    got = flow("tasks", "states", "downstream", "2026-01-05", "--json").json()
    task = next(t for t in got if t["task_id"] == "task")
    assert task["state"] == "failed" and task["try_number"] == 1
    assert "Some of the external tasks ['load.a'] in DAG upstream failed." in flow(
        "logs", "downstream", "2026-01-05", "task").out
    assert next(t for t in got if t["task_id"] == "whole_run")["state"] == "success"  # failed is allowed there
    assert next(t for t in got if t["task_id"] == "group")["state"] == "failed"
    assert "sensor timed out after 3 s" in flow("logs", "downstream", "2026-01-05", "group").out


MARKED = """
import pendulum
from flowctl import DAG, EmptyOperator, ExternalTaskMarker, ExternalTaskSensor

start = pendulum.datetime(2026, 1, 1, tz="UTC")
with DAG("a", schedule=None, start_date=start):
    EmptyOperator(task_id="prepare") >> ExternalTaskMarker(task_id="mark_b", external_dag_id="b",
                                                         external_task_id="wait_a")
with DAG("b", schedule=None, start_date=start):
    ExternalTaskSensor(task_id="wait_a", external_dag_id="a", external_task_id="mark_b", poke_interval=1,
                       mode="reschedule") \\
        >> ExternalTaskMarker(task_id="mark_c", external_dag_id="c", external_task_id="wait_b", recursion_depth=1)
with DAG("c", schedule=None, start_date=start):
    ExternalTaskSensor(task_id="wait_b", external_dag_id="b", external_task_id="mark_c", poke_interval=1,
                       mode="reschedule") \\
        >> EmptyOperator(task_id="report")
"""


def test_clear_follows_markers_into_other_dags(flow):
    """Clearing a's prepare with --downstream reaches mark_b, which clears b's wait_a and
    what follows it, whose marker clears c in turn (recursion_depth counts the hops)."""
    flow.write_dag("marked.py", MARKED)
    for dag_id in ("a", "b", "c"):
        assert flow("run", dag_id, "--logical-date", "2026-03-01").code == 0
    plan = flow("clear", "a", "--run", "2026-03-01", "--task", "^prepare$", "--downstream", "--dry-run",
                "--json").json()["task_instances"]
    assert [(p["dag_id"], p["task_id"]) for p in plan] == [
        ("a", "prepare"), ("a", "mark_b"), ("b", "wait_a"), ("b", "mark_c"), ("c", "wait_b"), ("c", "report")]
    assert "ExternalTaskMarker a.mark_b points at it" in plan[2]["why"]
    res = flow("clear", "a", "--run", "2026-03-01", "--task", "^prepare$", "--downstream", "--yes")
    assert res.code == 0 and "Cleared 6 task instances." in res.out
    for dag_id in ("a", "b", "c"):
        assert set(states(flow, dag_id, "2026-03-01").values()) == {"none"}
    assert flow("scheduler", "--until-idle", timeout=150).code == 0
    for dag_id in ("a", "b", "c"):
        assert set(states(flow, dag_id, "2026-03-01").values()) == {"success"}
    only = flow("clear", "a", "--run", "2026-03-01", "--task", "^prepare$", "--dry-run", "--json").json()
    assert [p["dag_id"] for p in only["task_instances"]] == ["a"]  # no marker in the set: nothing elsewhere


def test_markers_stop_at_the_first_ones_recursion_depth(flow):
    """A chain of markers longer than the first marker's recursion_depth stops with
    Airflow's message, and nothing is cleared."""
    flow.write_dag("chain.py", """
        import pendulum
        from flowctl import DAG, EmptyOperator, ExternalTaskMarker
        start = pendulum.datetime(2026, 1, 1, tz="UTC")
        with DAG("x", schedule=None, start_date=start):
            ExternalTaskMarker(task_id="to_y", external_dag_id="y", external_task_id="to_z", recursion_depth=1)
        with DAG("y", schedule=None, start_date=start):
            ExternalTaskMarker(task_id="to_z", external_dag_id="z", external_task_id="end")
        with DAG("z", schedule=None, start_date=start):
            EmptyOperator(task_id="end")
    """)
    for dag_id in ("x", "y", "z"):
        assert flow("run", dag_id, "--logical-date", "2026-03-01").code == 0
    res = flow("clear", "x", "--run", "2026-03-01", "--yes")
    assert res.code == 1 and "Maximum recursion depth 1 reached for ExternalTaskMarker to_z of y" in res.err
    assert set(states(flow, "x", "2026-03-01").values()) == {"success"}
