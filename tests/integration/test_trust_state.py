"""What a user meets when dates, runs and the home are not as they expect: one
run per logical date, fixed-offset start dates, what "next run" means, damaged
and unreadable state, a stale pid file. The real command, a temporary home."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time

import pendulum
import pytest
from polling import wait_for

pytestmark = pytest.mark.timeout(120)


def daily(dag_id: str, days_back: int, catchup: bool, tz: str = "UTC") -> str:
    start = pendulum.now(tz).start_of("day").subtract(days=days_back)
    return f"""
import pendulum
from flowctl import DAG, BashOperator
with DAG("{dag_id}", schedule="@daily", start_date=pendulum.datetime({start.year}, {start.month}, {start.day}, tz="{tz}"),
         catchup={catchup}) as dag:
    BashOperator(task_id="t", bash_command="echo {{{{ ds }}}}")
"""


def day(days_back: int) -> str:
    return pendulum.now("UTC").start_of("day").subtract(days=days_back).to_date_string()


# -- one logical date, one run --------------------------------------------------------------------------


def test_a_date_with_a_run_gets_no_second_one(flow):
    """After `run --logical-date D`, `run` and `trigger` for D refuse naming the run
    and pointing at clear; a backfill plan and the scheduler count D as done."""
    flow.write_dag("f.py", daily("f", 3, True))
    d = day(2)
    first = flow("run", "f", "--logical-date", d, "--json")
    assert first.code == 0, first.err
    run_id = first.json()["run_id"]
    before = flow.state_files()
    for args in (["run", "f", "--logical-date", d], ["trigger", "f", "--logical-date", d]):
        res = flow(*args)
        assert res.code == 1, res.out
        line = res.err.strip()
        assert "\n" not in line and run_id in line and "flowctl clear f" in line, line
    assert flow.state_files() == before
    plan = flow("backfill", "f", "--start", d, "--end", d, "--dry-run", "--json").json()
    assert [(i["action"], i["run_id"]) for i in plan["intervals"]] == [("skip", run_id)]
    assert "manual run" in plan["intervals"][0]["why"]
    assert flow("scheduler", "--until-idle").code == 0
    stamps = [r["logical_date"] for r in flow("runs", "list", "--dag", "f", "--json").json()]
    assert len(stamps) == len(set(stamps)) == 3  # 3 days back .. yesterday, D once
    assert flow("tasks", "states", "f", d).code == 0


# -- fixed offsets ---------------------------------------------------------------------------------------------


OFFSETS = """
import pendulum
from datetime import datetime, timedelta, timezone
from flowctl import DAG, BashOperator
with DAG("utc_parsed", schedule="@daily", start_date=pendulum.parse("2026-01-01T00:00:00+00:00"), catchup=False) as a:
    BashOperator(task_id="t", bash_command="echo ds={{ ds }} ts={{ ts }}")
with DAG("india", schedule="@daily", start_date=datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=5, minutes=30))),
         catchup=False) as b:
    BashOperator(task_id="t", bash_command="echo ds={{ ds }} ts={{ ts }}")
