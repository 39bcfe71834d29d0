"""What the command line prints, and what it does when the output or the home
cannot take it: whole values in pipes, a closed pipe that never stops the
work, dates you can type back, --json everywhere a script needs it, and one
line for a home the OS refuses."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(180)

LONG_ID = "quarterly_revenue_reconciliation_for_every_region_and_product_line"

CHAIN = """
import pendulum
from flowctl import DAG, BashOperator
with DAG("{dag_id}", schedule="@daily", start_date=pendulum.datetime(2026, 1, 1, tz="{tz}"), catchup=False) as dag:
    a = BashOperator(task_id="a", bash_command="{a}")
    b = BashOperator(task_id="b", bash_command="{b}")
    c = BashOperator(task_id="c", bash_command="echo c")
    a >> b >> c
"""

STEPS = """
from flowctl import DAG, BashOperator
with DAG("steps", schedule=None) as dag:
    previous = None
    for i in range(5):
        step = BashOperator(task_id=f"step{i}", bash_command="sleep 0.2; echo step")
        if previous is not None:
            previous >> step
        previous = step
"""


def chain(dag_id: str = "etl", tz: str = "UTC", a: str = "echo a", b: str = "echo b") -> str:
    return CHAIN.format(dag_id=dag_id, tz=tz, a=a, b=b)


def one_line(res) -> str:
    lines = res.err.strip().splitlines()
    assert len(lines) == 1, res.err
    assert "Traceback" not in res.err and "internal error" not in res.err, res.err
    return lines[0]


# -- pipes -------------------------------------------------------------------------------------


def test_piped_tables_show_whole_values_one_row_per_line(flow):
    """Piped into grep or a file (here with an 80-column COLUMNS), no value is
    cut or wrapped: each run is one line with its whole DAG id and run id."""
    flow.write_dag("long.py", chain(dag_id=LONG_ID))
    days = ["2026-11-20", "2026-11-21", "2026-11-22"]
    for day in days:
        assert flow("run", LONG_ID, "--logical-date", day).code == 0
    narrow = {"COLUMNS": "80"}
    out = flow("runs", "list", env=narrow).out
    for day in days:
        run_id = f"manual__{day}T00:00:00+00:00"
        lines = [line for line in out.splitlines() if run_id in line]
        assert len(lines) == 1, out
        assert LONG_ID in lines[0] and f"{day} 00:00" in lines[0] and "success" in lines[0]
    assert "…" not in out
    listing = flow("dags", "list", env=narrow).out
    assert any(LONG_ID in line and "long.py" in line for line in listing.splitlines()), listing
    states = flow("tasks", "states", LONG_ID, days[0], env=narrow).out
    assert f"{LONG_ID}  manual__{days[0]}T00:00:00+00:00" in states


BRACKETS = """
import pendulum
from flowctl import DAG, PythonOperator
def boom():
    raise KeyError("None of [Index(['col'])] are in the [columns]")
with DAG("brackets", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), tags=["[team]"]) as dag:
    PythonOperator(task_id="t", python_callable=boom)
