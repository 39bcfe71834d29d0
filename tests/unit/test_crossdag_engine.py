"""Assets and triggered runs in the engine, driven in-process: a real store in a
temporary home, `InlineExecutor` and a fake clock. Asset events ride in the
commit of their task's success; a trigger's run is made in the commit of the
try that asked for it; asset-scheduled DAGs get runs from the events queued for them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from flowctl import DAG, EmptyOperator, assetlog
from flowctl.authoring.assets import Asset
from flowctl.clock import FakeClock
from flowctl.engine.assets import AssetTriggers, last_cursor, satisfied
from flowctl.engine.crossdag import TriggerRun
from flowctl.engine.drive import Driver
from flowctl.engine.effects import Context
from flowctl.engine.loop import Loop
from flowctl.engine.runs import new_run
from flowctl.engine.scheduler import SchedulerScope
from flowctl.engine.scopes import RunScope
from flowctl.executors.base import Job
from flowctl.loader import DagBag
from flowctl.procs import owner_identity
from flowctl.records import RunKey, TaskKey, TryKey
from flowctl.specs import DagSpec
from flowctl.store import Store
from flowctl.testing import InlineExecutor, Outcome

pytestmark = pytest.mark.timeout(30)

T0 = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)
ME = owner_identity("run")


def spec_of(dag: DAG) -> DagSpec:
    return DagSpec.from_dag(dag, "/dags/test.py", "UTC")


def make_run(store: Store, spec: DagSpec, when: datetime = T0, owner: dict[str, Any] | None = ME) -> RunKey:
    with store.transaction() as tx:
        run_id = new_run(tx, spec, run_type="manual", logical_date=when, interval=(when, when + timedelta(days=1)),
                         owner=owner, now=when)
    assert run_id is not None
    return RunKey(spec.dag_id, run_id)


def carry(store: Store, specs: dict[str, DagSpec], keys: set[RunKey], executor: InlineExecutor,
          clock: FakeClock) -> tuple[int, Driver]:
    driver = Driver(store=store, executor=executor, specs=lambda: specs, workers=2, owner=ME, clock=clock,
                    scope=RunScope(keys, store))
    return driver.run(), driver


class _Status:
    def read(self) -> dict[str, Any]:
        return {}

    def write(self, doc: dict[str, Any]) -> None:
        pass


def schedule(store: Store, specs: dict[str, DagSpec], clock: FakeClock, executor: InlineExecutor | None = None) -> int:
    """`flowctl scheduler --until-idle` on these DAGs, in-process."""
    scope = SchedulerScope(store=store, owner=owner_identity("scheduler"), dags=lambda: DagBag(dags=dict(specs)),
                           status=_Status(), log=lambda line: None, until_idle=True, clock=clock)
    scope.reload(force=True)
    driver = Driver(store=store, executor=executor or InlineExecutor(clock), specs=scope.current_specs, workers=2,
                    owner=scope.owner, clock=clock, scope=scope)
    return driver.run()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def producer(dag_id: str = "produce", *assets: Asset) -> DagSpec:
    with DAG(dag_id, schedule=None) as dag:
        EmptyOperator(task_id="make", outlets=list(assets or [Asset("s3://bucket/a")]))
    return spec_of(dag)


def consumer(dag_id: str, schedule: Any) -> DagSpec:
    with DAG(dag_id, schedule=schedule) as dag:
        EmptyOperator(task_id="use")
    return spec_of(dag)


# -- asset events ----------------------------------------------------------------------------------


def test_an_asset_event_is_committed_with_its_tasks_success(home: Path):
    """Tick by tick, a reader never sees the producing task's success without its
    asset event, nor the event before the success (the same commit)."""
    store, clock = Store(home), FakeClock(T0)
    spec = producer()
    key = make_run(store, spec)
    ex = InlineExecutor(clock, lambda job: Outcome(seconds=3))
    loop = Loop(store=store, executor=ex, specs=lambda: {spec.dag_id: spec}, workers=2, owner=ME, clock=clock,
                scope={key})
    seen = []
    events: list[Any] = []
    for _ in range(50):
        loop.step(events, clock.now())
        reader = Store(home)
        success = reader.read_run(*key).tis[TaskKey("make")].state == "success"
        recorded = len(assetlog.events(reader))
        seen.append((success, recorded))
        assert recorded == (1 if success else 0), seen
        if reader.read_run(*key).record.state == "success":
            break
        events = ex.poll(1.0)
    event = assetlog.events(store)[0]
    ti = store.read_run(*key).tis[TaskKey("make")]
    assert (event["uri"], event["dag_id"], event["task_id"], event["try_number"]) == ("s3://bucket/a", "produce",
                                                                                     "make", 1)
    assert event["timestamp"] == ti.end_date and ti.extra["assets_updated"] == ["s3://bucket/a"]


def test_a_failed_or_skipped_try_records_no_event(home: Path):
    """Only success updates an asset (Airflow's rule)."""
    store, clock = Store(home), FakeClock(T0)
    spec = producer()
    for state in ("failed", "skipped"):
        key = make_run(store, spec, when=T0 + timedelta(hours=len(store.run_ids("produce"))))
        carry(store, {spec.dag_id: spec}, {key}, InlineExecutor(clock, lambda job, s=state: Outcome(
            {"state": s, "error": "no" if s == "failed" else None, "xcom": {}})), clock)
    assert assetlog.events(store) == []


def test_extras_and_aliases_come_from_the_result(home: Path):
    """A try's result may give its outlet events extras, and add assets through an alias."""
    store, clock = Store(home), FakeClock(T0)
    spec = producer("produce", Asset("s3://bucket/a"))
    key = make_run(store, spec)
    result = {"state": "success", "xcom": {}, "outlet_events": [
        {"uri": "s3://bucket/a", "extra": {"rows": 3}}, {"uri": "s3://bucket/b", "extra": {}, "alias": "al"}]}
    carry(store, {spec.dag_id: spec}, {key}, InlineExecutor(clock, lambda job: Outcome(result)), clock)
    got = [(e["uri"], e["extra"], e["alias"]) for e in assetlog.events(store)]
    assert got == [("s3://bucket/a", {"rows": 3}, None), ("s3://bucket/b", {}, "al")]


# -- conditions and asset-triggered runs -------------------------------------------------------------


@pytest.mark.parametrize("cond, updated, due", [
    pytest.param({"all": [{"asset": "a"}, {"asset": "b"}]}, {"a"}, False, id="list-needs-all"),
    pytest.param({"all": [{"asset": "a"}, {"asset": "b"}]}, {"a", "b"}, True, id="list-all-there"),
    pytest.param({"any": [{"asset": "a"}, {"asset": "b"}]}, {"b"}, True, id="or-one"),
    pytest.param({"any": [{"asset": "a"}, {"all": [{"asset": "b"}, {"asset": "c"}]}]}, {"b"}, False,
                 id="a-or-b-and-c-only-b"),
    pytest.param({"any": [{"asset": "a"}, {"all": [{"asset": "b"}, {"asset": "c"}]}]}, {"b", "c"}, True,
                 id="a-or-b-and-c-both"),
    pytest.param({"alias": "al"}, set(), False, id="alias-unresolved"),
])
def test_conditions_as_a_truth_table(cond, updated, due):
    """`&` needs every asset updated, `|` any; nesting combines them."""
    assert satisfied(cond, updated, set()) is due


def test_an_alias_holds_through_its_events_and_then_its_assets():
    """An alias is satisfied by an event made through it, and once resolved by its asset's own events."""
    assert satisfied({"alias": "al"}, {"s3://x"}, {"al"})
    assert satisfied({"alias": "al"}, {"s3://x"}, set(), {"al": {"s3://x"}})
    assert not satisfied({"alias": "al"}, {"s3://y"}, set(), {"al": {"s3://x"}})


def test_a_consumer_runs_once_per_batch_of_events_with_them_in_its_context(home: Path):
    """Two producer runs, then the scheduler: one consumer run takes both events
    (triggering_asset_events); nothing new makes no second run."""
    store, clock = Store(home), FakeClock(T0)
    prod, cons = producer(), consumer("consume", [Asset("s3://bucket/a")])
    specs = {"produce": prod, "consume": cons}
    for hour in (0, 1):
        key = make_run(store, prod, when=T0 + timedelta(hours=hour))
        carry(store, specs, {key}, InlineExecutor(clock), clock)
    ex = InlineExecutor(clock)
    assert schedule(store, specs, clock, ex) == 0
    runs = store.run_ids("consume")
    assert len(runs) == 1 and runs[0].startswith("asset_triggered__")
    run = store.read_run("consume", runs[0])
    assert run.record.run_type == "asset_triggered" and run.record.state == "success"
    assert [e["n"] for e in run.record.extra["triggering_asset_events"]] == [1, 2]
    assert [j.payload["run"]["triggering_asset_events"][-1]["n"] for j in ex.jobs] == [2]  # in the context
    assert last_cursor(store, "consume") == 2
    assert schedule(store, specs, clock) == 0 and len(store.run_ids("consume")) == 1


def test_all_of_waits_for_every_asset(home: Path):
    """schedule=[a, b]: a alone makes no run; a then b makes one with both events."""
    store, clock = Store(home), FakeClock(T0)
    a, b = Asset("s3://a"), Asset("s3://b")
    pa, pb, cons = producer("pa", a), producer("pb", b), consumer("both", a & b)
    specs = {"pa": pa, "pb": pb, "both": cons}
    carry(store, specs, {make_run(store, pa)}, InlineExecutor(clock), clock)
    schedule(store, specs, clock)
    assert store.run_ids("both") == []
    carry(store, specs, {make_run(store, pb)}, InlineExecutor(clock), clock)
    schedule(store, specs, clock)
    (run_id,) = store.run_ids("both")
    assert {e["uri"] for e in store.read_run("both", run_id).record.extra["triggering_asset_events"]} == {
        "s3://a", "s3://b"}


def test_a_paused_consumer_is_not_queued_for_and_events_before_it_existed_do_not_count(home: Path):
    """An event queues for the consumers it has when it is recorded and are not paused
    (Airflow's rule): a DAG added or unpaused later does not run on older events."""
    store, clock = Store(home), FakeClock(T0)
    prod = producer()
    later, paused = consumer("later", [Asset("s3://bucket/a")]), consumer("paused", [Asset("s3://bucket/a")])
    with store.transaction() as tx:
        tx.set_dag_flags("paused", paused=True)
    carry(store, {"produce": prod, "paused": paused}, {make_run(store, prod)}, InlineExecutor(clock), clock)
    assert assetlog.events(store)[0]["queued_for"] == []
    with store.transaction() as tx:
        tx.set_dag_flags("paused", paused=False)
    schedule(store, {"produce": prod, "later": later, "paused": paused}, clock)
    assert store.run_ids("later") == [] and store.run_ids("paused") == []


def test_max_active_runs_defers_an_asset_triggered_run(home: Path):
    """A consumer at max_active_runs waits; the events stay queued for its next run."""
    store, clock = Store(home), FakeClock(T0)
    prod = producer()
    with DAG("one_at_a_time", schedule=[Asset("s3://bucket/a")], max_active_runs=1) as dag:
        EmptyOperator(task_id="use")
    cons = spec_of(dag)
    specs = {"produce": prod, "one_at_a_time": cons}
    carry(store, specs, {make_run(store, prod)}, InlineExecutor(clock), clock)
    make_run(store, cons, when=T0 - timedelta(days=3), owner=None)  # an active run of the consumer
    triggers = AssetTriggers(store, owner_identity("scheduler"))
    assert triggers.due(specs, {}, store.active_runs()) == []
    assert [p.spec.dag_id for p in triggers.due(specs, {}, [])] == ["one_at_a_time"]


# -- triggered runs ------------------------------------------------------------------------------


def controller(**trigger: Any) -> DagSpec:
    from flowctl import TriggerDagRunOperator

    with DAG("controller", schedule=None) as dag:
        TriggerDagRunOperator(task_id="go", trigger_dag_id="target", **trigger)
    return spec_of(dag)


def target() -> DagSpec:
    with DAG("target", schedule=None) as dag:
        EmptyOperator(task_id="work")
    return spec_of(dag)


def request(when: datetime = T0, **more: Any) -> dict[str, Any]:
    return {"state": "success", "xcom": {}, "trigger_dag_run": {
        "dag_id": "target", "logical_date": when.isoformat(), "conf": {"n": 1}, **more}}


def test_a_triggered_run_is_made_in_the_commit_of_its_trigger_and_carried_out(home: Path):
    """The run the try asks for exists once the try's success does; `flowctl run` carries it too."""
    store, clock = Store(home), FakeClock(T0)
    specs = {"controller": controller(), "target": target()}
    key = make_run(store, specs["controller"])
    ex = InlineExecutor(clock, lambda job: Outcome(request() if job.key.dag_id == "controller" else
                                                   {"state": "success", "xcom": {}}))
    code, driver = carry(store, specs, {key}, ex, clock)
    assert code == 0
    (run_id,) = store.run_ids("target")
    run = store.read_run("target", run_id)
    assert run_id == "manual__2026-03-10T06:00:00+00:00" and run.record.conf == {"n": 1}
    assert run.record.state == "success" and run.record.extra["triggered_by"]["task_id"] == "go"
    assert driver.loop.triggered == {RunKey("target", run_id)}
    xcom = {k: v for (tk, k), v in store.read_run(*key).xcom.items()}
    assert xcom == {"trigger_dag_id": "target", "trigger_run_id": run_id,
                    "trigger_logical_date_iso": "2026-03-10T06:00:00+00:00"}


@pytest.mark.parametrize("more, state, words", [
    pytest.param({}, "failed", "DagRunAlreadyExists", id="taken"),
    pytest.param({"skip_when_already_exists": True}, "skipped", None, id="skip"),
    pytest.param({"reset_dag_run": True}, "success", None, id="reset"),
])
def test_a_taken_date_fails_skips_or_clears_as_asked(home: Path, more, state, words):
    """One run per logical date: the trigger fails (DagRunAlreadyExists), skips, or
    clears the run of that date so that it runs again (reset_dag_run)."""
    store, clock = Store(home), FakeClock(T0)
    specs = {"controller": controller(), "target": target()}
    old = make_run(store, specs["target"], when=T0, owner=None)
    carry(store, specs, {old}, InlineExecutor(clock), clock)
    key = make_run(store, specs["controller"])
    ex = InlineExecutor(clock, lambda job: Outcome(request(**more) if job.key.dag_id == "controller" else
                                                   {"state": "success", "xcom": {}}))
    carry(store, specs, {key}, ex, clock)
    ti = store.read_run(*key).tis[TaskKey("go")]
    assert ti.state == state and (words is None or words in (ti.error or ""))
    assert store.run_ids("target") == [old.run_id]
    work = store.read_run(*old).tis[TaskKey("work")]
    assert work.try_number == (2 if more.get("reset_dag_run") else 1)


def test_a_trigger_of_a_dag_not_in_the_folder_fails_naming_it(home: Path):
    store, clock = Store(home), FakeClock(T0)
    specs = {"controller": controller()}
    key = make_run(store, specs["controller"])
    carry(store, specs, {key}, InlineExecutor(clock, lambda job: Outcome(request())), clock)
    ti = store.read_run(*key).tis[TaskKey("go")]
    assert ti.state == "failed" and "DagNotFound: Dag id target not found" in (ti.error or "")


def test_a_date_taken_between_the_result_and_the_commit_is_decided_again(home: Path):
    """Inside the commit the trigger checks again: if another process made a run of
    that date since, it writes nothing and the result is decided again."""
    store = Store(home)
    specs = {"target": target()}
    effect = TriggerRun(TryKey("controller", "r", "go", -1, 1), "the event", "target", T0, {}, False, None, False)
    make_run(store, specs["target"], when=T0, owner=None)  # "another process"
    ctx = Context(specs, ME, T0)
    host = make_run(store, controller(), when=T0)
    with store.transaction() as tx:
        writer = tx.run(*host)
        assert not effect.apply(tx, writer, TaskKey("go"), ctx)
    assert ctx.created == [] and len(store.run_ids("target")) == 1


def test_waiting_for_completion_frees_the_slot_until_the_run_ends(home: Path):
    """wait_for_completion: the try ends up_for_reschedule with the run made; a later
    poke that finds it done succeeds, on the same try."""
    store, clock = Store(home), FakeClock(T0)
    specs = {"controller": controller(wait_for_completion=True, poke_interval=10), "target": target()}
    key = make_run(store, specs["controller"])

    def behave(job: Job) -> Outcome:
        if job.key.dag_id == "target":
            return Outcome({"state": "success", "xcom": {}}, seconds=30)
        if job.payload.get("first_poke_at"):  # a later poke: the run of the target is done by now?
            done = store.read_run("target", store.run_ids("target")[0]).record.state == "success"
            nxt = (clock.now() + timedelta(seconds=10)).isoformat()
            return Outcome({"state": "success", "xcom": {}} if done else
                           {"state": "reschedule", "next_poke_at": nxt, "first_poke_at": job.payload["first_poke_at"]})
        return Outcome({**request(), "state": "reschedule", "next_poke_at": (clock.now() + timedelta(seconds=10)
                                                                             ).isoformat(),
                        "first_poke_at": clock.now().isoformat()})

    ex = InlineExecutor(clock, behave)
    code, _ = carry(store, specs, {key}, ex, clock)
    assert code == 0
    ti = store.read_run(*key).tis[TaskKey("go")]
    assert ti.state == "success" and ti.try_number == 1
    assert sum(1 for j in ex.jobs if j.key.dag_id == "controller") >= 3
    assert len(store.run_ids("target")) == 1


def test_a_damaged_asset_journal_stops_nothing_and_doctor_names_it(home: Path):
    """A bad line followed by good ones in the asset journal: the producing task still
    succeeds (its instance says the events were not recorded) and doctor names the file."""
    from flowctl.service.doctor import check

    store, clock = Store(home), FakeClock(T0)
    spec = producer()
    carry(store, {spec.dag_id: spec}, {make_run(store, spec)}, InlineExecutor(clock), clock)
    path = assetlog.journal_path(store)
    good = path.read_bytes()
    path.write_bytes(b"00000000 {not json}\n" + good)
    key = make_run(store, spec, when=T0 + timedelta(hours=1))
    code, _ = carry(store, {spec.dag_id: spec}, {key}, InlineExecutor(clock), clock)
    ti = store.read_run(*key).tis[TaskKey("make")]
    assert code == 0 and ti.state == "success" and "asset events not recorded" in ti.extra["assets_error"]
    findings, _ = check(home)
    assert any(str(path) in f.problem and "move" in f.fix for f in findings)
