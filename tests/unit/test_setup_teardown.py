"""Setup and teardown tasks (Airflow 2.7+): how they are declared (flowctl's API and
Airflow's names), the teardown's trigger rule, the setup constraint, the run's
state (a teardown's failure does not count), and what a clear takes with it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from flowctl import DAG, EmptyOperator, TaskGroup, setup, task, teardown
from flowctl.clock import FakeClock
from flowctl.engine.clearing import plan_clear, setups_and_teardowns
from flowctl.engine.drive import Driver
from flowctl.engine.runs import new_run
from flowctl.engine.scopes import RunScope
from flowctl.procs import owner_identity
from flowctl.records import RunKey
from flowctl.specs import DagSpec
from flowctl.store import Store
from flowctl.testing import InlineExecutor, Outcome

pytestmark = pytest.mark.timeout(30)

T0 = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)
ME = owner_identity("run")
FAIL = {"state": "failed", "error": "boom"}
SKIP = {"state": "skipped"}


def spec_of(dag: DAG) -> DagSpec:
    return DagSpec.from_dag(dag, "/dags/st.py", "UTC")


def cluster(**teardown_args: Any) -> DagSpec:
    """create >> query >> delete, delete a teardown of create; and an unrelated task."""
    with DAG("st", schedule=None) as dag:
        create = EmptyOperator(task_id="create")
        query = EmptyOperator(task_id="query")
        create >> query >> EmptyOperator(task_id="delete").as_teardown(setups=create, **teardown_args)
        EmptyOperator(task_id="other")
    return spec_of(dag)


def run_with(tmp_path: Path, spec: DagSpec, results: dict[str, dict[str, Any]]) -> tuple[str, dict[str, str], list[str]]:
    store, clock = Store(tmp_path / "home"), FakeClock(T0)
    with store.transaction() as tx:
        run_id = new_run(tx, spec, run_type="manual", logical_date=T0, interval=(T0, T0), owner=ME, now=T0)
    key = RunKey(spec.dag_id, str(run_id))
    ex = InlineExecutor(clock, lambda job: Outcome(result=results.get(job.key.task_id, {"state": "success"})))
    Driver(store=store, executor=ex, specs=lambda: {spec.dag_id: spec}, workers=4, owner=ME, clock=clock,
           scope=RunScope({key}, store)).run()
    stored = store.read_run(*key)
    return stored.record.state, {k.task_id: ti.state for k, ti in stored.tis.items()}, [j.key.task_id for j in ex.jobs]


# -- declaring them -------------------------------------------------------------------


def test_as_teardown_marks_both_and_links_them():
    spec = cluster()
    assert spec.tasks["create"].is_setup and not spec.tasks["create"].is_teardown
    delete = spec.tasks["delete"]
    assert delete.is_teardown and delete.trigger_rule == "all_done_setup_success"
    assert set(delete.upstream) == {"create", "query"} and delete.setups == ("create",)
    assert spec.tasks["query"].setups == ("create",) and spec.tasks["other"].setups == ()


def test_decorators_and_the_context_manager():
    """@setup/@teardown, and `with teardown(setup()):` puts the block's work between them."""
    with DAG("tf", schedule=None) as dag:
        @setup
        def make() -> str:
            return "cluster-1"

        @teardown
        def drop(cluster_id: str) -> None: ...

        @task
        def work() -> None: ...

        with drop(make()):
            work()
    spec = spec_of(dag)
    assert spec.tasks["make"].is_setup and spec.tasks["drop"].is_teardown
    assert spec.tasks["work"].upstream == ("make",) and set(spec.tasks["drop"].upstream) == {"make", "work"}


def test_a_group_ends_at_its_work_not_its_teardown():
    """Teardowns are ignored when setting dependencies against task groups (Airflow)."""
    with DAG("g", schedule=None) as dag:
        with TaskGroup("section") as section:
            s = EmptyOperator(task_id="setup").as_setup()
            w = EmptyOperator(task_id="work")
            s >> w >> EmptyOperator(task_id="teardown").as_teardown(setups=s)
        section >> EmptyOperator(task_id="after")
    assert spec_of(dag).tasks["after"].upstream == ("section.work",)


# -- running them ---------------------------------------------------------------------


@pytest.mark.parametrize("results, run_state, states", [
    pytest.param({"query": FAIL}, "failed", {"create": "success", "query": "failed", "delete": "success"},
                 id="work-fails-teardown-still-runs"),
    pytest.param({"create": FAIL}, "failed", {"create": "failed", "query": "upstream_failed",
                                              "delete": "upstream_failed"}, id="setup-fails-nothing-runs"),
    pytest.param({"delete": FAIL}, "success", {"create": "success", "query": "success", "delete": "failed"},
                 id="a-teardown-failure-alone-does-not-fail-the-run"),
    pytest.param({"create": SKIP}, "success", {"create": "skipped", "query": "skipped", "delete": "skipped"},
                 id="setup-skipped-teardown-skipped"),
])
def test_a_teardown_runs_when_its_setup_ran(tmp_path: Path, results, run_state, states):
    state, got, _ = run_with(tmp_path, cluster(), results)
    assert state == run_state
    assert {t: s for t, s in got.items() if t != "other"} == states


def test_on_failure_fail_dagrun_makes_the_teardown_count(tmp_path: Path):
    state, got, _ = run_with(tmp_path, cluster(on_failure_fail_dagrun=True), {"delete": FAIL})
    assert state == "failed" and got["delete"] == "failed"


def test_a_task_in_a_setups_scope_waits_for_it_whatever_its_rule(tmp_path: Path):
    """Airflow's setup constraint: an all_done task below a failed setup does not run."""
    with DAG("scope", schedule=None) as dag:
        s = EmptyOperator(task_id="s").as_setup()
        a = EmptyOperator(task_id="a")
        b = EmptyOperator(task_id="b", trigger_rule="all_done")
        s >> a >> b >> EmptyOperator(task_id="t").as_teardown(setups=s)
    spec = spec_of(dag)
    assert spec.tasks["b"].setups == ("s",)
    state, got, ran = run_with(tmp_path, spec, {"s": FAIL})
    assert state == "failed" and got == {"s": "failed", "a": "upstream_failed", "b": "upstream_failed",
                                         "t": "upstream_failed"}
    assert ran == ["s"]


# -- clearing -------------------------------------------------------------------------


def test_clearing_a_work_task_clears_its_setup_and_teardown(tmp_path: Path):
    spec = cluster()
    assert setups_and_teardowns(spec, {"query"}) == {"create": "a setup of query", "delete": "the teardown of create"}
    assert setups_and_teardowns(spec, {"create"}) == {"delete": "the teardown of create"}
    assert setups_and_teardowns(spec, {"delete"}) == {}
    assert setups_and_teardowns(spec, {"other"}) == {}
    store = Store(tmp_path / "home")
    with store.transaction() as tx:
        run_id = new_run(tx, spec, run_type="manual", logical_date=T0, interval=(T0, T0), owner=ME, now=T0)
    plan = plan_clear(store, spec, "st", [str(run_id)], task_regex="^query$", upstream=False, downstream=False,
                      only_failed=False, changed=False)
    assert {p["task_id"]: p["why"] for p in plan} == {"create": "a setup of query", "query": "matches",
                                                      "delete": "the teardown of create"}
