"""`flowctl scheduler`: catch-up, the daemon, crash recovery, a foreground run beside
the daemon, explain, pause and DST-aware `dags next`, with the real command."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pendulum
import pytest
from polling import wait_for

pytestmark = pytest.mark.timeout(120)


def three_days_back() -> str:
    """start_date source text: today's UTC midnight minus 3 days, so 3 daily intervals are complete."""
    s = pendulum.now("UTC").start_of("day").subtract(days=3)
    return f"pendulum.datetime({s.year}, {s.month}, {s.day}, tz='UTC')"


def daily_dag(dag_id: str, catchup: bool) -> str:
    return f"""
import pendulum
from flowctl import DAG, EmptyOperator

with DAG("{dag_id}", schedule="@daily", start_date={three_days_back()}, catchup={catchup}) as dag:
    EmptyOperator(task_id="a") >> EmptyOperator(task_id="b")
"""


MANUAL = """
from flowctl import DAG, BashOperator

with DAG("{dag_id}", schedule=None) as dag:
    BashOperator(task_id="hello", bash_command="echo hello from {dag_id}")
"""

CHAIN = """
from flowctl import DAG, BashOperator

with DAG("slowchain", schedule=None) as dag:
    a = BashOperator(task_id="first", bash_command="sleep 1; echo first done")
    b = BashOperator(task_id="second", bash_command="sleep 1")
    c = BashOperator(task_id="third", bash_command="sleep 1")
    a >> b >> c
"""

SIX = """
from flowctl import DAG, BashOperator

with DAG("six", schedule=None) as dag:
    for i in range(6):
        BashOperator(task_id=f"t{{i}}", bash_command=f"echo t{{i}} $$ >> {path}; sleep 0.3")
"""


def runs(flow, dag_id: str | None = None) -> list[dict[str, Any]]:
    res = flow("runs", "list", *(["--dag", dag_id] if dag_id else []), "--json")
    assert res.code == 0, res.err
    return res.json()


def run_state(flow, dag_id: str, run_id: str) -> str | None:
    return next((r["state"] for r in runs(flow, dag_id) if r["run_id"] == run_id), None)


def pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@contextlib.contextmanager
def daemon(flow) -> Iterator[int]:
    """A `flowctl scheduler --daemon`, always stopped (and killed if it will not stop) at the end."""
    res = flow("scheduler", "--daemon", timeout=30)
    assert res.code == 0, res.err
    status = flow("scheduler", "status", "--json").json()
    pid = status["pid"]
    try:
        yield pid
    finally:
        flow("scheduler", "stop", "--timeout", "20", timeout=30)
        if isinstance(pid, int) and not pid_gone(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


# -- catch-up ------------------------------------------------------------------------------


def test_until_idle_catches_up_three_days_and_then_has_nothing_to_do(flow):
    """start_date 3 days back: catchup=True makes 3 scheduled runs, catchup=False only the
    latest; all succeed; the scheduler exits; a second --until-idle creates none."""
    flow.write_dag("catchy.py", daily_dag("catchy", True))
    flow.write_dag("latest.py", daily_dag("latest", False))
    try:
        res = flow("scheduler", "--until-idle", timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail("flowctl scheduler --until-idle did not exit within 20 s")
    assert res.code == 0, res.err

    today = pendulum.now("UTC").start_of("day")
    catchy = runs(flow, "catchy")
    assert sorted(r["logical_date"] for r in catchy) == [today.subtract(days=d).isoformat() for d in (3, 2, 1)]
    latest = runs(flow, "latest")
    assert [r["logical_date"] for r in latest] == [today.subtract(days=1).isoformat()]
    for r in catchy + latest:
        assert r["run_type"] == "scheduled" and r["state"] == "success", r
        assert r["run_id"] == f"scheduled__{r['logical_date']}"
        assert r["data_interval_end"] == pendulum.parse(r["logical_date"]).add(days=1).isoformat()

    again = flow("scheduler", "--until-idle", timeout=20)
    assert again.code == 0, again.err
    assert "created" not in again.out
    assert len(runs(flow)) == 4


def test_until_idle_exits_1_naming_the_runs_it_carried_that_failed(flow):
    """Exit codes say whether a run failed (CONTRACT): `--until-idle` exited 0 after
    carrying out a failed run. It names it; a later --until-idle with nothing to do is 0."""
    flow.write_dag("fails.py", MANUAL.format(dag_id="fails").replace("echo hello from fails", "exit 3"))
    flow.write_dag("works.py", MANUAL.format(dag_id="works"))
    bad = flow("trigger", "fails").out.strip()
    assert flow("trigger", "works").code == 0
    res = flow("scheduler", "--until-idle", timeout=60)
    assert res.code == 1 and f"1 run(s) failed: fails {bad}" in res.out, (res.out, res.err)
    assert flow("scheduler", "--until-idle", timeout=60).code == 0


def test_until_idle_catches_up_one_run_at_a_time_under_max_active_runs_1(flow):
    """With max_active_runs=1 the three due intervals are held back behind each other;
    one --until-idle call still makes and runs every one of them, oldest first."""
    flow.write_dag("serial.py", daily_dag("serial", True).replace("catchup=True", "catchup=True, max_active_runs=1"))
    res = flow("scheduler", "--until-idle", timeout=30)
    assert res.code == 0, res.err
    today = pendulum.now("UTC").start_of("day")
    done = sorted(runs(flow, "serial"), key=lambda r: r["start_date"])
    assert [r["logical_date"] for r in done] == [today.subtract(days=d).isoformat() for d in (3, 2, 1)]
    assert all(r["state"] == "success" for r in done)
    assert [r["start_date"] >= p["end_date"] for p, r in zip(done, done[1:], strict=False)] == [True, True]


def test_triggered_runs_wait_for_max_active_runs_oldest_first(flow):
    """Two manual runs of a DAG with max_active_runs=1, triggered newest first: the
    scheduler runs the older one, then the newer, never both at once."""
    flow.write_dag("one_at_a_time.py", """
import pendulum
from flowctl import DAG, BashOperator
with DAG("one_at_a_time", schedule=None, max_active_runs=1, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
    BashOperator(task_id="t", bash_command="sleep 0.3")
""")
    for day in ("2026-02-02", "2026-02-01"):
        assert flow("trigger", "one_at_a_time", "--logical-date", day).code == 0
    res = flow("scheduler", "--until-idle", timeout=30)
    assert res.code == 0, res.err
    done = sorted(runs(flow, "one_at_a_time"), key=lambda r: r["start_date"])
    assert [r["logical_date"][:10] for r in done] == ["2026-02-01", "2026-02-02"]
    assert all(r["state"] == "success" for r in done)
    assert done[1]["start_date"] >= done[0]["end_date"]


# -- the daemon ----------------------------------------------------------------------------


def test_daemon_starts_refuses_a_second_carries_out_triggers_picks_up_new_files_and_stops(flow):
    """--daemon returns at once; status shows it; a second is refused naming its pid; triggered
    runs are carried out, also of a DAG file written or edited while it runs; stop ends it."""
    flow.write_dag("early.py", MANUAL.format(dag_id="early"))
    t0 = time.monotonic()
    with daemon(flow) as pid:
        assert time.monotonic() - t0 < 10
        status = flow("scheduler", "status", "--json").json()
        assert status["running"] is True and isinstance(pid, int) and pid > 0
        assert status["started_at"] and status["heartbeat"]
        assert not pid_gone(pid)

        second = flow("scheduler", "--daemon", timeout=30)
        assert second.code == 1
        assert f"pid {pid}" in second.err and len(second.err.strip().splitlines()) == 1

        res = flow("trigger", "early")
        assert res.code == 0, res.err
        assert "no scheduler is running" not in res.err
        early = res.out.strip()
        assert early.startswith("manual__")
        wait_for(f"{early} to succeed", lambda: run_state(flow, "early", early) == "success")

        flow.write_dag("late.py", MANUAL.format(dag_id="late"))
        res = flow("trigger", "late")
        assert res.code == 0, res.err
        late = res.out.strip()
        wait_for(f"{late} to succeed", lambda: run_state(flow, "late", late) == "success")
        assert "hello from late" in flow("logs", "late", late, "hello").out

        # an edited file gets a new fork server while the other file's server lives on
        flow.write_dag("early.py", MANUAL.format(dag_id="early").replace("hello from", "edited,"))
        time.sleep(1.2)  # the daemon reloads the DAG folder at most once a second
        res = flow("trigger", "early", "--logical-date", "2026-01-01")
        assert res.code == 0, res.err
        edited = res.out.strip()
        wait_for(f"{edited} to succeed", lambda: run_state(flow, "early", edited) == "success")
        assert "edited, early" in flow("logs", "early", edited, "hello").out

        stop = flow("scheduler", "stop", "--timeout", "20", timeout=30)
        assert stop.code == 0, stop.err
        assert str(pid) in stop.out
        wait_for(f"pid {pid} to be gone", lambda: pid_gone(pid), timeout=10)
        status = flow("scheduler", "status", "--json").json()
        assert status["running"] is False and status["pid"] is None
        assert "not running" in flow("scheduler", "status").out


def test_the_daemon_runs_a_cleared_run_again(flow):
    """A run the daemon finished (and let go) runs again when it is cleared, by
    the same daemon, with a second try."""
    flow.write_dag("early.py", MANUAL.format(dag_id="early"))
    with daemon(flow):
        res = flow("trigger", "early")
        assert res.code == 0, res.err
        run_id = res.out.strip()
        wait_for(f"{run_id} to succeed", lambda: run_state(flow, "early", run_id) == "success")
        time.sleep(0.5)  # a few ticks: the daemon lets the ended run go
        assert flow("clear", "early", "--start", run_id.split("__", 1)[1], "--end", run_id.split("__", 1)[1],
                    "--yes").code == 0
        wait_for(f"{run_id} to run again", lambda: flow("tasks", "states", "early", run_id, "--json").json()[0][
            "try_number"] == 2 and run_state(flow, "early", run_id) == "success")


# -- crash recovery --------------------------------------------------------------------------


def test_a_killed_scheduler_leaves_readable_state_and_until_idle_finishes_the_run(flow):
    """SIGKILL the scheduler while the first task runs: the state still reads, and
    --until-idle reruns the interrupted task (try 2) and finishes the run."""
    flow.write_dag("slowchain.py", CHAIN)
    res = flow("trigger", "slowchain")
    assert res.code == 0, res.err
    run_id = res.out.strip()

    proc = flow.popen("scheduler")
    try:
        def first_running() -> bool:
            states = flow("tasks", "states", "slowchain", run_id, "--json").json()
            return states[0]["task_id"] == "first" and states[0]["state"] == "running"

        wait_for("the first task to run", first_running, timeout=15)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=10)

    listed = runs(flow, "slowchain")
    assert [r["run_id"] for r in listed] == [run_id]
    assert listed[0]["state"] in ("queued", "running")

    res = flow("scheduler", "--until-idle", timeout=60)
    assert res.code == 0, res.err
    assert run_state(flow, "slowchain", run_id) == "success"
    tis = {t["task_id"]: t for t in flow("tasks", "states", "slowchain", run_id, "--json").json()}
    assert {t: ti["state"] for t, ti in tis.items()} == {"first": "success", "second": "success", "third": "success"}
    assert tis["first"]["try_number"] == 2
    assert tis["second"]["try_number"] == 1 and tis["third"]["try_number"] == 1
    first_log = flow("logs", "slowchain", run_id, "first", "--try", "1")
    second_try = flow("logs", "slowchain", run_id, "first", "--try", "2")
    assert "interrupted" in first_log.out  # the try the killed scheduler left says what became of it
    assert second_try.code == 0 and "first done" in second_try.out


ORPHAN = """
from flowctl import DAG, BashOperator

with DAG("orphan", schedule=None) as dag:
    BashOperator(task_id="slow", bash_command="sleep 1.5; echo survived >> {marker}")
"""


def test_a_try_does_not_outlive_its_killed_scheduler_group(flow):
    """SIGKILL the scheduler's process group while a try runs: that try goes too (it is run again
    by the next scheduler, so it must not also finish on its own)."""
    marker = flow.root / "survived.txt"
    flow.write_dag("orphan.py", ORPHAN.format(marker=marker))
    run_id = flow("trigger", "orphan").out.strip()
    proc = flow.popen("scheduler")
    try:
        wait_for("the try to run", lambda: flow("tasks", "states", "orphan", run_id, "--json").json()[0]["state"]
                 == "running", timeout=15)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=10)
    time.sleep(2.5)  # longer than the try would take
    assert not marker.exists(), "the interrupted try went on running after its scheduler was killed"