"""


def test_text_in_square_brackets_is_printed_as_it_is(flow):
    """An error, a reason or a tag with `[word]` in it comes out whole: the CLI
    never reads a value as rich markup (it used to eat `[core]` and `[columns]`)."""
    flow.write_dag("brackets.py", BRACKETS)
    flow.write_dag("broken.py", 'raise ValueError("no [core] section in the [bold]x[/bold] config")  # a DAG\n')
    errors = flow("dags", "errors")
    assert errors.code == 1 and "no [core] section in the [bold]x[/bold] config" in errors.out
    assert "[team]" in flow("dags", "list").out
    failed = flow("run", "brackets")
    assert failed.code == 1
    assert "\"None of [Index(['col'])] are in the [columns]\"" in failed.out
    run_id = flow("runs", "list", "--json").json()[0]["run_id"]
    assert "are in the [columns]" in flow("explain", "brackets", run_id).out


def test_a_date_from_the_listing_finds_its_run_while_the_dag_file_is_broken(flow):
    """`runs list` shows a run's logical date in the DAG's zone; typed back, it finds
    the run even when the DAG file no longer imports (the run recorded its zone)."""
    flow.write_dag("ams.py", chain(dag_id="ams", tz="Europe/Amsterdam"))
    assert flow("run", "ams", "--logical-date", "2026-01-01").code == 0
    with (flow.dags / "ams.py").open("a") as f:
        f.write("oops(\n")
    assert "2026-01-01 00:00" in flow("runs", "list").out
    states = flow("tasks", "states", "ams", "2026-01-01 00:00", "--json")
    assert states.code == 0, states.err
    assert {t["state"] for t in states.json()} == {"success"}


def test_run_into_a_closed_pipe_finishes_the_run(flow):
    """`flowctl run steps | head -1`: the reader goes away after one line; the
    run is still carried out to the end, the exit code is the run's, and no
    BrokenPipeError noise reaches stderr."""
    flow.write_dag("steps.py", STEPS)
    proc = flow.popen("run", "steps")
    first = proc.stdout.readline()
    assert first.startswith("steps manual__")
    proc.stdout.close()
    assert proc.wait(timeout=90) == 0
    err = proc.stderr.read()
    assert "Broken" not in err and "Exception ignored" not in err and "Traceback" not in err, err
    runs = flow("runs", "list", "--dag", "steps", "--json").json()
    assert [r["state"] for r in runs] == ["success"]
    states = flow("tasks", "states", "steps", runs[0]["run_id"], "--json").json()
    assert {t["state"] for t in states} == {"success"}


def test_a_failing_run_into_a_closed_pipe_exits_1(flow):
    """The exit code stays the run's when the pipe is gone: 1 for a failed run."""
    flow.write_dag("etl.py", chain(b="sleep 0.3; exit 3"))
    proc = flow.popen("run", "etl")
    proc.stdout.readline()
    proc.stdout.close()
    assert proc.wait(timeout=90) == 1
    assert "Traceback" not in proc.stderr.read()
    assert [r["state"] for r in flow("runs", "list", "--json").json()] == ["failed"]


def test_scheduler_until_idle_into_a_closed_pipe_carries_everything_out(flow):
    """`flowctl scheduler --until-idle | head -1` still runs what is pending."""
    flow.write_dag("steps.py", STEPS)
    run_id = flow("trigger", "steps").out.strip()
    proc = flow.popen("scheduler", "--until-idle")
    assert proc.stdout.readline()
    proc.stdout.close()
    assert proc.wait(timeout=90) == 0
    assert "Traceback" not in proc.stderr.read()
    assert flow("runs", "list", "--json").json()[0]["run_id"] == run_id
    assert flow("runs", "list", "--json").json()[0]["state"] == "success"


@pytest.mark.parametrize("args", [["runs", "list"], ["runs", "list", "--json"], ["dags", "list"], ["--help"]])
def test_a_listing_into_a_closed_pipe_exits_quietly(flow, args):
    """A reader that is gone before anything is written: exit 0, nothing on stderr."""
    flow.write_dag("etl.py", chain())
    assert flow("run", "etl", "--logical-date", "2026-11-20").code == 0
    proc = flow.popen(*args)
    proc.stdout.close()
    assert proc.wait(timeout=60) == 0
    assert proc.stderr.read() == ""


# -- --json -------------------------------------------------------------------------------------


def test_changes_print_json_when_asked(flow):
    """trigger, pause, unpause, tasks mark and clear take --json: one document on stdout."""
    flow.write_dag("etl.py", chain(b="exit 1"))
    run = flow("trigger", "etl", "--logical-date", "2026-11-20", "--conf", '{"x": 1}', "--json")
    assert run.code == 0, run.err
    doc = run.json()
    assert doc["run_id"] == "manual__2026-11-20T00:00:00+00:00" and doc["state"] == "queued"
    assert doc["conf"] == {"x": 1} and doc["logical_date"] == "2026-11-20T00:00:00+00:00"
    assert flow("pause", "etl", "--json").json() == {"dag_id": "etl", "paused": True}
    assert flow("unpause", "etl", "--json").json() == {"dag_id": "etl", "paused": False}
    flow("scheduler", "--until-idle")  # b fails
    mark = flow("tasks", "mark", "etl", "2026-11-20", "b", "--state", "success", "--json")
    assert mark.json() == {"dag_id": "etl", "run_id": doc["run_id"], "task_id": "b", "state": "success",
                           "marked": ["b"], "reset": ["c"]}
    clear = flow("clear", "etl", "--task", "^a$", "--yes", "--json")
    assert clear.json()["cleared"] >= 1 and clear.json()["task_instances"][0]["task_id"] == "a"


