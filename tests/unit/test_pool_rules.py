"""Pools and concurrency limits: the pure rule (`Occupancy`, the ready queue's
lanes) and the loop on a fake clock with a real store, including another
live process's holdings in the slot ledger."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from flowctl import DAG, EmptyOperator
from flowctl.clock import FakeClock
from flowctl.engine.decisions import (
    DEFAULT_POOL,
    Candidate,
    Holder,
    Lane,
    Occupancy,
    ReadyQueue,
    lane_of,
)
from flowctl.engine.drive import Driver
from flowctl.engine.runs import new_run
from flowctl.engine.scopes import RunScope
from flowctl.executors.base import Job
from flowctl.procs import owner_identity, process_start_time
from flowctl.records import RunKey, TaskKey
from flowctl.specs import DagSpec
from flowctl.store import Store
from flowctl.testing import InlineExecutor, Outcome

pytestmark = pytest.mark.timeout(30)

T0 = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)
ME = owner_identity("run")


def holder(dag: str = "etl", task: str = "t", pool: str = "db", slots: int = 1, run: str = "r1") -> Holder:
    return Holder(dag, run, task, -1, 1, pool, slots)


# -- the rule -------------------------------------------------------------------------------


def test_a_full_pool_names_who_holds_it():
    """3 of 3 slots taken: blocked, with the holders named; another pool is not."""
    occ = Occupancy({"db": 3, DEFAULT_POOL: 8}, [holder(task="a"), holder(task="b", slots=2)])
    why = occ.blocked("etl", Lane("db", 1))
    assert why == "pool db is full (3 of 3 slots taken by etl.a run r1, etl.b run r1)"
    assert occ.blocked("etl", Lane(DEFAULT_POOL, 1)) is None


@pytest.mark.parametrize("sizes, lane, blocked, unrunnable", [
    pytest.param({"db": 2}, Lane("db", 2), False, False, id="fits-exactly"),
    pytest.param({"db": 2}, Lane("db", 3), True, True, id="needs-more-than-the-pool-has"),
    pytest.param({"db": -1}, Lane("db", 50), False, False, id="no-limit"),
    pytest.param({"db": 0}, Lane("db", 1), True, False, id="zero-holds-its-tasks"),
    pytest.param({}, Lane("db", 1), True, True, id="missing-pool"),
])
def test_pool_sizes(sizes, lane, blocked, unrunnable):
    """-1 has no limit, 0 holds tasks back, a pool smaller than pool_slots or missing never runs them."""
    occ = Occupancy(sizes, [])
    assert (occ.blocked("etl", lane) is not None) == blocked
    assert (occ.unrunnable(lane) is not None) == unrunnable


def test_max_active_tasks_and_tis_per_dag_count_every_holder():
    """max_active_tasks counts the DAG's tries in any run; max_active_tis_per_dag the task's."""
    occ = Occupancy({DEFAULT_POOL: 10}, [holder(pool=DEFAULT_POOL, task="load", run="r1"),
                                         holder(pool=DEFAULT_POOL, task="other", run="r2")], {"etl": 2})
    assert occ.blocked("etl", Lane()) == "max_active_tasks (2) reached for etl"
    occ = Occupancy({DEFAULT_POOL: 10}, [holder(pool=DEFAULT_POOL, task="load", run="r1")])
    assert "max_active_tis_per_dag (1) reached for etl.load" in occ.blocked("etl", Lane(DEFAULT_POOL, 1, "load", 1))
    assert occ.blocked("etl", Lane(DEFAULT_POOL, 1, "other", 1)) is None


def test_the_ready_queue_passes_over_a_full_pool_to_the_next_lane():
    """The best candidate waits for its full pool; the next best in another pool starts."""
    lanes = {"a": Lane("db"), "b": Lane(DEFAULT_POOL)}
    queue = ReadyQueue(lane_of=lambda c: lanes[c.task.task_id])
    run = RunKey("etl", "r1")
    queue.push(Candidate(("2026", -1, 0, -1), run, TaskKey("a"), "none"))
    queue.push(Candidate(("2026", -1, 1, -1), run, TaskKey("b"), "none"))
    gate = Occupancy({"db": 1, DEFAULT_POOL: 4}, [holder(pool="db", run="r0")])
    assert [c.task.task_id for c in queue.take(4, gate=gate)] == ["b"]
    assert [c.task.task_id for c in queue.items()] == ["a"]
    assert [c.task.task_id for c in queue.take(4, gate=Occupancy({"db": 1, DEFAULT_POOL: 4}, []))] == ["a"]


def test_lane_of_a_task():
    with DAG("lanes", schedule=None) as dag:
        EmptyOperator(task_id="plain")
        EmptyOperator(task_id="heavy", pool="db", pool_slots=2)
        EmptyOperator(task_id="single", max_active_tis_per_dag=1)
    spec = DagSpec.from_dag(dag, "/dags/x.py", "UTC")
    assert lane_of(spec.tasks["plain"]) == Lane(DEFAULT_POOL, 1, None, None)
    assert lane_of(spec.tasks["heavy"]) == Lane("db", 2, None, None)
    assert lane_of(spec.tasks["single"]) == Lane(DEFAULT_POOL, 1, "single", 1)


# -- the loop -------------------------------------------------------------------------------


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def spec_with(n: int = 4, dag_id: str = "pooled", **task_args: Any) -> DagSpec:
    with DAG(dag_id, schedule=None) as dag:
        for i in range(n):
            EmptyOperator(task_id=f"t{i}", **task_args)
    return DagSpec.from_dag(dag, "/dags/test.py", "UTC")


def make_run(store: Store, spec: DagSpec, when: datetime = T0) -> RunKey:
    with store.transaction() as tx:
        run_id = new_run(tx, spec, run_type="manual", logical_date=when, interval=(when, when), owner=ME, now=when)
    assert run_id is not None
    return RunKey(spec.dag_id, run_id)


def most_at_once(store: Store, specs: dict[str, DagSpec], keys: set[RunKey], workers: int = 8,
                 seconds: float = 10) -> tuple[int, int, InlineExecutor]:
    """Carry the runs out; (exit code, most tries running at once, the executor)."""
    clock = FakeClock(T0)
    ex = InlineExecutor(clock, lambda job: Outcome(seconds=seconds))
    most = [0]
    real_submit = ex.submit

    def submit(job: Job) -> None:
        real_submit(job)
        most[0] = max(most[0], ex.running())

    ex.submit = submit  # type: ignore[method-assign]
    driver = Driver(store=store, executor=ex, specs=lambda: specs, workers=workers, owner=ME, clock=clock,
                    scope=RunScope(keys, store))
    return driver.run(), most[0], ex


def set_pool(store: Store, name: str, slots: int) -> None:
    with store.transaction() as tx:
        tx.set_pool(name, slots, None)


def test_a_pool_of_one_runs_its_tasks_one_at_a_time_across_runs(home: Path):
    """Eight free workers, two runs, four tasks each in pool db (1 slot): never two at once."""
    store = Store(home)
    set_pool(store, "db", 1)
    spec = spec_with(pool="db")
    keys = {make_run(store, spec), make_run(store, spec, T0 + timedelta(days=1))}
    code, most, ex = most_at_once(store, {spec.dag_id: spec}, keys)
    assert code == 0 and most == 1 and len(ex.jobs) == 8
    assert store.slot_holders() == []  # every slot given back


def test_pool_slots_take_their_share(home: Path):
    """A pool of 4 slots, tasks taking 2 each: two at a time."""
    store = Store(home)
    set_pool(store, "db", 4)
    spec = spec_with(pool="db", pool_slots=2)
    code, most, _ = most_at_once(store, {spec.dag_id: spec}, {make_run(store, spec)})
    assert code == 0 and most == 2


def test_max_active_tis_per_dag_holds_across_runs(home: Path):
    """One task with max_active_tis_per_dag=1 in three runs: one try at a time."""
    store = Store(home)
    spec = spec_with(n=1, max_active_tis_per_dag=1)
    keys = {make_run(store, spec, T0 + timedelta(days=i)) for i in range(3)}
    code, most, _ = most_at_once(store, {spec.dag_id: spec}, keys)
    assert code == 0 and most == 1


def test_a_task_whose_pool_does_not_exist_fails_with_the_reason(home: Path):
    """Airflow never runs it: here it fails at once, saying which pool and how to make it."""
    store = Store(home)
    spec = spec_with(n=1, pool="nosuch")
    key = make_run(store, spec)
    code, _, ex = most_at_once(store, {spec.dag_id: spec}, {key})
    ti = store.read_run(*key).tis[TaskKey("t0")]
    assert code == 1 and ex.jobs == [] and ti.state == "failed"
    assert ti.error == "pool 'nosuch' does not exist (create it with `flowctl pools set nosuch SLOTS`)"


def test_slots_another_live_process_holds_are_counted_and_a_dead_ones_are_not(home: Path):
    """The ledger names a live process holding the only slot of db: nothing of ours starts
    until it is gone; an entry of a dead process counts for nothing."""
    store = Store(home)
    set_pool(store, "db", 1)
    spec = spec_with(n=1, pool="db")
    key = make_run(store, spec)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        owner = {"pid": other.pid, "started": process_start_time(other.pid), "hostname": ME["hostname"]}
        with store.transaction() as tx:
            tx.hold_slots(owner, [holder(dag="elsewhere", pool="db").to_doc()])
        clock = FakeClock(T0)
        ex = InlineExecutor(clock, lambda job: Outcome(seconds=1))
        driver = Driver(store=store, executor=ex, specs=lambda: {spec.dag_id: spec}, workers=4, owner=ME,
                        clock=clock, scope=RunScope({key}, store))
        loop = driver.loop
        for _ in range(5):
            loop.step(ex.poll(0.1), clock.now())
        assert ex.jobs == [] and loop.waiting_on_others
        other.kill()
        other.wait()
        assert driver.run() == 0 and len(ex.jobs) == 1
    finally:
        if other.poll() is None:
            other.kill()
            other.wait()


def test_a_torn_ledger_is_rebuilt_from_the_runs(home: Path):
    """A ledger that does not read whole (a writer killed in a long write) is rebuilt
    under the lock from the task instances queued or running in live processes' runs,
    which record their pool: the slot another process holds is still held."""
    store = Store(home)
    set_pool(store, "db", 1)
    spec = spec_with(n=1, pool="db")
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        owner = {"pid": other.pid, "started": process_start_time(other.pid), "hostname": ME["hostname"]}
        with store.transaction() as tx:
            run_id = new_run(tx, spec, run_type="manual", logical_date=T0 - timedelta(days=1),
                             interval=(T0, T0), owner=owner, now=T0)
        with store.transaction() as tx:
            tx.run(spec.dag_id, str(run_id)).put_ti(TaskKey("t0"), state="queued", try_number=1, pool="db")
        store.slots_path.write_bytes(b'{"_meta": {"1": {"schema": 1, "kind": "slots"}}, "holders": [{"dag_id": ')
        key = make_run(store, spec)
        clock = FakeClock(T0)
        ex = InlineExecutor(clock, lambda job: Outcome(seconds=1))
        driver = Driver(store=store, executor=ex, specs=lambda: {spec.dag_id: spec}, workers=4, owner=ME,
                        clock=clock, scope=RunScope({key}, store))
        for _ in range(5):
            driver.loop.step(ex.poll(0.1), clock.now())
        assert ex.jobs == []
        [held] = Store(home).slot_holders(locked=True)
        assert (held["task_id"], held["pool"], held["owner"]["pid"]) == ("t0", "db", other.pid)
        other.kill()
        other.wait()
        assert driver.run() == 0 and len(ex.jobs) == 1
    finally:
        if other.poll() is None:
            other.kill()
            other.wait()
