"""dagrun_timeout on the fake clock: a run still going when it passes fails, its
running try is killed (SIGTERM), its unfinished instances are skipped (Airflow's
rule), the reason is in the run, the notice and `explain`; a clear starts it anew."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from flowctl import DAG, EmptyOperator
from flowctl.clock import FakeClock
from flowctl.engine.clearing import apply_clear, plan_clear
from flowctl.engine.decisions import run_deadline
from flowctl.engine.drive import Driver
from flowctl.engine.runs import new_run
from flowctl.engine.scopes import RunScope
from flowctl.procs import owner_identity
from flowctl.records import RunKey, TryKey
from flowctl.specs import DagSpec
from flowctl.store import Store
from flowctl.testing import InlineExecutor, Outcome

pytestmark = pytest.mark.timeout(30)

T0 = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)
ME = owner_identity("run")


def timed_spec(timeout: timedelta | None = timedelta(seconds=60)) -> DagSpec:
    with DAG("timed", schedule=None, dagrun_timeout=timeout) as dag:
        EmptyOperator(task_id="slow") >> EmptyOperator(task_id="after")
        EmptyOperator(task_id="quick")
    return DagSpec.from_dag(dag, "/dags/timed.py", "UTC")


def make_run(store: Store, spec: DagSpec) -> RunKey:
    with store.transaction() as tx:
        run_id = new_run(tx, spec, run_type="manual", logical_date=T0, interval=(T0, T0), owner=ME, now=T0)
    assert run_id is not None
    return RunKey(spec.dag_id, run_id)


def carry(store: Store, spec: DagSpec, key: RunKey, clock: FakeClock, seconds: dict[str, float]) -> tuple[int, list[Any], InlineExecutor]:
    notices: list[dict[str, Any]] = []
    ex = InlineExecutor(clock, lambda job: Outcome(seconds=seconds.get(job.key.task_id, 1)))
    driver = Driver(store=store, executor=ex, specs=lambda: {spec.dag_id: spec}, workers=4, owner=ME, clock=clock,
                    scope=RunScope({key}, store), notify=notices.append)
    return driver.run(), notices, ex


def test_a_run_past_its_timeout_fails_and_its_running_try_is_killed(tmp_path: Path):
    store, clock = Store(tmp_path / "home"), FakeClock(T0)
    spec = timed_spec()
    key = make_run(store, spec)
    code, notices, ex = carry(store, spec, key, clock, {"slow": 600})
    run = store.read_run(*key)
    states = {k.task_id: ti.state for k, ti in run.tis.items()}
    assert code == 1 and run.record.state == "failed"
    assert states == {"slow": "skipped", "after": "skipped", "quick": "success"}
    assert (TryKey(key.dag_id, key.run_id, "slow", -1, 1), False) in ex.kills  # SIGTERM first
    ended = datetime.fromisoformat(run.record.end_date)
    assert timedelta(seconds=60) <= ended - datetime.fromisoformat(run.record.start_date) < timedelta(seconds=61)
    assert run.record.reason.startswith("the run timed out: dagrun_timeout of 60 s passed since it started")
    assert run.tis[next(k for k in run.tis if k.task_id == "after")].reason == run.record.reason
    [notice] = [n for n in notices if n["event"] == "run_failed"]
    assert notice["error"] == run.record.reason + "; killed slow"
    log = store.log_path(key.dag_id, key.run_id, "slow", 1).read_text()
    assert "dagrun_timeout of 60 s passed" in log and "terminating the process group" in log

    plan = plan_clear(store, spec, spec.dag_id, [key.run_id], task_regex="slow|after", upstream=False,
                      downstream=False, only_failed=False, changed=False)
    apply_clear(store, spec, plan)
    code, _, _ = carry(store, spec, key, clock, {"slow": 10})
    assert code == 0 and store.read_run(*key).record.state == "success"  # the clock starts anew


def test_a_run_within_its_timeout_is_left_alone(tmp_path: Path):
    store, clock = Store(tmp_path / "home"), FakeClock(T0)
    spec = timed_spec()
    key = make_run(store, spec)
    code, notices, ex = carry(store, spec, key, clock, {"slow": 30})
    assert code == 0 and ex.kills == [] and notices == []


def test_the_deadline_counts_from_the_start_of_a_running_run():
    spec = timed_spec(timedelta(minutes=5))
    assert run_deadline(spec, "running", T0.isoformat()) == T0 + timedelta(minutes=5)
    assert run_deadline(spec, "queued", None) is None  # not started: no clock yet
    assert run_deadline(spec, "success", T0.isoformat()) is None
    assert run_deadline(timed_spec(None), "running", T0.isoformat()) is None