def test_mark_says_exactly_what_it_did(flow):
    """Marking a failed task success marks one and resets what its failure left
    below it; the line says both, in the singular where it is one."""
    flow.write_dag("etl.py", chain(b="exit 1"))
    assert flow("run", "etl", "--logical-date", "2026-11-20").code == 1
    res = flow("tasks", "mark", "etl", "2026-11-20", "b", "--state", "success")
    assert res.code == 0, res.err
    assert res.out.strip() == ("marked 1 task instance success (b); reset 1 upstream_failed below it "
                               "so it runs again (c)")
    again = flow("tasks", "mark", "etl", "2026-11-20", "b", "--state", "success")
    assert again.out.strip() == "b is already success: nothing changed"
    bad = flow("tasks", "mark", "etl", "2026-11-20", "b", "--state", "green")
    assert bad.code == 2 and "'green'" in one_line(bad)


# -- dates --------------------------------------------------------------------------------------


def test_logical_dates_are_shown_in_the_dags_zone_and_read_back(flow):
    """An Amsterdam DAG's run for 2026-11-20 is listed as `2026-11-20 00:00`
    (not 23:00 the day before in UTC), the table says the zone, and exactly that
    text finds the run again."""
    flow.write_dag("ams.py", chain(dag_id="ams", tz="Europe/Amsterdam"))
    assert flow("run", "ams", "--logical-date", "2026-11-20").code == 0
    out = flow("runs", "list").out
    assert "logical date (Europe/Amsterdam)" in out
    shown = re.search(r"ams\s+(\d{4}-\d\d-\d\d \d\d:\d\d)\s", out).group(1)
    assert shown == "2026-11-20 00:00"
    for args in (["tasks", "states", "ams", shown], ["xcom", "list", "ams", shown], ["logs", "ams", shown, "a"],
                 ["explain", "ams", shown], ["tasks", "state", "ams", "a", shown]):
        res = flow(*args)
        assert res.code == 0, (args, res.err)
    plan = flow("clear", "ams", "--run", shown, "--dry-run", "--json").json()["task_instances"]
    assert {p["run_id"] for p in plan} == {"manual__2026-11-19T23:00:00+00:00"}
    # the next intervals, too, are shown as they are typed
    table = flow("dags", "next", "ams", "--after", "2026-03-28", "-n", "3").out
    shown = re.findall(r"^(\d{4}-\d\d-\d\d \d\d:\d\d [+-]\d{4})", table, flags=re.M)
    assert shown == ["2026-03-28 00:00 +0100", "2026-03-29 00:00 +0100", "2026-03-30 00:00 +0200"], table
    back = flow("dags", "next", "ams", "--after", shown[2], "-n", "1", "--json").json()
    assert back[0]["logical_date"] == "2026-03-29T22:00:00+00:00"


def test_a_time_the_zone_skips_or_repeats_is_read_as_airflow_does_and_said(flow):
    """In Europe/Amsterdam 02:30 does not exist on 2026-03-29 and happens twice on
    2026-10-25: the command goes on (moved forward; the later one), and one line on
    stderr says which time it used and how to write the other; with an offset, or a
    time that exists once, nothing is said."""
    flow.write_dag("ams.py", chain(dag_id="ams", tz="Europe/Amsterdam"))
    skipped = flow("trigger", "ams", "--logical-date", "2026-03-29T02:30")
    assert skipped.code == 0 and skipped.out.strip() == "manual__2026-03-29T01:30:00+00:00"
    assert ("note: 2026-03-29 02:30 does not exist in Europe/Amsterdam (the clocks go forward then); "
            "2026-03-29T03:30:00+02:00 is used") in skipped.err
    twice = flow("trigger", "ams", "--logical-date", "2026-10-25 02:30")
    assert twice.code == 0 and twice.out.strip() == "manual__2026-10-25T01:30:00+00:00"
    assert "happens twice in Europe/Amsterdam" in twice.err and "write 2026-10-25 02:30+02:00 for the first" in twice.err
    first = flow("trigger", "ams", "--logical-date", "2026-10-25 02:30+02:00")
    assert first.out.strip() == "manual__2026-10-25T00:30:00+00:00" and "note:" not in first.err
    plain = flow("trigger", "ams", "--logical-date", "2026-06-01T02:30")
    assert plain.code == 0 and "note:" not in plain.err


