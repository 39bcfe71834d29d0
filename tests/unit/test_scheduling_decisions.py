"""The scheduler's decisions as pure functions of (specs, runs, now), on a fake clock:
which runs are due, which tasks start, retries, the wake summary, a clock jump."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pendulum
import pytest

from flowctl import DAG, EmptyOperator
from flowctl.clock import FakeClock, iso
from flowctl.engine.decisions import (
    DEFERRED_COUNTED,
    Queue,
    RunView,
    SetRunState,
    SetState,
    decide,
    due_runs,
    outcome_of_try,
    task_verdicts,
)
from flowctl.specs import DagSpec

pytestmark = pytest.mark.timeout(60)

UTC_START = pendulum.datetime(2026, 3, 1, tz="UTC")
#: 06:00 on 10 March: the intervals of 1..9 March are complete, 10 March is not
NOW = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)


# -- helpers ---------------------------------------------------------------------------


def spec_of(dag: DAG) -> DagSpec:
    return DagSpec.from_dag(dag, "<test>", "UTC")


def daily(catchup: bool = True, max_active_runs: int = 16) -> DagSpec:
    with DAG("daily", schedule="@daily", start_date=UTC_START, catchup=catchup,
             max_active_runs=max_active_runs) as dag:
        EmptyOperator(task_id="only")
    return spec_of(dag)


def chain_spec(n: int = 4, **task_args: Any) -> DagSpec:
    """t0 >> t1 >> ... >> t(n-1)."""
    with DAG("chain", schedule=None) as dag:
        tasks = [EmptyOperator(task_id=f"t{i}", **task_args) for i in range(n)]
        for up, down in zip(tasks, tasks[1:], strict=False):
            up >> down
    return spec_of(dag)


def fan_spec(n: int = 4, max_active_tasks: int = 16, weights: dict[str, int] | None = None) -> DagSpec:
    """n independent tasks."""
    with DAG("fan", schedule=None, max_active_tasks=max_active_tasks) as dag:
        for i in range(n):
            tid = f"f{i}"
            EmptyOperator(task_id=tid, priority_weight=(weights or {}).get(tid, 1))
    return spec_of(dag)


def view(spec: DagSpec, logical_date: datetime = NOW, run_state: str = "queued",
         run_id: str | None = None, **states: str | dict[str, Any]) -> RunView:
    """A run of `spec` with every task in `none` unless given (a state or a whole document)."""
    tis: dict[str, dict[str, Any]] = {}
    for tid in spec.order:
        given = states.get(tid, "none")
        doc = {"state": given} if isinstance(given, str) else dict(given)
        doc.setdefault("try_number", 0 if doc["state"] == "none" else 1)
        tis[tid] = {"task_id": tid, **doc}
    rid = run_id or f"manual__{iso(logical_date)}"
    run = {"run_id": rid, "state": run_state, "logical_date": iso(logical_date)}
    return RunView(spec.dag_id, rid, run, tis, tuple(tis))


def queued(actions: list[Any]) -> list[tuple[str, str]]:
    return [(a.key[1], a.task_id) for a in actions if isinstance(a, Queue)]


def run_states(actions: list[Any]) -> list[str]:
    return [a.to for a in actions if isinstance(a, SetRunState)]


def day(d: int) -> datetime:
    return datetime(2026, 3, d, tzinfo=UTC)


def starts(intervals: list[Any]) -> list[str]:
    return [iso(i.start) for i in intervals]


# -- due_runs ----------------------------------------------------------------------------


def test_catchup_creates_every_complete_interval_after_the_last_scheduled_run():
    """catchup=True: the last run is 6 March, now is 10 March 06:00 -> 7, 8 and 9 March."""
    spec = daily(catchup=True)
    due = due_runs(spec, spec.timetable(), {iso(day(6))}, day(6), 0, NOW)
    assert starts(due.create) == [iso(day(7)), iso(day(8)), iso(day(9))]
    assert due.deferred == 0 and due.skipped == []


def test_catchup_without_any_run_starts_at_start_date():
    """catchup=True and no run yet: every complete interval from start_date, oldest first."""
    spec = daily(catchup=True)
    due = due_runs(spec, spec.timetable(), set(), None, 0, NOW)
    assert starts(due.create) == [iso(day(d)) for d in range(1, 10)]


class _Counting:
    """A timetable that counts the intervals pulled from it."""

    def __init__(self, timetable: Any) -> None:
        self.timetable, self.pulled = timetable, 0

    def iter_complete_intervals(self, now: datetime, after: datetime | None = None) -> Any:
        for interval in self.timetable.iter_complete_intervals(now, after):
            self.pulled += 1
            yield interval

    def __getattr__(self, name: str) -> Any:
        return getattr(self.timetable, name)


def test_catching_up_years_makes_only_what_is_created_now():
    """An hourly DAG from 2000 with no run: 230,000 intervals are due, max_active_runs=16
    are created; the rest are not even made (each tick paid for all of them before), and
    the wake summary counts them up to a bound."""
    with DAG("hourly", schedule="@hourly", start_date=pendulum.datetime(2000, 1, 1, tz="UTC"), catchup=True) as dag:
        EmptyOperator(task_id="t")
    spec = spec_of(dag)
    tt = _Counting(spec.timetable())
    due = due_runs(spec, tt, set(), None, 0, NOW)  # type: ignore[arg-type]
    assert starts(due.create) == [iso(datetime(2000, 1, 1, h, tzinfo=UTC)) for h in range(16)]
    assert tt.pulled == 16
    summary = due_runs(spec, tt, set(), None, 0, NOW, want_skipped=True)  # type: ignore[arg-type]
    assert len(summary.create) == 16 and summary.deferred == DEFERRED_COUNTED


def test_no_catchup_creates_only_the_latest_complete_interval():
    """catchup=False: only the newest complete interval (9 March), with or without earlier runs."""
    spec = daily(catchup=False)
    assert starts(due_runs(spec, spec.timetable(), set(), None, 0, NOW).create) == [iso(day(9))]
    due = due_runs(spec, spec.timetable(), {iso(day(6))}, day(6), 0, NOW)
    assert starts(due.create) == [iso(day(9))]


@pytest.mark.parametrize("catchup", [True, False])
def test_nothing_is_due_when_the_latest_interval_already_has_a_run(catchup: bool):
    """The run of 9 March exists and 10 March is not complete: nothing to create."""
    spec = daily(catchup=catchup)
    due = due_runs(spec, spec.timetable(), {iso(day(8)), iso(day(9))}, day(9), 0, NOW)
    assert due.create == [] and due.deferred == 0


def test_an_existing_backfill_date_is_not_created_again():
    """Backfill runs of 8 and 9 March count as existing: catch-up only makes 7 March."""
    spec = daily(catchup=True)
    existing = {iso(day(6)), iso(day(8)), iso(day(9))}
    due = due_runs(spec, spec.timetable(), existing, day(6), 0, NOW)
    assert starts(due.create) == [iso(day(7))]
    spec = daily(catchup=False)
    assert due_runs(spec, spec.timetable(), existing, day(6), 0, NOW).create == []


def test_max_active_runs_limits_what_is_created_and_reports_the_rest_deferred():
    """max_active_runs=2 with 1 run active: 1 of the 3 due runs (the oldest) is created, 2 deferred."""
    spec = daily(catchup=True, max_active_runs=2)
    due = due_runs(spec, spec.timetable(), {iso(day(6))}, day(6), 1, NOW, want_skipped=True)
    assert starts(due.create) == [iso(day(7))]
    assert due.deferred == 2
    full = due_runs(spec, spec.timetable(), {iso(day(6))}, day(6), 2, NOW, want_skipped=True)
    assert full.create == [] and full.deferred == 3


def test_a_long_gap_without_catchup_lists_the_skipped_intervals():
    """catchup=False after a gap (last run 1 March): 9 March is created and 2..8 March are
    listed as skipped when asked for, and only then."""
    spec = daily(catchup=False)
    due = due_runs(spec, spec.timetable(), {iso(day(1))}, day(1), 0, NOW, want_skipped=True)
    assert starts(due.create) == [iso(day(9))]
    assert starts(due.skipped) == [iso(day(d)) for d in range(2, 9)]
    assert due_runs(spec, spec.timetable(), {iso(day(1))}, day(1), 0, NOW).skipped == []


# -- decide: what starts ---------------------------------------------------------------------


def test_a_ready_task_is_queued_and_its_downstream_waits():
    """In a fresh chain only the first task is queued; the run becomes running; t1 waits for t0."""
    spec = chain_spec(3)
    v = view(spec)
    actions, waits = decide({spec.dag_id: spec}, [v], NOW, workers=4)
    assert queued(actions) == [(v.run_id, "t0")]
    assert run_states(actions) == ["running"]
    assert {w.task_id for w in waits} == {"t1", "t2"}


def test_one_worker_slot_queues_one_task():
    """workers=1 and four independent tasks: one is queued, the others wait for a slot."""
    spec = fan_spec(4)
    actions, waits = decide({spec.dag_id: spec}, [view(spec)], NOW, workers=1)
    assert len(queued(actions)) == 1
    slot_waits = [w for w in waits if "worker slots are busy" in w.reason]
    assert len(slot_waits) == 3


def test_busy_slots_queue_nothing():
    """workers=2 with two tasks already running: nothing more is queued."""
    spec = fan_spec(4)
    v = view(spec, run_state="running", f0="running", f1="queued")
    actions, _ = decide({spec.dag_id: spec}, [v], NOW, workers=2)
    assert queued(actions) == []


def test_max_active_tasks_limits_a_dag_below_the_worker_slots():
    """max_active_tasks=2 with 10 workers: two of four tasks are queued; the others wait on the limit."""
    spec = fan_spec(4, max_active_tasks=2)
    actions, waits = decide({spec.dag_id: spec}, [view(spec)], NOW, workers=10)
    assert len(queued(actions)) == 2
    assert sum("max_active_tasks (2)" in w.reason for w in waits) == 2


def test_max_active_tasks_counts_tasks_already_running():
    """max_active_tasks=2 with one task running: one more is queued."""
    spec = fan_spec(4, max_active_tasks=2)
    v = view(spec, run_state="running", f0="running")
    actions, _ = decide({spec.dag_id: spec}, [v], NOW, workers=10)
    assert len(queued(actions)) == 1


def limited(max_active_runs: int) -> DagSpec:
    with DAG("limited", schedule=None, max_active_runs=max_active_runs) as dag:
        EmptyOperator(task_id="a") >> EmptyOperator(task_id="b")
    return spec_of(dag)


def test_queued_runs_start_oldest_first_within_max_active_runs():
    """max_active_runs=1 and three queued manual runs: only the oldest starts; the
    others wait, saying why (Airflow holds queued runs the same way)."""
    spec = limited(1)
    views = [view(spec, day(d)) for d in (3, 1, 2)]
    actions, waits = decide({"limited": spec}, views, NOW, workers=8)
    assert queued(actions) == [(f"manual__{iso(day(1))}", "a")]
    held = {w.key[1] for w in waits if "max_active_runs (1) reached for limited" in w.reason}
    assert held == {f"manual__{iso(day(2))}", f"manual__{iso(day(3))}"}


def test_a_running_run_holds_back_a_queued_one_but_goes_on_itself():
    spec = limited(1)
    views = [view(spec, day(1), run_state="running", a="success"), view(spec, day(2))]
    actions, _ = decide({"limited": spec}, views, NOW, workers=8)
    assert queued(actions) == [(f"manual__{iso(day(1))}", "b")]
    two = limited(2)
    actions, _ = decide({"limited": two}, [view(two, day(1), run_state="running", a="success"), view(two, day(2))],
                        NOW, workers=8)
    assert sorted(queued(actions)) == [(f"manual__{iso(day(1))}", "b"), (f"manual__{iso(day(2))}", "a")]


def test_a_partly_cleared_run_is_queued_again_and_waits_its_turn():
    """A finished run whose task b was cleared is queued again: with another run
    running and max_active_runs=1 it waits, its finished a notwithstanding."""
    spec = limited(1)
    cleared = view(spec, day(1), run_state="queued", a="success")
    going = view(spec, day(2), run_state="running", a="running")
    actions, waits = decide({"limited": spec}, [cleared, going], NOW, workers=8)
    assert queued(actions) == []
    assert any(w.key == cleared.key and "max_active_runs (1)" in w.reason for w in waits)


def test_a_backfills_runs_are_started_by_the_backfill_not_held_back():
    """A backfill starts its runs itself, within its own --max-active-runs."""
    spec = limited(1)
    views = [view(spec, day(d), run_id=f"backfill__{iso(day(d))}") for d in (1, 2)]
    for v in views:
        v.run["run_type"] = "backfill"
    actions, _ = decide({"limited": spec}, views, NOW, workers=8)
    assert len(queued(actions)) == 2


def test_the_oldest_run_goes_first_even_against_a_higher_priority_weight():
    """One slot, two runs: the older run's task wins over a newer run's heavier task."""
    spec = fan_spec(2, weights={"f1": 100})
    old = view(spec, logical_date=day(1), f1="success")  # only f0 (weight 1) left
    new = view(spec, logical_date=day(2), f0="success")  # only f1 (weight 100) left
    actions, _ = decide({spec.dag_id: spec}, [new, old], NOW, workers=1)
    assert queued(actions) == [(old.run_id, "f0")]


def test_within_a_run_the_higher_priority_weight_goes_first():
    """Free slots go to the heaviest priority_weight first (10, then 5, then 1)."""
    spec = fan_spec(3, weights={"f0": 5, "f1": 1, "f2": 10})
    actions, _ = decide({spec.dag_id: spec}, [view(spec)], NOW, workers=1)
    assert [tid for _, tid in queued(actions)] == ["f2"]
    actions, _ = decide({spec.dag_id: spec}, [view(spec)], NOW, workers=2)
    assert [tid for _, tid in queued(actions)] == ["f2", "f0"]


def test_a_failed_upstream_cascades_through_the_chain_in_one_call():
    """t0 failed: t1, t2 and t3 become upstream_failed and the run fails, all in one decide()."""
    spec = chain_spec(4)
    v = view(spec, run_state="running", t0="failed")
    actions, _ = decide({spec.dag_id: spec}, [v], NOW, workers=4)
    sets = [a for a in actions if isinstance(a, SetState)]
    assert [(s.task_id, s.expected, s.to) for s in sets] == [
        ("t1", "none", "upstream_failed"), ("t2", "none", "upstream_failed"), ("t3", "none", "upstream_failed")]
    assert queued(actions) == []
    assert run_states(actions) == ["failed"]


def test_task_verdicts_cascades_too():
    """task_verdicts alone: every task below a failure is upstream_failed, nothing is ready."""
    spec = chain_spec(3)
    sets, ready, _, _ = task_verdicts(spec, view(spec, t0="failed"), NOW)
    assert [s.task_id for s in sets] == ["t1", "t2"] and ready == []


@pytest.mark.parametrize(("states", "expected"), [
    ({"t0": "success", "t1": "success", "t2": "success"}, "success"),
    ({"t0": "success", "t1": "skipped", "t2": "skipped"}, "success"),
    ({"t0": "success", "t1": "failed", "t2": "upstream_failed"}, "failed"),
])
def test_the_run_ends_when_all_tasks_end(states: dict[str, str], expected: str):
    """Every task ended: the run becomes success (all success/skipped) or failed."""
    spec = chain_spec(3)
    v = view(spec, run_state="running", **states)
    actions, _ = decide({spec.dag_id: spec}, [v], NOW, workers=4)
    assert run_states(actions) == [expected]


def test_a_run_with_a_task_still_going_does_not_end():
    """A running task keeps the run running: no change of run state."""
    spec = chain_spec(2)
    v = view(spec, run_state="running", t0="success", t1="running")
    actions, _ = decide({spec.dag_id: spec}, [v], NOW, workers=4)
    assert run_states(actions) == []


# -- retries -----------------------------------------------------------------------------------


def test_a_failed_try_with_retries_left_is_up_for_retry_after_retry_delay():
    """retries=2, retry_delay=60 s: tries 1 and 2 go up_for_retry at now + 60 s; try 3 fails."""
    spec = chain_spec(1, retries=2, retry_delay=timedelta(seconds=60))
    task = spec.tasks["t0"]
    clock = FakeClock(NOW)
    for n in (1, 2):
        out = outcome_of_try(task, {"try_number": n}, {"state": "failed", "error": "boom"}, clock.now())
        assert out["state"] == "up_for_retry"
        assert datetime.fromisoformat(out["next_retry_at"]) == clock.now() + timedelta(seconds=60)
    out = outcome_of_try(task, {"try_number": 3}, {"state": "failed"}, clock.now())
    assert out["state"] == "failed" and "next_retry_at" not in out


def test_without_retries_a_failure_is_final_and_success_is_success():
    """retries=0: the first failure is failed; a successful try is success."""
    spec = chain_spec(1)
    task = spec.tasks["t0"]
    assert outcome_of_try(task, {"try_number": 1}, {"state": "failed"}, NOW)["state"] == "failed"
    assert outcome_of_try(task, {"try_number": 1}, None, NOW)["state"] == "failed"
    assert outcome_of_try(task, {"try_number": 1}, {"state": "success"}, NOW)["state"] == "success"


def test_a_retry_is_queued_at_its_time_and_not_before():
    """An up_for_retry task waits until next_retry_at (reason says so) and is queued at that time."""
    spec = chain_spec(1, retries=2, retry_delay=timedelta(seconds=60))
    clock = FakeClock(NOW)
    out = outcome_of_try(spec.tasks["t0"], {"try_number": 1}, {"state": "failed"}, clock.now())
    v = view(spec, run_state="running", t0={"try_number": 1, **out})
    clock.advance(59)
    actions, waits = decide({spec.dag_id: spec}, [v], clock.now(), workers=4)
    assert queued(actions) == []
    assert any(w.task_id == "t0" and w.reason.startswith("up for retry: waiting until") for w in waits)
    clock.advance(1)
    actions, _ = decide({spec.dag_id: spec}, [v], clock.now(), workers=4)
    assert [(a.task_id, a.expected) for a in actions if isinstance(a, Queue)] == [("t0", "up_for_retry")]


# -- the wake summary ----------------------------------------------------------------------------


def test_wake_summary_names_the_gap_the_created_runs_and_the_skipped_intervals():
    """One block: the gap, per DAG what was missed, created and skipped (and deferred)."""
    from flowctl.engine.scheduler import human_span, wake_summary

    note = f"the machine slept for {human_span(3 * 86400 + 2 * 3600)}"
    assert "3d2h0m" in note
    reports = [
        {"dag_id": "hourly", "created": ["scheduled__2026-03-09T00:00:00+00:00"],
         "skipped": ["2026-03-07T00:00:00+00:00", "2026-03-08T00:00:00+00:00"], "deferred": 0},
        {"dag_id": "catchy", "created": ["scheduled__2026-03-07T00:00:00+00:00",
                                         "scheduled__2026-03-08T00:00:00+00:00"], "skipped": [], "deferred": 1},
        {"dag_id": "quiet", "created": [], "skipped": [], "deferred": 0},
    ]
    text = wake_summary(note, reports)
    assert text.startswith("catch-up: the machine slept for 3d2h0m.")
    hourly = next(line for line in text.splitlines() if "hourly" in line)
    assert "3 interval(s) missed" in hourly
    assert "created scheduled__2026-03-09T00:00:00+00:00" in hourly
    assert "skipped by catchup=False: 2026-03-07T00:00:00+00:00, 2026-03-08T00:00:00+00:00" in hourly
    catchy = next(line for line in text.splitlines() if "catchy" in line)
    assert "2 interval(s) missed" in catchy and "1 more wait for max_active_runs" in catchy
    assert "quiet" not in text
    assert "nothing was missed" in wake_summary("was down for 2m00s", [])


# -- a clock jump through RunCreator with a real store ---------------------------------------------


DAG_FILE = """
import pendulum
from flowctl import DAG, EmptyOperator

