"""The engine's loop, driven in-process: a real store in a temporary home, an
executor that runs nothing (`flowctl.testing.InlineExecutor`) and a fake clock.
Retries, timeouts, trigger rules, adoption, kills and catch-up in milliseconds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pendulum
import pytest

from flowctl import DAG, BashOperator, EmptyOperator
from flowctl.clock import FakeClock, iso
from flowctl.engine.clearing import apply_clear, plan_clear
from flowctl.engine.drive import Driver
from flowctl.engine.runs import new_run
from flowctl.engine.scheduler import SchedulerScope
from flowctl.engine.scopes import RunScope
from flowctl.executors.base import Finished, Job
from flowctl.loader import DagBag
from flowctl.procs import owner_identity, process_start_time
from flowctl.records import Run, RunKey, TaskInstance, TaskKey, TryKey
from flowctl.specs import DagSpec
from flowctl.store import Store
from flowctl.testing import InlineExecutor, Outcome

pytestmark = pytest.mark.timeout(30)

T0 = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)
ME = owner_identity("run")


def spec_of(dag: DAG) -> DagSpec:
    return DagSpec.from_dag(dag, "/dags/test.py", "UTC")


def chain(dag_id: str = "chain", n: int = 3, **task_args: Any) -> DagSpec:
    with DAG(dag_id, schedule=None) as dag:
        tasks = [EmptyOperator(task_id=f"t{i}", **task_args) for i in range(n)]
        for up, down in zip(tasks, tasks[1:], strict=False):
            up >> down
    return spec_of(dag)


def orphan_sleeper() -> int:
    """A `sleep` in its own process group whose parent is not this test (as a
    dead fork server's try would be): its pid, which is also its group."""
    start = f"{sys.executable} -c 'import os; os.setsid(); os.execvp(\"sleep\", [\"sleep\", \"30\"])'"
    out = subprocess.run(["sh", "-c", f"{start} >/dev/null 2>&1 & echo $!"], capture_output=True, text=True, check=True)
    pid = int(out.stdout.strip())
    while "(sleep)" not in Path(f"/proc/{pid}/stat").read_text():
        time.sleep(0.01)  # until it is the sleep, in its own session and group
    return pid


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper does not count)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def make_run(store: Store, spec: DagSpec, when: datetime = T0, owner: dict[str, Any] | None = ME,
             run_type: str = "manual") -> RunKey:
    with store.transaction() as tx:
        run_id = new_run(tx, spec, run_type=run_type, logical_date=when, interval=(when, when + timedelta(days=1)),
                         owner=owner, now=when)
    assert run_id is not None
    return RunKey(spec.dag_id, run_id)


def carry(store: Store, specs: dict[str, DagSpec], keys: set[RunKey], executor: InlineExecutor, clock: FakeClock,
          workers: int = 2, owner: dict[str, Any] = ME) -> tuple[int, Driver]:
    events: list[tuple[str, dict[str, Any]]] = []
    driver = Driver(store=store, executor=executor, specs=lambda: specs, workers=workers, owner=owner, clock=clock,
                    scope=RunScope(keys, store), announce=lambda kind, info: events.append((kind, info)))
    driver.events = events  # type: ignore[attr-defined]
    return driver.run(), driver


def tis(store: Store, key: RunKey) -> dict[str, TaskInstance]:
    data = Store(store.home).read_run(*key)
    assert data is not None
    return {k.label(): ti for k, ti in data.tis.items()}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


# -- the happy path ------------------------------------------------------------------------------


def test_a_chain_runs_in_order_each_task_once(home: Path):
    """t0 >> t1 >> t2: each starts after its upstream ended, once, and the run succeeds."""
    store, clock = Store(home), FakeClock(T0)
    spec = chain()
    key = make_run(store, spec)
    ex = InlineExecutor(clock, lambda job: Outcome(seconds=10))
    code, _ = carry(store, {spec.dag_id: spec}, {key}, ex, clock)
    assert code == 0
    assert [j.key.task_id for j in ex.jobs] == ["t0", "t1", "t2"]
    got = tis(store, key)
    assert all(ti.state == "success" and ti.try_number == 1 for ti in got.values())
    ends = [datetime.fromisoformat(got[f"t{i}"].end_date) for i in range(3)]
    starts = [datetime.fromisoformat(got[f"t{i}"].start_date) for i in range(3)]
    assert starts[1] >= ends[0] and starts[2] >= ends[1]
    assert store.read_run(*key).record.state == "success"