def test_human_lines_show_no_microseconds(flow):
    """explain of a running task says since when, to the second."""
    flow.write_dag("etl.py", chain(a="sleep 30"))
    proc = flow.popen("run", "etl", "--logical-date", "2026-11-20")
    try:
        from polling import wait_for

        def running() -> bool:
            states = flow("tasks", "states", "etl", "2026-11-20", "--json")
            return states.code == 0 and states.json()[0]["state"] == "running"

        wait_for("task a to run", running, timeout=30)
        out = flow("explain", "etl", "2026-11-20").out
        assert "running try 1 since" in out
        assert not re.search(r"\d\d:\d\d:\d\d\.\d", out), out
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)


def test_logs_follow_waits_for_a_task_that_has_not_started(flow):
    """`logs --follow` of a task still waiting for its upstream says so once, waits,
    and prints its log from the first line when it runs."""
    flow.write_dag("etl.py", chain(a="sleep 1.5", b="echo hello from b"))
    proc = flow.popen("run", "etl", "--logical-date", "2026-11-20")
    try:
        from polling import wait_for

        wait_for("the run to exist", lambda: flow("tasks", "states", "etl", "2026-11-20").code == 0, timeout=30)
        followed = flow("logs", "etl", "2026-11-20", "b", "--follow", timeout=60)
        assert followed.code == 0, followed.err
        assert "hello from b" in followed.out
        assert "etl.b has not started yet" in followed.err and followed.err.count("not started yet") == 1
    finally:
        proc.wait(timeout=60)


def test_counts_are_in_the_singular_for_one(flow):
    """`1 task`, never `1 tasks`."""
    flow.write_dag("one.py", """
from flowctl import DAG, BashOperator
with DAG("one", schedule=None) as dag:
    BashOperator(task_id="only", bash_command="echo hi")
""")
    assert "1 task" in flow("dags", "show", "one").out and "1 tasks" not in flow("dags", "show", "one").out
    run = flow("run", "one")
    assert "1 task," in run.out and "1 tasks" not in run.out
    cleared = flow("clear", "one", "--yes")
    assert "Cleared 1 task instance." in cleared.out


# -- refusals -----------------------------------------------------------------------------------


def test_clear_with_start_after_end_is_a_usage_error(flow):
    """As backfill: --start after --end is the command line's fault, exit 2."""
    flow.write_dag("etl.py", chain())
    assert flow("run", "etl", "--logical-date", "2026-11-20").code == 0
    res = flow("clear", "etl", "--start", "2026-11-22", "--end", "2026-11-01", "--yes")
    assert res.code == 2
    assert "--start" in one_line(res) and "--end" in one_line(res)


def test_executor_options_also_follow_the_command(flow):
    """--executor after run, backfill and scheduler feeds the same setting as
    the global option (a wrong one is refused the same way)."""
    flow.write_dag("etl.py", chain())
    for args in (["run", "etl"], ["backfill", "etl", "-s", "2026-11-01", "-e", "2026-11-02"],
                 ["scheduler", "--until-idle"]):
        res = flow(*args, "--executor", "nowhere")
        assert res.code == 2 and "executor must be 'local' or 'dask'" in one_line(res), args
    assert flow("run", "etl", "--executor", "local").code == 0
    res = flow("backfill", "etl", "-s", "2026-11-01", "-e", "2026-11-02", "--executor", "local")
    assert res.code == 0, res.err
    assert flow("scheduler", "--until-idle", "--executor", "local").code == 0


@pytest.mark.timeout(120)
def test_dask_address_after_run_reaches_that_cluster(flow):
    """`run DAG --executor dask --dask-address ADDR` sends the tries to that scheduler."""
    distributed = pytest.importorskip("distributed")
    flow.write_dag("etl.py", chain())
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp",
                                  host="127.0.0.1", scheduler_port=0, dashboard_address=None) as cluster:
        res = flow("run", "etl", "--executor", "dask", "--dask-address", cluster.scheduler_address, "--json",
                   timeout=90)
        assert res.code == 0, res.err
    assert "Dask worker" in flow("logs", "etl", res.json()["run_id"], "a").out


@pytest.mark.parametrize("command", [["dags", "list"], ["run", "etl"], ["trigger", "etl"],
                                     ["scheduler", "--until-idle"], ["dags", "errors"]])
