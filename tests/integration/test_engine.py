"""The engine's defects, each as it was seen from outside: the real `flowctl`
command, real task processes, a temporary home."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from polling import wait_for

pytestmark = pytest.mark.timeout(120)


def states(flow, dag_id: str, run_id: str) -> dict[str, dict]:
    """Task id -> task instance of the run ({} while the run does not exist yet)."""
    res = flow("tasks", "states", dag_id, run_id, "--json")
    if res.code != 0:
        assert "has no run" in res.err, res.err
        return {}
    return {t["task_id"]: t for t in res.json()}


def only_run(flow, dag_id: str) -> dict:
    runs = [r for r in flow("runs", "list", "--json").json() if r["dag_id"] == dag_id]
    assert len(runs) == 1, runs
    return runs[0]


# -- names are names -------------------------------------------------------------------------------


CB = """
from flowctl import DAG, BashOperator
with DAG("cb", schedule=None) as dag:
    BashOperator(task_id="cb", bash_command="echo one") >> BashOperator(task_id="x__1", bash_command="echo two")
"""


def test_a_dag_whose_id_looks_like_bookkeeping_runs_under_run_and_the_scheduler(flow):
    """DAG `cb` (once the prefix of callback keys) with tasks `cb` and `x__1` runs to
    success in the foreground and under the scheduler, instead of hanging."""
    flow.write_dag("cb.py", CB)
    assert flow("run", "cb", "--logical-date", "2026-01-01", timeout=30).code == 0
    run_id = flow("trigger", "cb", "--logical-date", "2026-01-02").out.strip()
    res = flow("scheduler", "--until-idle", timeout=30)
    assert res.code == 0, res.out + res.err
    assert {t: ti["state"] for t, ti in states(flow, "cb", run_id).items()} == {"cb": "success", "x__1": "success"}


# -- a fork server killed on its own ---------------------------------------------------------------------


OVERLAP = '''
import os, subprocess, time
from datetime import timedelta
from flowctl import DAG, PythonOperator

MARKS = {marks!r}

def work(ti):
    """Record this try's group, and whether the previous try's group still runs."""
    previous = [line.split() for line in open(MARKS)] if os.path.exists(MARKS) else []
    def running(pgid):
        try:
            os.killpg(int(pgid), 0)
        except ProcessLookupError:
            return False
        for name in os.listdir("/proc"):
            try:
                fields = open(f"/proc/{{name}}/stat").read().rsplit(")", 1)[1].split()
            except (OSError, IndexError, ValueError):
                continue
            if fields[2] == str(pgid) and fields[0] != "Z":
                return True
        return False
    overlap = any(running(p) for _, p in previous)
    child = subprocess.Popen(["sleep", "60"])  # a grandchild in the try's process group
    with open(MARKS, "a") as f:
        f.write(f"{{ti.try_number}} {{os.getpgrp()}}\\n")
    if overlap:
        raise RuntimeError("two tries of one task at once")
    if ti.try_number == 1:
        time.sleep(60)
    child.kill()

with DAG("overlap", schedule=None) as dag:
    PythonOperator(task_id="work", python_callable=work, retries=1, retry_delay=timedelta(seconds=0))
'''


def test_killing_only_the_fork_server_never_runs_two_tries_at_once(flow):
    """kill -9 of the fork server while try 1 runs (with a grandchild in its group):
    the whole group is gone before try 2 starts, and try 2 succeeds."""
    marks = flow.root / "marks.txt"
    flow.write_dag("overlap.py", OVERLAP.format(marks=str(marks)))
    proc = flow.popen("run", "overlap")
    try:
        wait_for("try 1 to start", lambda: marks.exists() and marks.read_text().startswith("1 "))
        pgid = int(marks.read_text().split()[1])
        server = int(Path(f"/proc/{pgid}/stat").read_text().rsplit(")", 1)[1].split()[1])  # the try's parent
        assert "python" in Path(f"/proc/{server}/cmdline").read_bytes().decode(errors="replace")
        os.kill(server, signal.SIGKILL)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, out + err
    assert [line.split()[0] for line in marks.read_text().splitlines()] == ["1", "2"]
    ti = states(flow, "overlap", only_run(flow, "overlap")["run_id"])["work"]
    assert ti["state"] == "success" and ti["try_number"] == 2


# -- a full disk ----------------------------------------------------------------------------------------------


FILL = '''
import os
from flowctl import DAG, PythonOperator

RAN = {ran!r}

def fill():
    """Fill the home's file system, then hand back a value larger than any free page."""
    with open(os.path.join(os.environ["FLOWCTL_HOME"], "filler"), "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"x" * 65536)
        except OSError:
            pass
    with open(RAN, "a") as f:
        f.write("fill\\n")
    return "y" * 20000

def after():
    with open(RAN, "a") as f:
        f.write("after\\n")

with DAG("fill", schedule=None) as dag:
    PythonOperator(task_id="fill", python_callable=fill) >> PythonOperator(task_id="after", python_callable=after)
'''

SCRIPT = """
set -u
mount -t tmpfs -o size=4m tmpfs "$FLOWCTL_HOME" || exit 90
"$PY" -m flowctl trigger fill --logical-date 2026-01-01 > "$OUT/trigger.txt" 2>&1
( sleep 4; rm -f "$FLOWCTL_HOME/filler" ) &
"$PY" -m flowctl scheduler --until-idle > "$OUT/scheduler.txt" 2>&1
echo $? > "$OUT/exit.txt"
"$PY" -m flowctl tasks states fill 2026-01-01 --json > "$OUT/states.json" 2>&1
"$PY" -m flowctl xcom list fill 2026-01-01 --json > "$OUT/xcom.json" 2>&1
wait
"""


def test_a_full_disk_keeps_results_until_they_can_be_written(flow):
    """The home's disk fills while a task runs: the scheduler keeps its result, says
    once that it cannot write, announces nothing it has not written, writes it when
    space is back, and goes on; the task ran once."""
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare (util-linux) to mount a small file system for the home")
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                            "mount -t tmpfs -o size=1m tmpfs /mnt"], capture_output=True, timeout=20)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a file system in a user namespace here: {probe.stderr.decode().strip()}")
    ran = flow.root / "ran.txt"
    out = flow.root / "out"
    out.mkdir()
    flow.home.mkdir()
    flow.write_dag("fill.py", FILL.format(ran=str(ran)))
    env = {**flow.env, "PY": sys.executable, "OUT": str(out)}
    proc = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", SCRIPT],
                          env=env, cwd=flow.root, capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    log = (out / "scheduler.txt").read_text()
    assert (out / "exit.txt").read_text().strip() == "0", log
    assert log.count("cannot write the state") == 1 and "No space left on device" in log, log
    assert log.count("the state is written again") == 1, log
    announced = log.index("fill.fill")  # the first line about the task's end...
    finished = [i for i, line in enumerate(log.splitlines()) if "fill.fill" in line and "success" in line]
    recovered = [i for i, line in enumerate(log.splitlines()) if "written again" in line]
    assert announced and finished and finished[0] > recovered[0], log  # ...comes after the write
    assert ran.read_text().splitlines() == ["fill", "after"]
    tis = {t["task_id"]: t for t in json.loads((out / "states.json").read_text())}
    assert (tis["fill"]["state"], tis["fill"]["try_number"]) == ("success", 1)
    assert tis["after"]["state"] == "success"
    assert [x["value"] for x in json.loads((out / "xcom.json").read_text()) if x["task_id"] == "fill"] == ["y" * 20000]


# -- a killed backfill, a daemon up --------------------------------------------------------------------------


SLOW_DAILY = """
import pendulum
from flowctl import DAG, BashOperator
with DAG("slowday", schedule="@daily", start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False) as dag:
    BashOperator(task_id="t", bash_command="sleep 2; echo {{ ds }} >> %s")
"""


@contextlib.contextmanager
def daemon(flow):
    res = flow("scheduler", "--daemon", timeout=30)
    assert res.code == 0, res.err
    try:
        yield
    finally:
        flow("scheduler", "stop", "--timeout", "20", timeout=30)


def test_a_killed_backfill_run_again_follows_its_runs_to_the_end(flow):
    """A backfill SIGKILLed mid-run while a daemon is up: the daemon takes its run
    over; the same backfill run again follows that run, makes the next, and exits 0
    only when both have succeeded (not "Nothing to do" while they are queued)."""
    done = flow.root / "done.txt"
    flow.write_dag("slowday.py", SLOW_DAILY % done)
    assert flow("pause", "slowday").code == 0  # only the backfill's runs
    with daemon(flow):
        proc = flow.popen("backfill", "slowday", "--start", "2026-01-01", "--end", "2026-01-02",
                          "--max-active-runs", "1")
        first = "backfill__2026-01-01T00:00:00+00:00"
        wait_for("the first run's task to run", lambda: states(flow, "slowday", first).get("t", {}).get("state") == "running")
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=10)
        res = flow("backfill", "slowday", "--start", "2026-01-01", "--end", "2026-01-02", timeout=60)
        assert res.code == 0, res.out + res.err
        assert "Nothing to do" not in res.out
        runs = {r["run_id"]: r["state"] for r in flow("runs", "list", "--json").json()}
        assert runs == {first: "success", "backfill__2026-01-02T00:00:00+00:00": "success"}
    assert sorted(done.read_text().split()) == ["2026-01-01", "2026-01-02"]


# -- signals and pipes -------------------------------------------------------------------------------------


SLOW_CHAIN = """
from flowctl import DAG, BashOperator
with DAG("slowchain", schedule=None) as dag:
    BashOperator(task_id="a", bash_command="sleep 2") >> BashOperator(task_id="b", bash_command="echo b")
"""


def test_the_first_ctrl_c_says_at_once_what_it_waits_for(flow):
    """Ctrl-C while a task runs: a line at once names the running task, how long it
    may take (a poking sensor held `run` forever) and that a second Ctrl-C kills it;
    the task finishes, the next does not start, exit 1."""
    flow.write_dag("slowchain.py", SLOW_CHAIN)
    proc = flow.popen("run", "slowchain")
    try:
        run_id = wait_for("the run", lambda: (flow("runs", "list", "--json").json() or [{}])[0].get("run_id"))
        wait_for("a to run", lambda: states(flow, "slowchain", run_id)["a"]["state"] == "running")
        proc.send_signal(signal.SIGINT)
        t0 = time.monotonic()
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert time.monotonic() - t0 < 1.5
        assert "waiting for 1 running task(s) to finish (up to 30 s): slowchain.a" in line, line
        assert "Ctrl-C again" in line, line
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 1
    got = states(flow, "slowchain", run_id)
    assert got["a"]["state"] == "success" and got["b"]["state"] == "none"


def test_the_stop_line_names_a_task_running_in_several_runs_once(flow):
    """The scheduler stopping while one task runs in two runs says `slow.a (in 2 runs)`,
    not `slow.a, slow.a`; a second Ctrl-C ends the tries."""
    flow.write_dag("slow.py", """
        from flowctl import DAG, BashOperator
        with DAG("slow", schedule=None) as dag:
            BashOperator(task_id="a", bash_command="sleep 60")
    """)
    for day in ("2026-01-01", "2026-01-02"):
        assert flow("trigger", "slow", "--logical-date", day).code == 0
    proc = flow.popen("scheduler")
    try:
        wait_for("both tries to run", lambda: sum(
            states(flow, "slow", r["run_id"])["a"]["state"] == "running" for r in flow("runs", "list", "--json").json()
        ) == 2)
        proc.send_signal(signal.SIGINT)
        assert proc.stdout is not None
        line = ""
        while "stopping" not in line:
            line = proc.stdout.readline()
            assert line, "the scheduler ended without a stop line"
        proc.send_signal(signal.SIGINT)  # kill the tries: they run again later
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert "waiting for 2 running task(s) to finish (up to 30 s): slow.a (in 2 runs)." in line, line


def test_a_closed_pipe_does_not_abandon_the_run(flow):
    """`flowctl run X | head -1`: the run is carried out to the end and the command
    exits with the run's code, without a traceback."""
    flow.write_dag("slowchain.py", SLOW_CHAIN)
    cmd = f"{sys.executable} -m flowctl run slowchain | head -1; echo exit=${{PIPESTATUS[0]}}"
    proc = subprocess.run(["bash", "-c", cmd], env=flow.env, cwd=flow.root, capture_output=True, text=True,
                          timeout=60)
    assert proc.stdout.splitlines()[-1] == "exit=0", proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr, proc.stderr
    assert only_run(flow, "slowchain")["state"] == "success"


def test_scheduler_until_idle_through_a_closed_pipe_finishes_its_work(flow):
    """`flowctl scheduler --until-idle | head -1`: every run is finished anyway."""
    flow.write_dag("slowchain.py", SLOW_CHAIN)
    run_id = flow("trigger", "slowchain").out.strip()
    cmd = f"{sys.executable} -m flowctl scheduler --until-idle | head -1; echo exit=${{PIPESTATUS[0]}}"
    proc = subprocess.run(["bash", "-c", cmd], env=flow.env, cwd=flow.root, capture_output=True, text=True,
                          timeout=60)
    assert proc.stdout.splitlines()[-1] == "exit=0", proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert {t: ti["state"] for t, ti in states(flow, "slowchain", run_id).items()} == {"a": "success", "b": "success"}


# -- durability -------------------------------------------------------------------------------------------------


SYNC_PROBE = textwrap.dedent("""
    import os, sys
    synced = []
    def watch(real):
        def call(fd):
            try:
                synced.append(os.readlink(f"/proc/self/fd/{fd}"))
            except OSError:
                pass
            return real(fd)
        return call
    os.fsync, os.fdatasync = watch(os.fsync), watch(os.fdatasync)
    from flowctl.cli import main
    try:
        main(["trigger", "hello", "--logical-date", "2026-01-01"])
    except SystemExit:
        pass
    sys.stderr.write("SYNCED " + repr(synced) + "\\n")
""")


def test_a_triggered_run_is_durable_file_and_folders(flow):
    """What `trigger` reported survives a power cut: the run's document is synced
    before its rename, and the folders that hold it after (the rename and the new
    DAG folder)."""
    flow.write_dag("hello.py", "from flowctl import DAG, BashOperator\nwith DAG('hello', schedule=None):\n"
                               "    BashOperator(task_id='a', bash_command='true')\n")
    proc = subprocess.run([sys.executable, "-c", SYNC_PROBE], env=flow.env, cwd=flow.root, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    synced = eval(proc.stderr.split("SYNCED ", 1)[1])  # noqa: S307 - our own repr
    run_id = proc.stdout.strip()
    runs = flow.home / "state" / "runs"
    doc = next(i for i, p in enumerate(synced) if p.endswith(".tmp") and run_id in p)
    assert str(runs / "hello") in synced[doc + 1:], synced  # the rename, made durable
    assert str(runs) in synced, synced  # the new DAG folder in its parent