with DAG("jumpy", schedule="@daily", start_date=pendulum.datetime(2026, 3, 1, tz="UTC"),
         catchup={catchup}) as dag:
    EmptyOperator(task_id="a") >> EmptyOperator(task_id="b")
"""


def make_service(tmp_path: Path, catchup: bool) -> Any:
    from flowctl.config import load_settings
    from flowctl.service import Service
    from flowctl.store import Store

    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "jumpy.py").write_text(textwrap.dedent(DAG_FILE.format(catchup=catchup)))
    settings = load_settings(dags_folder=str(dags), home=str(tmp_path / "home"), default_timezone="UTC",
                             workers=2)
    service = Service(settings=settings, store=Store(settings.home))
    service.store.ensure()
    return service


def scheduled(service: Any) -> list[str]:
    return [r for r in service.store.run_ids("jumpy") if r.startswith("scheduled__")]


def jump(tmp_path: Path, catchup: bool, pause: bool = False) -> tuple[Any, list[str], list[dict[str, Any]]]:
    """Tick at 2 March 00:30, then 3 days later; return the service, the runs after the
    first tick and the second tick's reports."""
    from flowctl.engine.scheduler import RunCreator
    from flowctl.store import owner_identity

    service = make_service(tmp_path, catchup)
    specs = service.dagbag().dags
    assert set(specs) == {"jumpy"}, service.dagbag().errors
    clock = FakeClock(datetime(2026, 3, 2, 0, 30, tzinfo=UTC))
    creator = RunCreator(service.store, owner_identity())
    if pause:
        service.set_paused("jumpy", True)
    creator.tick(specs, clock.now())
    first = scheduled(service)
    clock.advance(60)
    assert creator.tick(specs, clock.now()) == []  # a minute later nothing new is due
    clock.advance(3 * 86400)
    return service, first, creator.tick(specs, clock.now(), want_summary=True)


