"""`flowctl run`: a DAG carried out in the foreground by real task processes."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

pytestmark = pytest.mark.timeout(90)

MIXED = """
import pendulum
from flowctl import DAG, BashOperator, PythonOperator, task

def shout(ds):
    print(f"python says {ds}")
    return {"ds": ds}

with DAG("mixed", schedule="@daily", start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:
    first = BashOperator(task_id="first", bash_command="echo bash says {{ ds }}; sleep 0.3; echo last-line")
    second = PythonOperator(task_id="second", python_callable=shout)

    @task
    def make() -> list:
        print("making numbers")
        return [1, 2, 3]

    @task
    def add(values: list) -> int:
        print(f"adding {values}")
        return sum(values)

    first >> second >> add(make())
"""


def test_mixed_dag_runs_to_success_with_states_logs_and_xcom(flow):
    """Bash, Python and TaskFlow tasks succeed; times, tries, logs and XCom are recorded."""
    flow.write_dag("mixed.py", MIXED)
    res = flow("run", "mixed", "--logical-date", "2026-03-01", "--json")
    assert res.code == 0, res.err
    run = res.json()
    assert run["state"] == "success"
    assert run["run_type"] == "manual"
    assert run["logical_date"] == "2026-03-01T00:00:00+00:00"
    assert run["data_interval_start"] == "2026-03-01T00:00:00+00:00"
    assert run["data_interval_end"] == "2026-03-02T00:00:00+00:00"
    tis = {t["task_id"]: t for t in run["tasks"]}
    assert set(tis) == {"first", "second", "make", "add"}
    for ti in tis.values():
        assert ti["state"] == "success" and ti["try_number"] == 1
        assert ti["start_date"] and ti["end_date"] and ti["duration"] >= 0
    ended = datetime.fromisoformat(tis["first"]["end_date"])
    assert datetime.fromisoformat(tis["second"]["start_date"]) >= ended

    run_id = run["run_id"]
    states = flow("tasks", "states", "mixed", run_id, "--json").json()
    order = [t["task_id"] for t in states]
    assert sorted(order) == ["add", "first", "make", "second"]
    assert order.index("first") < order.index("second") < order.index("add")

    xcom = {(x["task_id"], x["key"]): x["value"] for x in flow("xcom", "list", "mixed", run_id, "--json").json()}
    assert xcom[("first", "return_value")] == "last-line"
    assert xcom[("second", "return_value")] == {"ds": "2026-03-01"}
    assert xcom[("make", "return_value")] == [1, 2, 3]
    assert xcom[("add", "return_value")] == 6

    assert "bash says 2026-03-01" in flow("logs", "mixed", run_id, "first").out
    assert "python says 2026-03-01" in flow("logs", "mixed", run_id, "second").out
    assert "adding [1, 2, 3]" in flow("logs", "mixed", "2026-03-01", "add").out


def test_runs_list_and_logical_date_lookup(flow):
    """A run can be named by its logical date; runs list shows it with its fields."""
    flow.write_dag("mixed.py", MIXED)
    assert flow("run", "mixed", "-d", "2026-03-01").code == 0
    runs = flow("runs", "list", "--json").json()
    assert len(runs) == 1
    assert set(runs[0]) == {"dag_id", "run_id", "run_type", "state", "logical_date", "data_interval_start",
                            "data_interval_end", "start_date", "end_date", "conf"}
    assert flow("tasks", "states", "mixed", "2026-03-01").code == 0


SLEEPERS = """
from flowctl import DAG, BashOperator
with DAG("sleepers", schedule=None) as dag:
    for i in range(4):
        BashOperator(task_id=f"s{i}", bash_command="sleep 2")
"""


def test_four_slots_run_four_sleeps_in_parallel(flow):
    """With 4 slots, four 2 s tasks take about 2 s, not 8."""
    flow.write_dag("sleepers.py", SLEEPERS)
    t0 = time.monotonic()
    res = flow("run", "sleepers", env={"FLOWCTL_WORKERS": "4"})
    elapsed = time.monotonic() - t0
    assert res.code == 0, res.err
    assert elapsed < 6, f"took {elapsed:.1f} s"


def test_one_slot_runs_them_one_at_a_time(flow):
    """With 1 slot the same four tasks take at least 8 s."""
    flow.write_dag("sleepers.py", SLEEPERS)
    t0 = time.monotonic()
    res = flow("--workers", "1", "run", "sleepers")
    elapsed = time.monotonic() - t0
    assert res.code == 0, res.err
    assert elapsed >= 8


FAILING = """
import ctypes, os
from flowctl import DAG, BashOperator, PythonOperator, task

def boom():
    raise RuntimeError("the upstream API returned 503")

def not_json():
    return object()

def segfault():
    ctypes.string_at(0)

with DAG("failing", schedule=None) as dag:
    bad = PythonOperator(task_id="bad", python_callable=boom)
    after = BashOperator(task_id="after", bash_command="echo never")
    bad >> after
    PythonOperator(task_id="odd", python_callable=not_json)
    PythonOperator(task_id="crash", python_callable=segfault)
    PythonOperator(task_id="exits", python_callable=lambda: os._exit(17))
    BashOperator(task_id="fine", bash_command="echo fine")
"""


def test_failures_are_contained_and_reported(flow):
    """A failing task gives exit 1 and upstream_failed below it; a non-JSON value,
    a segfault and os._exit each fail alone while a sibling succeeds."""
    flow.write_dag("failing.py", FAILING)
    res = flow("run", "failing", "--json")
    assert res.code == 1
    tis = {t["task_id"]: t for t in res.json()["tasks"]}
    assert res.json()["state"] == "failed"
    assert tis["bad"]["state"] == "failed"
    assert tis["after"]["state"] == "upstream_failed"
    assert tis["odd"]["state"] == "failed"
    assert tis["crash"]["state"] == "failed"
    assert tis["exits"]["state"] == "failed"
    assert tis["fine"]["state"] == "success"
    run_id = res.json()["run_id"]
    assert "RuntimeError: the upstream API returned 503" in flow("logs", "failing", run_id, "bad").out
    assert "not a JSON value" in flow("logs", "failing", run_id, "odd").out
    assert "SIGSEGV" in flow("logs", "failing", run_id, "crash").out
    assert "exit code 17" in flow("logs", "failing", run_id, "exits").out


def test_human_output_names_the_failed_task_and_its_log(flow):
    """Without --json a failed run says which task failed and how to read its log."""
    flow.write_dag("failing.py", FAILING)
    res = flow("run", "failing")
    assert res.code == 1
    assert "failed" in res.out and "bad" in res.out
    assert "flowctl logs failing" in res.out


SLOW_IMPORT_DAG = """
import os, time
from flowctl import DAG, PythonOperator
if os.environ.get("SLOW_IMPORT"):
    time.sleep(60)  # a DAG file whose imports take long (pandas, a cloud SDK)
with DAG("slowimp", schedule=None):
    PythonOperator(task_id="only", python_callable=lambda: None)
"""


def test_a_refused_run_does_not_wait_for_the_dag_files_import(flow):
    """`run` starts the DAG file's fork server before it makes the run; when
    making the run is refused, the command ends at once, not when the server's
    import of a slow DAG file is over."""
    flow.write_dag("slowimp.py", SLOW_IMPORT_DAG)
    assert flow("run", "slowimp", "--logical-date", "2026-01-05").code == 0
    res = flow("run", "slowimp", "--logical-date", "2026-01-05", env={"SLOW_IMPORT": "1"}, timeout=30)
    assert res.code == 1 and "already has a run for" in res.err