"""


def test_start_dates_with_a_fixed_offset_work_everywhere(flow):
    """pendulum.parse('...+00:00') and timezone(timedelta(hours=5, minutes=30)): intervals
    are in that offset, typed dates are read in it, and run, backfill, templates and
    the scheduler work (they failed with InvalidTimezone)."""
    flow.write_dag("offsets.py", OFFSETS)
    listed = {d["dag_id"]: d for d in flow("dags", "list", "--json").json()}
    assert listed["india"]["timezone"] == "+05:30" and listed["utc_parsed"]["timezone"] in ("+00:00", "UTC")
    nxt = flow("dags", "next", "india", "--after", "2020-06-01", "-n", "2", "--json")
    assert nxt.code == 0, nxt.err
    assert [i["logical_date"] for i in nxt.json()] == ["2025-12-31T18:30:00+00:00", "2026-01-01T18:30:00+00:00"]
    res = flow("run", "india", "--logical-date", "2026-03-01", "--json")
    assert res.code == 0, res.err
    run_id = res.json()["run_id"]
    assert run_id == "manual__2026-02-28T18:30:00+00:00"
    assert "ds=2026-03-01 ts=2026-03-01T00:00:00+05:30" in flow("logs", "india", run_id, "t").out
    assert flow("run", "utc_parsed", "--logical-date", "2026-03-01").code == 0
    back = flow("backfill", "india", "--start", "2026-03-01", "--end", "2026-03-02")
    assert back.code == 0, back.out + back.err
    assert "backfill__2026-03-01T18:30:00+00:00" in {r["run_id"] for r in flow("runs", "list", "--json").json()}
    res = flow("scheduler", "--until-idle")
    assert res.code == 0, res.out + res.err
    assert "InvalidTimezone" not in res.out


# -- what "next run" means -------------------------------------------------------------------------------------


@pytest.mark.parametrize("catchup", [False, True])
def test_next_run_is_what_the_scheduler_creates_next(flow, catchup):
    """After a backfill of a few past days, `dags list` shows as next exactly the
    interval the scheduler then creates first (catchup=False: yesterday;
    catchup=True: the earliest one missing)."""
    flow.write_dag("n.py", daily("n", 10, catchup))
    assert flow("backfill", "n", "--start", day(7), "--end", day(5)).code == 0
    shown = flow("dags", "list", "--json").json()[0]["next_data_interval_start"]
    before = {r["run_id"] for r in flow("runs", "list", "--json").json()}
    assert flow("scheduler", "--until-idle", timeout=60).code == 0
    created = sorted(r["logical_date"] for r in flow("runs", "list", "--json").json() if r["run_id"] not in before)
    assert created and shown == created[0]
    assert shown == pendulum.parse(day(1 if not catchup else 10)).isoformat()


# -- damaged and unreadable state ------------------------------------------------------------------------------


def without_dac(flow, *args: str, timeout: float = 60):
    """Run flowctl so that file modes bind it even as root (no CAP_DAC_OVERRIDE)."""
    prefix = []
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("as root, needs setpriv to drop the capability that ignores file modes")
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
    proc = subprocess.run([*prefix, sys.executable, "-m", "flowctl", *args], env=flow.env, cwd=flow.root,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return proc


def test_an_unreadable_run_file_is_damaged_and_the_rest_of_the_home_works(flow):
    """chmod 000 on one run file: runs list shows it as damaged and lists the rest,
    tasks states of another run works, doctor names it, the scheduler starts and
    carries the other runs out (all failed before with PermissionError)."""
    flow.write_dag("q.py", "from flowctl import DAG, EmptyOperator\nwith DAG('q', schedule=None):\n"
                           "    EmptyOperator(task_id='a')\n")
    bad = flow("trigger", "q", "--logical-date", "2026-01-01").out.strip()
    good = flow("trigger", "q", "--logical-date", "2026-01-02").out.strip()
    path = flow.home / "state" / "runs" / "q" / f"{bad}.json"
    path.chmod(0)
    listed = without_dac(flow, "runs", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {r["run_id"]: r for r in json.loads(listed.stdout)}
    assert rows[bad]["state"] == "damaged" and rows[bad]["file"] == str(path)
    assert rows[good]["state"] == "queued"
    assert str(path) in listed.stderr and "Traceback" not in listed.stderr
    assert without_dac(flow, "tasks", "states", "q", good).returncode == 0
    doctor = without_dac(flow, "doctor", "--json")
    assert doctor.returncode == 1 and any(str(path) in p["problem"] for p in json.loads(doctor.stdout)["problems"])
    sched = without_dac(flow, "scheduler", "--until-idle")
    assert sched.returncode == 1 and str(path) in sched.stdout, sched.stdout + sched.stderr  # names it, exits 1
    assert json.loads(without_dac(flow, "runs", "list", "--json").stdout)[0]["state"] == "success"
    fixed = without_dac(flow, "doctor", "--fix", "--json")  # permissions back to 0600: readable again
    assert fixed.returncode == 0, fixed.stdout
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_clear_over_many_runs_leaves_a_damaged_one_out_and_says_so(flow):
    """`clear -y` over every run when one run file is garbage: the others are cleared,
    the damaged one is named on stderr and left as it is (the whole clear stopped), and
    the command exits 1; a clear of that run alone is no "Nothing matches"."""
    flow.write_dag("q.py", "from flowctl import DAG, EmptyOperator\nwith DAG('q', schedule=None):\n"
                           "    EmptyOperator(task_id='a')\n")
    for day in ("2026-01-01", "2026-01-02"):
        assert flow("run", "q", "--logical-date", day).code == 0
    bad = flow.home / "state" / "runs" / "q" / "manual__2026-01-01T00:00:00+00:00.json"
    bad.write_bytes(b"\x00garbage{")
    res = flow("clear", "q", "-y")
    assert res.code == 1, res.err  # the rest is cleared; what was left out is an error to see
    assert "warning: " in res.err and str(bad) in res.err and "this clear leaves that run out" in res.err, res.err
    assert bad.read_bytes() == b"\x00garbage{"
    assert flow("tasks", "states", "q", "2026-01-02", "--json").json()[0]["state"] == "none"
    named = flow("clear", "q", "--run", "manual__2026-01-01T00:00:00+00:00", "-y")
    assert named.code == 1 and "Nothing matches" not in named.out, named.out


def test_a_garbage_index_is_rebuilt_by_the_scheduler_and_by_doctor_fix(flow):
    """index.json overwritten with garbage: the scheduler moves it aside, rebuilds it
    from the run files and carries the run out; so does `doctor --fix`."""
    flow.write_dag("q.py", "from flowctl import DAG, EmptyOperator\nwith DAG('q', schedule=None):\n"
                           "    EmptyOperator(task_id='a')\n")
    run_id = flow("trigger", "q").out.strip()
    index = flow.home / "state" / "index.json"
    index.write_bytes(b"\x00garbage{")
    res = flow("scheduler", "--until-idle")
    assert res.code == 0, res.out + res.err
    assert "moved aside" in res.out
    aside = [p for p in index.parent.iterdir() if p.name.startswith("index.json.damaged-")]
    assert len(aside) == 1 and aside[0].read_bytes() == b"\x00garbage{"
    assert {r["run_id"]: r["state"] for r in flow("runs", "list", "--json").json()} == {run_id: "success"}

    flow("trigger", "q", "--logical-date", "2026-01-01")
    index.write_bytes(b"not json")
    doctor = flow("doctor")
    assert doctor.code == 1 and "doctor --fix" in doctor.out
    assert flow("doctor", "--fix").code == 0
    assert flow("doctor").code == 0
    assert json.loads(index.read_bytes())["active"]


def test_doctor_fix_repairs_permissions_and_then_reports_all_good(flow):
    """A state file made readable by others and a folder opened up: doctor names
    both and exits 1; doctor --fix sets them back and exits 0; doctor then agrees."""
    flow.write_dag("q.py", "from flowctl import DAG, EmptyOperator\nwith DAG('q', schedule=None):\n"
                           "    EmptyOperator(task_id='a')\n")
    run_id = flow("trigger", "q").out.strip()
    path = flow.home / "state" / "runs" / "q" / f"{run_id}.json"
    path.chmod(0o644)
    path.parent.chmod(0o755)
    doctor = flow("doctor", "--json")
    assert doctor.code == 1
    assert {p["path"] for p in doctor.json()["problems"]} >= {str(path), str(path.parent)}
    assert flow("doctor", "--fix").code == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert flow("doctor").code == 0


def test_logs_are_the_users_only_and_doctor_fixes_them(flow):
    """Every log folder is 0700 (not only the deepest) and every log 0600; a log
    opened up is named by doctor and set back by doctor --fix."""
    flow.write_dag("q.py", "from flowctl import DAG, BashOperator\nwith DAG('q', schedule=None):\n"
                           "    BashOperator(task_id='a', bash_command='echo hi')\n")
    assert flow("run", "q").code == 0
    logs = flow.home / "logs"
    folders = [logs, *[p for p in logs.rglob("*") if p.is_dir()]]
    files = [p for p in logs.rglob("*") if p.is_file()]
    assert files and all(stat.S_IMODE(p.stat().st_mode) == 0o700 for p in folders)
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)
    files[0].chmod(0o666)
    doctor = flow("doctor", "--json")
    assert doctor.code == 1 and str(files[0]) in {p["path"] for p in doctor.json()["problems"]}
    assert flow("doctor", "--fix").code == 0 and stat.S_IMODE(files[0].stat().st_mode) == 0o600


def test_a_dag_whose_runs_folder_cannot_be_read_does_not_hide_the_others(flow):
    """chmod 000 on one DAG's runs folder: runs list still lists the other DAG's runs and
    warns about that one; doctor names it (instead of failing) and --fix opens it again."""
    for dag_id in ("q", "r"):
        flow.write_dag(f"{dag_id}.py", f"from flowctl import DAG, EmptyOperator\nwith DAG('{dag_id}', schedule=None):\n"
                                       "    EmptyOperator(task_id='a')\n")
        assert flow("trigger", dag_id).code == 0
    folder = flow.home / "state" / "runs" / "q"
    folder.chmod(0o000)
    try:
        listed = without_dac(flow, "runs", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        assert [r["dag_id"] for r in json.loads(listed.stdout)] == ["r"]
        assert "the runs of q cannot be listed" in listed.stderr
        doctor = without_dac(flow, "doctor")
        assert doctor.returncode == 1 and "the runs of q cannot be listed" in doctor.stdout + doctor.stderr
        assert "internal error" not in doctor.stderr
        assert without_dac(flow, "doctor", "--fix").returncode == 0
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    finally:
        folder.chmod(0o700)


def test_explain_says_when_no_process_carries_the_run(flow):
    """A triggered run with no scheduler: explain says no process carries it out and how
    to start one, and does not blame busy worker slots."""
    flow.write_dag("q.py", "from flowctl import DAG, EmptyOperator\nwith DAG('q', schedule=None):\n"
                           "    EmptyOperator(task_id='a') >> EmptyOperator(task_id='b')\n")
    run_id = flow("trigger", "q").out.strip()
    doc = flow("explain", "q", run_id, "--json").json()
    assert any("no process is carrying this run out" in n and "flowctl scheduler" in n for n in doc["notes"])
    assert not any("slots" in n for n in doc["notes"] + [t["reason"] for t in doc["tasks"]])
    assert doc["carried_by"] is None


def test_a_backfill_dry_run_before_start_date_says_why_it_is_empty(flow):
    """A range before start_date: the dry run says the range ends before start_date."""
    flow.write_dag("n.py", daily("n", 3, False))
    res = flow("backfill", "n", "--start", "2020-01-01", "--end", "2020-01-31", "--dry-run")
    assert res.code == 0
    assert "start_date" in res.out and "0 of 0" not in res.out


# -- the scheduler's pid file ----------------------------------------------------------------------------------


def test_stop_never_signals_a_process_the_pid_file_was_pointed_at(flow):
    """With another process's pid written into the pid file, `scheduler stop` leaves
    that process alone, says the pid file was stale, and stops the real scheduler
    (the one holding the lock)."""
    flow.write_dag("q.py", "from flowctl import DAG, EmptyOperator\nwith DAG('q', schedule=None):\n"
                           "    EmptyOperator(task_id='a')\n")
    victim = subprocess.Popen(["sleep", "60"])
    res = flow("scheduler", "--daemon", timeout=30)
    assert res.code == 0, res.err
    real = flow("scheduler", "status", "--json").json()["pid"]
    try:
        (flow.home / "scheduler.pid").write_text(json.dumps({"pid": victim.pid}))
        stop = flow("scheduler", "stop", "--timeout", "20", timeout=30)
        assert stop.code == 0, stop.err
        assert "stale" in stop.err and str(real) in stop.err
        assert victim.poll() is None  # untouched
        wait_for("the scheduler to be gone", lambda: not os.path.exists(f"/proc/{real}"), timeout=10)
        assert flow("scheduler", "status", "--json").json()["running"] is False
    finally:
        victim.kill()
        victim.wait()
        with contextlib.suppress(ProcessLookupError):
            os.kill(real, signal.SIGKILL)
    time.sleep(0)


def test_a_pid_file_holding_a_bare_number_is_stale_not_a_crash(flow):
    """A hand-written pid file (`echo 12345 > scheduler.pid`): status still names the
    real scheduler, stop stops it and leaves the named process alone; with no scheduler
    running, stop removes a leftover pid file."""
    flow.write_dag("q.py", "from flowctl import DAG, EmptyOperator\nwith DAG('q', schedule=None):\n"
                           "    EmptyOperator(task_id='a')\n")
    victim = subprocess.Popen(["sleep", "60"])
    assert flow("scheduler", "--daemon", timeout=30).code == 0
    real = flow("scheduler", "status", "--json").json()["pid"]
    try:
        (flow.home / "scheduler.pid").write_text(f"{victim.pid}\n")
        status = flow("scheduler", "status", "--json")
        assert status.code == 0 and status.json()["pid"] == real, status.err
        stop = flow("scheduler", "stop", "--timeout", "20", timeout=30)
        assert stop.code == 0 and "stale" in stop.err and "Traceback" not in stop.err, stop.err
        assert victim.poll() is None
        wait_for("the scheduler to be gone", lambda: not os.path.exists(f"/proc/{real}"), timeout=10)
        (flow.home / "scheduler.pid").write_text("12345\n")
        again = flow("scheduler", "stop")
        assert "internal error" not in again.err and not (flow.home / "scheduler.pid").exists()
    finally:
        victim.kill()
        victim.wait()
        with contextlib.suppress(ProcessLookupError):
            os.kill(real, signal.SIGKILL)


def test_flowctl_writes_no_bytecode_into_the_dag_folder(flow):
    """Importing a DAG file and the helper module beside it leaves the DAG folder as
    it was: their bytecode is cached in the home, not in `__pycache__` folders."""
    flow.write_dag("helpers.py", "GREETING = 'hi'\n")
    flow.write_dag("uses.py", "from helpers import GREETING\nfrom flowctl import DAG, BashOperator\n"
                              "with DAG('uses', schedule=None):\n    BashOperator(task_id='a', bash_command='true')\n")
    res = flow("run", "uses", env={"PYTHONDONTWRITEBYTECODE": ""})  # (empty: bytecode is written, as usual)
    assert res.code == 0, res.err
    assert sorted(p.name for p in flow.dags.iterdir()) == ["helpers.py", "uses.py"]
    assert list((flow.home / "cache").rglob("uses*.pyc"))