def test_one_worker_slot_runs_one_task_at_a_time(home: Path):
    """workers=1 and five independent tasks: never two at once, all five run."""
    store, clock = Store(home), FakeClock(T0)
    with DAG("fan", schedule=None) as dag:
        for i in range(5):
            EmptyOperator(task_id=f"f{i}")
    spec = spec_of(dag)
    key = make_run(store, spec)
    most = []
    ex = InlineExecutor(clock, lambda job: Outcome(seconds=5))
    real_submit = ex.submit

    def submit(job: Job) -> None:
        real_submit(job)
        most.append(ex.running())

    ex.submit = submit  # type: ignore[method-assign]
    code, _ = carry(store, {spec.dag_id: spec}, {key}, ex, clock, workers=1)
    assert code == 0 and len(ex.jobs) == 5 and max(most) == 1


def test_dag_and_task_ids_that_look_like_bookkeeping_are_just_names(home: Path):
    """A DAG `cb` with tasks `cb` and `x__1`: keys are values, nothing collides."""
    store, clock = Store(home), FakeClock(T0)
    with DAG("cb", schedule=None) as dag:
        EmptyOperator(task_id="cb") >> EmptyOperator(task_id="x__1")
    spec = spec_of(dag)
    key = make_run(store, spec)
    code, _ = carry(store, {"cb": spec}, {key}, InlineExecutor(clock), clock)
    assert code == 0 and {t: ti.state for t, ti in tis(store, key).items()} == {"cb": "success", "x__1": "success"}


# -- failures -----------------------------------------------------------------------------------


def test_retries_wait_their_delay_on_the_clock(home: Path):
    """retries=2, retry_delay=60 s: two failures then success; each retry starts 60 s after the failure."""
    store, clock = Store(home), FakeClock(T0)
    spec = chain(n=1, retries=2, retry_delay=timedelta(seconds=60))
    key = make_run(store, spec)

    def flaky(job: Job) -> Outcome:
        assert isinstance(job.key, TryKey)
        ok = job.key.try_number == 3
        return Outcome({"state": "success" if ok else "failed", "error": None if ok else "boom", "xcom": {}}, seconds=1)

    code, _ = carry(store, {spec.dag_id: spec}, {key}, InlineExecutor(clock, flaky), clock)
    assert code == 0
    ti = tis(store, key)["t0"]
    assert ti.state == "success" and ti.try_number == 3
    tries = ti.tries
    assert [t["state"] for t in tries] == ["up_for_retry", "up_for_retry", "success"]
    for before, after in zip(tries, tries[1:], strict=False):
        gap = datetime.fromisoformat(after["start_date"]) - datetime.fromisoformat(before["end_date"])
        assert timedelta(seconds=60) <= gap < timedelta(seconds=61)


def test_a_cleared_task_has_its_retries_again(home: Path):
    """retries=1: tries 1 and 2 fail, the run fails. Cleared, the try count goes on and the
    retries come back (Airflow's rule): try 3 fails into up_for_retry, try 4 runs."""
    store, clock = Store(home), FakeClock(T0)
    spec = chain(n=1, retries=1, retry_delay=timedelta(seconds=60))
    key = make_run(store, spec)

    bases = []

    def fails_until_4(job: Job) -> Outcome:
        assert isinstance(job.key, TryKey)
        bases.append(job.payload["retry_base"])  # the try's ti.max_tries is retries + this
        ok = job.key.try_number == 4
        return Outcome({"state": "success" if ok else "failed", "error": None if ok else "boom", "xcom": {}}, seconds=1)

    assert carry(store, {spec.dag_id: spec}, {key}, InlineExecutor(clock, fails_until_4), clock)[0] == 1
    assert tis(store, key)["t0"].try_number == 2
    apply_clear(store, spec, plan_clear(store, spec, key.dag_id, [key.run_id], task_regex=None, upstream=False,
                                        downstream=False, only_failed=False, changed=False))
    assert tis(store, key)["t0"].max_tries == 4  # shown as "try 3 of 4"
    assert store.read_run(*key).record.start_date is None  # its clock starts again with it
    clock.advance(3600)
    assert carry(store, {spec.dag_id: spec}, {key}, InlineExecutor(clock, fails_until_4), clock)[0] == 0
    assert datetime.fromisoformat(store.read_run(*key).record.start_date) >= T0 + timedelta(hours=1)
    ti = tis(store, key)["t0"]
    assert ti.state == "success" and ti.try_number == 4
    assert [t["state"] for t in ti.tries] == ["up_for_retry", "failed", "up_for_retry", "success"]
    assert bases == [0, 0, 2, 2]


