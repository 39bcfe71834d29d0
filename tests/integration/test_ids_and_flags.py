"""Ids as Airflow allows them (Unicode, a leading dot), a very long chain, and a
damaged DAG flags file, through the real `flowctl` command in a temporary home."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.timeout(180)

DAGS = """
import pendulum
from flowctl import DAG, BashOperator
start = pendulum.now("UTC").start_of("day").subtract(days=2)
for dag_id, task_id in (("café", "tâche"), ("plain", "t"), (".hidden", "t")):
    with DAG(dag_id, schedule="@daily", start_date=start, catchup=False) as dag:
        BashOperator(task_id=task_id, bash_command="echo {{ ti.task_id }}")
"""


def runs(flow, *args: str) -> list[tuple[str, str, str]]:
    res = flow("runs", "list", *args, "--json")
    assert res.code == 0, res.err
    return sorted((r["dag_id"], r["run_type"], r["state"]) for r in res.json())


def test_unicode_ids_run_with_run_and_with_the_scheduler(flow):
    """`café` with task `tâche` runs through `flowctl run` and the scheduler, beside an
    ASCII DAG that runs too; its log is where `flowctl logs` looks."""
    flow.write_dag("d.py", DAGS)
    assert flow("dags", "errors", "--json").json() == []
    res = flow("run", "café")
    assert res.code == 0, res.err
    res = flow("scheduler", "--until-idle")
    assert res.code == 0, res.err + res.out
    assert runs(flow) == [(".hidden", "scheduled", "success"), ("café", "manual", "success"),
                          ("café", "scheduled", "success"), ("plain", "scheduled", "success")]
    run_id = next(r["run_id"] for r in flow("runs", "list", "--dag", "café", "--json").json()
                  if r["run_type"] == "manual")
    states = flow("tasks", "states", "café", run_id, "--json").json()
    assert [(s["task_id"], s["state"]) for s in states] == [("tâche", "success")]
    log = flow("logs", "café", run_id, "tâche")
    assert log.code == 0 and "tâche" in log.out, log.err


def test_a_dag_id_starting_with_a_dot_is_listed_and_carried_out(flow):
    """`.hidden`'s runs are in `runs list`, and a triggered run is carried out and
    counted by doctor after the index of active runs was deleted."""
    flow.write_dag("d.py", DAGS.replace('("café", "tâche"), ("plain", "t"), (".hidden", "t")', '(".hidden", "t"),'))
    assert flow("run", ".hidden").code == 0
    assert runs(flow) == [(".hidden", "manual", "success")]
    assert flow("trigger", ".hidden").code == 0
    (flow.home / "state" / "index.json").unlink()
    doctor = flow("doctor")
    assert doctor.code == 1 and ".hidden" in doctor.out, doctor.out
    res = flow("scheduler", "--until-idle")
    assert res.code == 0, res.err + res.out
    assert runs(flow) == [(".hidden", "manual", "success"), (".hidden", "manual", "success"),
                          (".hidden", "scheduled", "success")]


def test_a_5000_task_chain_loads(flow):
    """A linear chain of 5,000 tasks is a DAG, not a RecursionError."""
    flow.write_dag("long.py", """
        from flowctl import DAG, EmptyOperator, chain
        with DAG("long", schedule=None) as dag:
            chain(*[EmptyOperator(task_id=f"t{i}") for i in range(5000)])
    """)
    listed = flow("dags", "list", "--json")
    assert listed.code == 0, listed.err
    assert flow("dags", "errors", "--json").json() == []
    assert [len(d["tasks"]) for d in listed.json()] == [5000]
    tasks = flow("tasks", "list", "long", "--json")
    assert tasks.code == 0, tasks.err
    assert tasks.json()[-1]["upstream"] == ["t4998"]
    flow.write_dag("mid.py", """
        from flowctl import DAG, EmptyOperator, chain
        with DAG("mid", schedule=None) as dag:
            chain(*[EmptyOperator(task_id=f"m{i}") for i in range(1500)])
    """)
    shown = flow("dags", "show", "mid")  # the graph drawn as a tree 1,500 deep
    assert shown.code == 0 and "m1499" in shown.out, shown.err[-300:]


def test_a_damaged_flags_file_is_reported_kept_and_never_unpauses(flow):
    """With dags.json damaged: listings name it in one line, the scheduler creates no
    scheduled run, doctor names it, and `pause` sets it aside before writing anew."""
    flow.write_dag("d.py", DAGS)
    assert flow("pause", "plain").code == 0
    flags = flow.home / "state" / "dags.json"
    flags.write_bytes(b'{"x')
    listed = flow("dags", "list")
    assert listed.code == 1 and listed.err.count("\n") == 1 and str(flags) in listed.err, listed.err
    sched = flow("scheduler", "--until-idle")
    assert sched.code == 1 and str(flags) in sched.out + sched.err, sched.err + sched.out
    assert "no scheduled run was made" in sched.out
    assert "Traceback" not in sched.err
    assert runs(flow) == []
    doctor = flow("doctor")
    assert doctor.code == 1 and str(flags) in doctor.out, doctor.out
    assert flags.read_bytes() == b'{"x'
    paused_again = flow("pause", "plain")
    assert paused_again.code == 0
    assert "warning:" in paused_again.err and "a copy is kept as" in paused_again.err \
        and "pause them again" in paused_again.err, paused_again.err  # the user learns what was lost
    aside = sorted(flags.parent.glob("dags.json.damaged-*"))
    assert [p.read_bytes() for p in aside] == [b'{"x']
    paused = {d["dag_id"]: d["paused"] for d in flow("dags", "list", "--json").json()}
    assert paused == {".hidden": False, "café": False, "plain": True}