def test_a_missing_dags_folder_is_an_error_naming_it(flow, command):
    """A DAG folder that does not exist is not 'no DAGs': exit 1, naming it."""
    missing = flow.root / "no-such-folder"
    res = flow(*command, env={"FLOWCTL_DAGS_FOLDER": str(missing)})
    assert res.code == 1, (res.out, res.err)
    line = one_line(res)
    assert str(missing) in line and "does not exist" in line


def test_history_still_reads_without_the_dags_folder(flow):
    """Commands that read what happened do not need the DAG folder."""
    flow.write_dag("etl.py", chain())
    assert flow("run", "etl", "--logical-date", "2026-11-20").code == 0
    env = {"FLOWCTL_DAGS_FOLDER": str(flow.root / "gone")}
    assert flow("runs", "list", env=env).code == 0
    assert flow("tasks", "states", "etl", "2026-11-20", env=env).code == 0


# -- an unusable home ----------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["runs", "list"], ["trigger", "etl"], ["run", "etl"], ["doctor"],
                                     ["scheduler", "--until-idle"], ["scheduler", "--daemon"],
                                     ["variables", "list"], ["connections", "list"]])
def test_a_file_where_the_home_should_be(flow, command):
    """`--home /etc/passwd` (or any file): one line naming the file and what to do, exit 1."""
    flow.write_dag("etl.py", chain())
    blocker = flow.root / "not-a-folder"
    blocker.write_text("")
    for home in (blocker, "/etc/passwd"):
        res = flow("--home", str(home), *command)
        assert res.code == 1, res.err
        line = one_line(res)
        assert f"{home} is a file, not a folder" in line and "--home" in line
    below = flow("--home", "/etc/passwd/x", *command)  # a file above the home: never "move it aside"
    line = one_line(below)
    assert below.code == 1 and "/etc/passwd is a file" in line and "aside" not in line and "--home" in line


def test_a_file_where_the_state_folder_should_be(flow):
    """Inside a good home, a file where flowctl keeps a folder: named, and what to do."""
    flow.write_dag("etl.py", chain())
    flow.home.mkdir()
    (flow.home / "state").write_text("")
    res = flow("trigger", "etl")
    assert res.code == 1
    assert one_line(res) == f"flowctl: {flow.home / 'state'} is a file, not a folder: flowctl keeps a folder there; move the file aside"


def test_a_home_that_cannot_be_written(flow):
    """A home the OS refuses to write: one line naming it and what to do, exit 1."""
    flow.write_dag("etl.py", chain())
    if os.geteuid() == 0:
        home = "/sys/flowctl-home"  # root may write anywhere but in sysfs
        if not os.path.isdir("/sys"):
            pytest.skip("needs /sys to find a place root cannot write")
    else:
        home = str(flow.root / "locked")
        os.mkdir(home, 0o500)
    res = flow("--home", home, "trigger", "etl")
    assert res.code == 1
    line = one_line(res)
    assert home in line and ("permission denied" in line or "read-only" in line), line


def test_a_read_only_home(flow):
    """A home on a read-only file system (a mount of its own, in a user namespace)."""
    flow.write_dag("etl.py", chain())
    home = flow.root / "ro"
    home.mkdir()
    res = in_own_mount(flow, home, "mount -t tmpfs tmpfs {dir} && mount -o remount,ro {dir}", "trigger", "etl")
    assert res.returncode == 1, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "read-only file system" in lines[0] and str(home) in lines[0], res.stderr


def test_doctor_says_the_home_is_read_only(flow):
    """`doctor` on a home whose file system is read-only names it and what to do
    (exit 1), rather than passing it as healthy."""
    flow.write_dag("etl.py", chain())
    home = flow.root / "ro"
    home.mkdir()
    res = in_own_mount(flow, home, "mount -t tmpfs tmpfs {dir} && mount -o remount,ro {dir}", "doctor")
    assert res.returncode == 1, res.stdout + res.stderr
    said = res.stdout + res.stderr
    assert "read-only file system" in said and str(home) in said and "remount it read-write" in said, said


def test_a_full_disk(flow):
    """No space left (ENOSPC) on the home's device: one line that says so, exit 1."""
    flow.write_dag("etl.py", chain())
    home = flow.root / "full"
    home.mkdir()
    fill = "mount -t tmpfs -o size=256k tmpfs {dir} && {{ head -c 1048576 /dev/zero > {dir}/filler 2>/dev/null || true; }}"
    res = in_own_mount(flow, home, fill, "run", "etl")
    assert res.returncode == 1, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "no space left" in lines[0] and str(home) in lines[0], res.stderr