def test_execution_timeout_terminates_the_try_and_fails_it(home: Path):
    """A try that runs past execution_timeout is sent SIGTERM at that time and fails saying so."""
    store, clock = Store(home), FakeClock(T0)
    spec = chain(n=1, execution_timeout=timedelta(seconds=30))
    key = make_run(store, spec)
    ex = InlineExecutor(clock, lambda job: Outcome(hold=True))
    code, _ = carry(store, {spec.dag_id: spec}, {key}, ex, clock)
    assert code == 1
    ti = tis(store, key)["t0"]
    assert ti.state == "failed" and "timed out after 30 s" in (ti.error or "")
    assert ex.kills and ex.kills[0][1] is False  # SIGTERM first
    took = datetime.fromisoformat(ti.end_date) - datetime.fromisoformat(ti.start_date)
    assert timedelta(seconds=30) <= took < timedelta(seconds=31)


def test_a_failure_cascades_and_all_done_still_runs(home: Path):
    """extract fails: load is upstream_failed, cleanup (all_done) runs, the run fails."""
    store, clock = Store(home), FakeClock(T0)
    with DAG("rules", schedule=None) as dag:
        extract = EmptyOperator(task_id="extract")
        load = EmptyOperator(task_id="load")
        cleanup = EmptyOperator(task_id="cleanup", trigger_rule="all_done")
        extract >> load >> cleanup
    spec = spec_of(dag)
    key = make_run(store, spec)

    def fail_extract(job: Job) -> Outcome:
        bad = job.key.task_id == "extract"
        return Outcome({"state": "failed" if bad else "success", "error": "no" if bad else None, "xcom": {}})

    code, _ = carry(store, {spec.dag_id: spec}, {key}, InlineExecutor(clock, fail_extract), clock)
    assert code == 1
    assert {t: ti.state for t, ti in tis(store, key).items()} == {
        "extract": "failed", "load": "upstream_failed", "cleanup": "success"}


def test_a_try_that_ends_without_a_result_fails_with_how(home: Path):
    """A process that dies without a result fails its try and says how it died."""
    store, clock = Store(home), FakeClock(T0)
    spec = chain(n=1)
    key = make_run(store, spec)
    code, _ = carry(store, {spec.dag_id: spec}, {key}, InlineExecutor(clock, lambda job: Outcome(None, exit_code=-11)),
                    clock)
    assert code == 1
    assert "ended without a result (killed by SIGSEGV)" in (tis(store, key)["t0"].error or "")


# -- other writers, adoption, kills ------------------------------------------------------------------


def test_a_try_cleared_while_it_runs_is_killed_and_runs_again(home: Path):
    """Another writer clears a running task: the loop kills the old try and runs try 2."""
    store, clock = Store(home), FakeClock(T0)
    spec = chain(n=1)
    key = make_run(store, spec)
    cleared = []

    def behave(job: Job) -> Outcome:
        assert isinstance(job.key, TryKey)
        return Outcome(hold=job.key.try_number == 1, seconds=1)

    ex = InlineExecutor(clock, behave)
    real_poll = ex.poll

    def poll(timeout: float) -> list[Any]:
        events = real_poll(timeout)
        if ex.running() and not cleared:  # try 1 is running: clear it from "another process"
            other = Store(home)
            apply_clear(other, spec, plan_clear(other, spec, key.dag_id, [key.run_id], task_regex=None,
                                               upstream=False, downstream=False, only_failed=False, changed=False))
            cleared.append(True)
        return events

    ex.poll = poll  # type: ignore[method-assign]
    code, _ = carry(store, {spec.dag_id: spec}, {key}, ex, clock)
    assert code == 0 and cleared
    assert [(k.try_number, hard) for k, hard in ex.kills] == [(1, True)]
    assert tis(store, key)["t0"].try_number == 2