def test_a_clock_jump_with_catchup_creates_exactly_the_missed_runs(tmp_path: Path):
    """catchup=True: after 1 March's run, a 3-day jump creates 2, 3 and 4 March, no more."""
    service, first, reports = jump(tmp_path, catchup=True)
    assert first == ["scheduled__2026-03-01T00:00:00+00:00"]
    assert scheduled(service) == [f"scheduled__2026-03-0{d}T00:00:00+00:00" for d in (1, 2, 3, 4)]
    assert [r["created"] for r in reports] == [[f"scheduled__2026-03-0{d}T00:00:00+00:00" for d in (2, 3, 4)]]
    run = service.store.read_run("jumpy", "scheduled__2026-03-04T00:00:00+00:00").run
    assert run["data_interval_end"] == "2026-03-05T00:00:00+00:00" and run["state"] == "queued"


def test_a_clock_jump_without_catchup_creates_only_the_latest_run(tmp_path: Path):
    """catchup=False: the jump creates only 4 March; 2 and 3 March are reported skipped."""
    from flowctl.engine.scheduler import wake_summary

    service, first, reports = jump(tmp_path, catchup=False)
    assert first == ["scheduled__2026-03-01T00:00:00+00:00"]
    assert scheduled(service) == ["scheduled__2026-03-01T00:00:00+00:00", "scheduled__2026-03-04T00:00:00+00:00"]
    assert reports[0]["skipped"] == ["2026-03-02T00:00:00+00:00", "2026-03-03T00:00:00+00:00"]
    text = wake_summary("the machine slept for 3d0h0m", reports)
    assert "created scheduled__2026-03-04T00:00:00+00:00" in text and "2026-03-02T00:00:00+00:00" in text


def test_a_paused_dag_gets_no_runs_across_a_clock_jump(tmp_path: Path):
    """Paused: neither the first tick nor the jump creates a run; unpaused, the next tick does."""
    from flowctl.engine.scheduler import RunCreator
    from flowctl.store import owner_identity

    service, first, reports = jump(tmp_path, catchup=True, pause=True)
    assert first == [] and reports == [] and scheduled(service) == []
    service.set_paused("jumpy", False)
    creator = RunCreator(service.store, owner_identity())
    creator.tick(service.dagbag().dags, datetime(2026, 3, 5, 1, 0, tzinfo=UTC))
    assert len(scheduled(service)) == 4