# -- a foreground run beside the daemon -------------------------------------------------------------


def test_a_foreground_run_beside_the_daemon_runs_each_task_once(flow):
    """With the daemon up, `flowctl run` carries out its own run: each of 6 tasks runs exactly
    once and the daemon starts none of them."""
    shared = flow.root / "ran.txt"
    flow.write_dag("six.py", SIX.format(path=shared))
    with daemon(flow):
        res = flow("run", "six", "--json", timeout=60)
        assert res.code == 0, res.err
        run = res.json()
        assert run["state"] == "success"
        run_id = run["run_id"]
        time.sleep(0.6)  # a daemon tick or two after the run ended
    lines = shared.read_text().splitlines()
    assert len(lines) == 6, lines
    assert sorted(line.split()[0] for line in lines) == [f"t{i}" for i in range(6)]
    assert all(ti["try_number"] == 1 for ti in run["tasks"])
    log = (flow.home / "scheduler.log").read_text()
    assert "scheduler started" in log
    started_there = [line for line in log.splitlines() if "->" in line and run_id in line]
    assert started_there == []


# -- explain ----------------------------------------------------------------------------------------


def test_explain_says_no_process_carries_a_triggered_run_and_gives_every_task_a_reason(flow):
    """A triggered run with no scheduler: a note says nothing carries it out; each task has a reason."""
    flow.write_dag("slowchain.py", CHAIN)
    res = flow("trigger", "slowchain")
    assert res.code == 0, res.err
    assert "no scheduler is running" in res.err
    run_id = res.out.strip()
    doc = flow("explain", "slowchain", run_id, "--json")
    assert doc.code == 0, doc.err
    doc = doc.json()
    assert doc["run_state"] == "queued"
    assert any("no process is carrying this run out" in n for n in doc["notes"]), doc["notes"]
    assert [t["task_id"] for t in doc["tasks"]] == ["first", "second", "third"]
    for t in doc["tasks"]:
        assert t["state"] == "none" and t["reason"], t
    reasons = {t["task_id"]: t["reason"] for t in doc["tasks"]}
    assert "ready" in reasons["first"]
    assert "first" in reasons["second"]