def test_a_run_whose_owner_died_is_adopted_and_its_running_try_runs_again(home: Path):
    """The scheduler takes a run whose owner is gone: the try it had running is
    killed (its process group), recorded as interrupted, and runs again as try 2."""
    store, clock = Store(home), FakeClock(T0)
    spec = chain(n=1)
    dead = {"pid": 2 ** 22 - 3, "started": "1", "hostname": ME["hostname"]}
    key = make_run(store, spec, owner=dead)
    leftover = orphan_sleeper()  # the old try, still running
    try:
        with store.transaction() as tx:
            tx.run(*key).put_ti("t0", state="running", try_number=1, pid=leftover,
                                pid_started=process_start_time(leftover))
        ex = InlineExecutor(clock)
        scope = SchedulerScope(store=store, owner=owner_identity("scheduler"),
                               dags=lambda: DagBag(dags={spec.dag_id: spec}), status=_Status(), log=lambda line: None,
                               until_idle=True, clock=clock)
        scope.reload(force=True)
        driver = Driver(store=store, executor=ex, specs=scope.current_specs, workers=2,
                        owner=scope.owner, clock=clock, scope=scope)
        assert driver.run() == 0
        assert not alive(leftover)
    finally:
        if alive(leftover):
            os.killpg(leftover, signal.SIGKILL)
    ti = tis(store, key)["t0"]
    assert ti.state == "success" and ti.try_number == 2
    assert ti.tries[0]["state"] == "interrupted"


def test_a_lost_try_ends_only_once_its_process_group_is_gone(home: Path):
    """The executor lost a try (its fork server died) while its process still runs:
    the loop kills the group and starts try 2 only after the group is gone."""
    store, clock = Store(home), FakeClock(T0)
    spec = chain(n=1, retries=1, retry_delay=timedelta(seconds=0))
    key = make_run(store, spec)
    proc = orphan_sleeper()
    gone_at_try2 = []

    def behave(job: Job) -> Outcome:
        assert isinstance(job.key, TryKey)
        if job.key.try_number == 2:
            gone_at_try2.append(not alive(proc))
        return Outcome(hold=job.key.try_number == 1)

    ex = InlineExecutor(clock, behave)
    real_poll = ex.poll
    lost = []

    def poll(timeout: float) -> list[Any]:
        events = real_poll(timeout)
        if ex.running() and not lost:
            first = next(iter(ex._running))
            ex._running.pop(first)
            events.append(Finished(first, None, None, "its fork server died", lost=True, pid=proc))
            lost.append(first)
        return events

    ex.poll = poll  # type: ignore[method-assign]
    try:
        code, _ = carry(store, {spec.dag_id: spec}, {key}, ex, clock)
    finally:
        if alive(proc):
            os.killpg(proc, signal.SIGKILL)
    assert code == 0 and gone_at_try2 == [True]
    ti = tis(store, key)["t0"]
    assert ti.try_number == 2 and "lost" in (ti.tries[0]["error"] or "")


# -- the scheduler's scope ---------------------------------------------------------------------------


class _Status:
    def read(self) -> dict[str, Any]:
        return {}

    def write(self, doc: dict[str, Any]) -> None:
        pass


def test_catch_up_creates_and_carries_out_every_missed_interval(home: Path):
    """catchup=True, start 1 March, now 5 March 06:00: the scheduler creates and runs
    1..4 March in order and stops when idle."""
    store, clock = Store(home), FakeClock(datetime(2026, 3, 5, 6, 0, tzinfo=UTC))
    with DAG("daily", schedule="@daily", start_date=pendulum.datetime(2026, 3, 1, tz="UTC"), catchup=True) as dag:
        BashOperator(task_id="a", bash_command="true")
    spec = spec_of(dag)
    ex = InlineExecutor(clock)
    scope = SchedulerScope(store=store, owner=owner_identity("scheduler"),
                           dags=lambda: DagBag(dags={spec.dag_id: spec}), status=_Status(), log=lambda line: None,
                           until_idle=True, clock=clock)
    scope.reload(force=True)
    driver = Driver(store=store, executor=ex, specs=scope.current_specs, workers=2, owner=scope.owner,
                    clock=clock, scope=scope)
    assert driver.run() == 0
    days = [iso(datetime(2026, 3, d, tzinfo=UTC)) for d in (1, 2, 3, 4)]
    assert [j.key.run_id for j in ex.jobs] == [f"scheduled__{d}" for d in days]
    assert all(store.read_run("daily", f"scheduled__{d}").record.state == "success" for d in days)