def test_output_to_a_full_disk_stops_nothing(flow):
    """`flowctl run etl > full/out`: the run goes on to its end and is committed; the
    command says in one line that its output could not be written (not the home's
    disk), and exits 1."""
    flow.write_dag("etl.py", chain())
    sink = flow.root / "sink"
    sink.mkdir()
    fill = "mount -t tmpfs -o size=64k tmpfs {dir} && {{ head -c 1048576 /dev/zero > {dir}/filler 2>/dev/null || true; }}"
    res = in_own_mount(flow, sink, fill, "run", "etl", home=flow.home, stdout_to=sink / "out")
    assert res.returncode == 1, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "could not write the output (No space left on device)" in lines[0], res.stderr
    assert "ran to its end" in lines[0] and str(flow.home) not in lines[0]
    [run] = flow("runs", "list", "--json").json()
    assert run["state"] == "success", run


def in_own_mount(flow, where: Path, setup: str, *args: str, home: Path | None = None,
                 stdout_to: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run flowctl after `setup` mounted something at `where`, inside a private mount
    namespace (nothing outside the test sees the mount). The home is `where` unless
    `home` is given; the output goes to `stdout_to` if given."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("needs unshare(1) to mount a file system of the test's own")
    probe = subprocess.run([unshare, "-rm", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"user and mount namespaces are not available: {probe.stderr.decode().strip()}")
    redirect = f" > {stdout_to}" if stdout_to is not None else ""
    script = setup.format(dir=where) + f" && exec {sys.executable} -m flowctl \"$@\"{redirect}"
    return subprocess.run([unshare, "-rm", "sh", "-c", script, "sh", *args], cwd=flow.root, text=True,
                          capture_output=True, env={**flow.env, "FLOWCTL_HOME": str(home or where)}, timeout=60)


def test_runs_list_json_is_one_document(flow):
    """--json output parses as one document, also with the zone columns in play."""
    flow.write_dag("ams.py", chain(dag_id="ams", tz="Europe/Amsterdam"))
    flow.write_dag("etl.py", chain())
    assert flow("run", "ams", "--logical-date", "2026-11-20").code == 0
    assert flow("run", "etl", "--logical-date", "2026-11-20").code == 0
    docs = json.loads(flow("runs", "list", "--json").out)
    assert {d["dag_id"] for d in docs} == {"ams", "etl"}
    table = flow("runs", "list").out
    assert "zone" in table and "Europe/Amsterdam" in table  # mixed zones get a zone column


def test_runs_list_says_waiting_for_a_run_nobody_carries_out(flow):
    """A triggered run with no scheduler up waits: the table says `waiting` (as the
    TUI does) and how to carry it on; --json keeps its state; once a scheduler ran
    it, it is success."""
    flow.write_dag("etl.py", chain())
    assert flow("trigger", "etl", "--logical-date", "2026-11-20").code == 0
    out = flow("runs", "list").out
    [row] = [line for line in out.splitlines() if "manual__" in line]
    assert " waiting " in row and "queued" not in row, out
    assert "no process carries it out; `flowctl scheduler --until-idle`" in out
    assert [d["state"] for d in flow("runs", "list", "--json").json()] == ["queued"]
    assert [d["state"] for d in flow("runs", "list", "--state", "waiting", "--json").json()] == ["queued"]
    assert flow("scheduler", "--until-idle").code == 0
    out = flow("runs", "list").out
    assert " success " in out and "waiting" not in out, out
    assert flow("runs", "list", "--state", "waiting", "--json").json() == []
    assert flow("runs", "list", "--state", "failed").out.strip() == "No failed runs."


def test_a_backfill_dry_run_before_start_date_says_why(flow):
    """A range with no interval: the plan says why (the DAG's first interval), in typeable dates."""
    flow.write_dag("ams.py", chain(dag_id="ams", tz="Europe/Amsterdam"))
    res = flow("backfill", "ams", "-s", "2025-01-01", "-e", "2025-01-03", "--dry-run")
    assert res.code == 0
    assert ("No interval of ams has a logical date in that range: the range ends before the DAG's "
            "start_date (2026-01-01 00:00).") in res.out