# -- pause -------------------------------------------------------------------------------------------


def test_a_paused_dag_gets_no_scheduled_runs_until_unpaused(flow):
    """pause, then --until-idle: no scheduled run; unpause, then --until-idle: its run is made."""
    flow.write_dag("latest.py", daily_dag("latest", False))
    assert flow("pause", "latest").code == 0
    listed = flow("dags", "list", "--json").json()
    assert [d["paused"] for d in listed if d["dag_id"] == "latest"] == [True]
    assert flow("scheduler", "--until-idle").code == 0
    assert runs(flow, "latest") == []
    assert flow("unpause", "latest").code == 0
    assert flow("scheduler", "--until-idle").code == 0
    made = runs(flow, "latest")
    assert [(r["run_type"], r["state"]) for r in made] == [("scheduled", "success")]


# -- DST in dags next -----------------------------------------------------------------------------------


def test_dags_next_gives_local_midnights_across_the_spring_change(flow):
    """`0 0 * * *` in Europe/Amsterdam from 28 March 2026: midnights at +01:00, +01:00, then +02:00;
    the interval across the change is 23 hours."""
    flow.write_dag("ams.py", """
        import pendulum
        from flowctl import DAG, EmptyOperator

        with DAG("ams", schedule="0 0 * * *", start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Amsterdam")) as dag:
            EmptyOperator(task_id="a")
        """)
    res = flow("dags", "next", "ams", "-n", "3", "--after", "2026-03-28", "--json")
    assert res.code == 0, res.err
    rows = res.json()
    assert len(rows) == 3
    ams = pendulum.timezone("Europe/Amsterdam")
    starts = [datetime.fromisoformat(r["data_interval_start"]).astimezone(ams) for r in rows]
    ends = [datetime.fromisoformat(r["data_interval_end"]).astimezone(ams) for r in rows]
    assert [s.isoformat() for s in starts] == [
        "2026-03-28T00:00:00+01:00", "2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00"]
    assert [e.isoformat() for e in ends] == [
        "2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00", "2026-03-31T00:00:00+02:00"]
    assert [r["logical_date"] for r in rows] == [r["data_interval_start"] for r in rows]
    assert ends[1].timestamp() - starts[1].timestamp() == 23 * 3600
    human = flow("dags", "next", "ams", "-n", "3", "--after", "2026-03-28")
    assert "+0100" in human.out and "+0200" in human.out


def test_an_older_run_triggered_later_goes_first_under_max_active_runs(flow):
    """With both worker slots busy, a run of 3 February is triggered, then one of
    1 February, for a DAG with max_active_runs=1: when the slots free, the daemon
    runs 1 February first and 3 February after it, never both at once (the newer
    run's ready task is held back once the older one arrives)."""
    flow.write_dag("blocker.py", """
import pendulum
from flowctl import DAG, BashOperator
with DAG("blocker", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
    BashOperator(task_id="x", bash_command="sleep 2")
    BashOperator(task_id="y", bash_command="sleep 2")
""")
    flow.write_dag("mar.py", """
import pendulum
from flowctl import DAG, BashOperator
with DAG("mar", schedule=None, max_active_runs=1, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
    BashOperator(task_id="a", bash_command="sleep 0.3")
""")
    with daemon(flow):
        assert flow("trigger", "blocker").code == 0
        wait_for("the blocker to hold both slots",
                 lambda: [t["state"] for t in flow("tasks", "states", "blocker", runs(flow, "blocker")[0]["run_id"],
                                                   "--json").json()] == ["running", "running"], timeout=20)
        assert flow("trigger", "mar", "--logical-date", "2026-02-03").code == 0
        time.sleep(0.3)  # the daemon takes it in and finds no free slot
        assert flow("trigger", "mar", "--logical-date", "2026-02-01").code == 0
        wait_for("both runs of mar to succeed",
                 lambda: [r["state"] for r in runs(flow, "mar")] == ["success", "success"], timeout=30)
    done = sorted(runs(flow, "mar"), key=lambda r: r["start_date"])
    assert [r["logical_date"][:10] for r in done] == ["2026-02-01", "2026-02-03"]
    assert done[1]["start_date"] >= done[0]["end_date"]