def test_a_run_of_a_date_counts_whatever_its_type(home: Path):
    """A manual run of 2 March covers that interval: the scheduler does not make a
    scheduled one beside it (one run per logical date)."""
    store, clock = Store(home), FakeClock(datetime(2026, 3, 3, 6, 0, tzinfo=UTC))
    with DAG("daily", schedule="@daily", start_date=pendulum.datetime(2026, 3, 1, tz="UTC"), catchup=True) as dag:
        BashOperator(task_id="a", bash_command="true")
    spec = spec_of(dag)
    make_run(store, spec, when=datetime(2026, 3, 2, tzinfo=UTC), owner=None)
    scope = SchedulerScope(store=store, owner=owner_identity("scheduler"),
                           dags=lambda: DagBag(dags={spec.dag_id: spec}), status=_Status(), log=lambda line: None,
                           until_idle=True, clock=clock)
    scope.reload(force=True)
    driver = Driver(store=store, executor=InlineExecutor(clock), specs=scope.current_specs, workers=2,
                    owner=scope.owner, clock=clock, scope=scope)
    assert driver.run() == 0
    assert store.run_ids("daily") == ["manual__2026-03-02T00:00:00+00:00", "scheduled__2026-03-01T00:00:00+00:00"]


def test_typed_records_round_trip(home: Path):
    """A run and its task instances survive to_doc / from_doc, unknown fields included."""
    run = Run("d", "manual__x", state="running", conf={"a": 1}, extra={"future": True})
    assert Run.from_doc(run.to_doc()) == run
    ti = TaskInstance("t", 3, state="success", try_number=2, tries=[{"try_number": 1}], extra={"note": "n"})
    assert TaskInstance.from_doc(ti.to_doc()) == ti
    assert ti.key == TaskKey("t", 3) and ti.key.label() == "t[3]"


def test_a_run_over_in_one_step_still_has_a_start_date(home: Path):
    """A one-task run whose try starts and ends between two ticks goes from queued
    to success at once: it still records when it started (its try's start)."""
    store, clock = Store(home), FakeClock(T0)
    with DAG("one", schedule=None) as dag:
        EmptyOperator(task_id="only")
    spec = spec_of(dag)
    key = make_run(store, spec)
    code, _ = carry(store, {spec.dag_id: spec}, {key}, InlineExecutor(clock), clock)
    record = Store(home).read_run(*key).record
    assert code == 0 and record.state == "success"
    assert record.start_date is not None and record.start_date <= record.end_date


def test_a_backfill_keeps_only_its_unfinished_runs_in_the_loop(home: Path):
    """A finished backfill run leaves the loop's scope: with 2 runs at a time the
    loop never carries more than 2, however many the backfill has made (else each
    tick looks at every run so far, and a year of runs costs its square)."""
    from flowctl.engine.backfill import plan_backfill, starter
    from flowctl.engine.scopes import Feed

    store, clock = Store(home), FakeClock(T0)
    with DAG("daily", schedule="@daily", start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:
        EmptyOperator(task_id="a") >> EmptyOperator(task_id="b")
    spec = spec_of(dag)
    plan = plan_backfill(store, spec, datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 10, tzinfo=UTC), "none", False)
    sizes: list[int] = []

    class Watched(Feed):
        def runs(self):
            keys = super().runs()
            sizes.append(len(keys))
            return keys

    feed = Watched(items=list(plan), max_active=2, start=starter(store, spec, ME, T0), store=store)
    ex = InlineExecutor(clock, lambda job: Outcome(seconds=5))
    driver = Driver(store=store, executor=ex, specs=lambda: {spec.dag_id: spec}, workers=2, owner=ME, clock=clock,
                    scope=feed, announce=lambda kind, info: None)
    assert driver.run() == 0
    assert len(feed.finished) == 10 and set(feed.finished.values()) == {"success"}
    assert max(sizes) == 2 and sizes[-1] == 0


def test_the_scheduler_lets_ended_runs_go(home: Path):
    """Catching up 30 days, the scheduler's loop ends carrying only the last runs,
    not all 30: a daemon must not carry (and look at on every tick) every run it
    ever ran. A cleared run comes back in and runs again."""
    store, clock = Store(home), FakeClock(datetime(2026, 3, 31, 6, 0, tzinfo=UTC))
    with DAG("daily", schedule="@daily", start_date=pendulum.datetime(2026, 3, 1, tz="UTC"), catchup=True) as dag:
        BashOperator(task_id="a", bash_command="true")
    spec = spec_of(dag)

    def scheduler() -> Driver:
        scope = SchedulerScope(store=store, owner=owner_identity("scheduler"),
                               dags=lambda: DagBag(dags={spec.dag_id: spec}), status=_Status(),
                               log=lambda line: None, until_idle=True, clock=clock)
        scope.reload(force=True)
        return Driver(store=store, executor=InlineExecutor(clock), specs=scope.current_specs, workers=2,
                      owner=scope.owner, clock=clock, scope=scope)

    driver = scheduler()
    assert driver.run() == 0
    assert len(store.run_ids("daily")) == 30 and len(driver.loop.carried) <= 2
    first = f"scheduled__{iso(datetime(2026, 3, 1, tzinfo=UTC))}"
    apply_clear(store, spec, plan_clear(store, spec, "daily", [first], task_regex=None, upstream=False,
                                        downstream=False, only_failed=False, changed=False))
    assert scheduler().run() == 0
    assert tis(store, RunKey("daily", first))["a"].try_number == 2


def test_a_backfill_plan_finds_existing_runs_and_refuses_a_range_too_long_to_plan(home: Path):
    """The plan knows which dates have runs (one listing of the DAG's runs, not one per
    interval: 43,825 hourly intervals took 16-88 s); a range of more than
    MAX_INTERVALS intervals is one clear refusal instead of minutes and gigabytes."""
    from flowctl.engine.backfill import MAX_INTERVALS, plan_backfill
    from flowctl.errors import UsageError

    store = Store(home)
    with DAG("minutely", schedule=timedelta(minutes=1), start_date=pendulum.datetime(2000, 1, 1, tz="UTC")) as dag:
        EmptyOperator(task_id="t")
    spec = spec_of(dag)
    make_run(store, spec, datetime(2026, 1, 1, 0, 1, tzinfo=UTC), run_type="backfill")
    plan = plan_backfill(store, spec, datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 0, 2, tzinfo=UTC),
                         "none", False)
    assert [i.action for i in plan] == ["create", "follow", "create"]  # this live process owns that run
    with pytest.raises(UsageError, match=f"more than {MAX_INTERVALS:,} intervals of minutely"):
        plan_backfill(store, spec, datetime(2000, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC), "none", False)


def test_the_stop_line_names_each_running_task_once():
    """A task in two runs reads `d.a (in 2 runs)`, three mapped instances in one run
    `d.m (3 instances)` (not "in 3 runs"), and past five tasks the rest are counted."""
    from flowctl.engine.drive import _running_names

    tries = [TryKey("d", "r1", "a", -1, 1), TryKey("d", "r2", "a", -1, 1),
             *(TryKey("d", "r1", "m", i, 1) for i in range(3)), TryKey("d", "r1", "b", -1, 2)]
    assert _running_names(tries) == ("d.a (in 2 runs), d.m (3 instances), d.b", "")
    many = [TryKey("d", "r", f"t{i}", -1, 1) for i in range(7)]
    assert _running_names(many) == ("d.t0, d.t1, d.t2, d.t3, d.t4", " and 2 more")


def test_a_try_that_runs_is_no_longer_a_mark(home: Path):
    """An instance a mark left `marked` (an earlier version's clear kept the flag) runs
    a try: what it did is the try's, and explain must not call it a hand mark."""
    store, clock = Store(home), FakeClock(T0)
    spec = chain(n=1)
    key = make_run(store, spec)
    with store.transaction() as tx:
        run = tx.run(*key)
        assert run is not None
        run.put_ti(TaskKey("t0"), marked=True)
    assert carry(store, {spec.dag_id: spec}, {key}, InlineExecutor(clock), clock)[0] == 0
    ti = tis(store, key)["t0"]
    assert ti.state == "success" and ti.marked is None


def test_a_mark_ends_only_a_try_it_cuts_short():
    """Running since 06:00 and marked at 06:01: it ends then, 60 s. Never run since its
    clear: no end, no duration (not the time since an old try's start). Up for retry or
    finished: its last try's end stays."""
    from flowctl.engine.clearing import _mark_times

    running = TaskInstance("t", state="running", start_date=T0.isoformat())
    assert _mark_times(running, T0 + timedelta(minutes=1)) == {"end_date": (T0 + timedelta(minutes=1)).isoformat(),
                                                               "duration": 60.0}
    cleared = TaskInstance("t", state="none", start_date=T0.isoformat(), duration=5.0)
    assert _mark_times(cleared, T0 + timedelta(minutes=1)) == {"end_date": None, "duration": None}
    waiting = TaskInstance("t", state="up_for_retry", start_date=T0.isoformat(), end_date=T0.isoformat())
    assert _mark_times(waiting, T0 + timedelta(minutes=1)) == {}
