"""The command line as people learn it: help that teaches, one-line usage
errors, Airflow's command names, and `scheduler status` as `systemctl status`."""

from __future__ import annotations

import re

import pytest
from polling import wait_for

pytestmark = pytest.mark.timeout(180)

DAG = """
import pendulum
from flowctl import DAG, BashOperator
with DAG("etl", schedule="@daily", start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False) as dag:
    extract = BashOperator(task_id="extract", bash_command="echo extract")
    load = BashOperator(task_id="load", bash_command="echo load")
    extract >> load
"""


def command_paths() -> list[tuple[list[str], bool]]:
    """Every command and group of the real CLI: the words that reach it, and whether it is a group."""
    import typer

    from flowctl.cli import app

    paths = []

    def walk(command, words):
        paths.append((words, hasattr(command, "commands")))
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*words, name])

    walk(typer.main.get_command(app), [])
    return paths


def test_flowctl_alone_prints_the_overview(flow):
    """`flowctl` with nothing after it is a request for the overview: exit 0, not a usage error."""
    res = flow()
    assert res.code == 0, res.err
    assert "Usage: flowctl" in res.out
    for command in ("dags", "run", "runs", "tasks", "backfill", "clear", "scheduler"):
        assert re.search(rf"^\W*{command}\s", res.out, flags=re.M), command
    assert res.err == ""


def test_help_names_things_and_shows_an_example(flow):
    """No `<bool>`/`<str>` placeholders and no `{dag_id}` anywhere; arguments
    by their names (DAG_ID, RUN, TASK_ID); each command's help has an example."""
    paths = command_paths()
    assert len(paths) > 30
    for words, is_group in paths:
        res = flow(*words, "--help")
        assert res.code == 0, (words, res.err)
        page = res.out
        assert not re.search(r"<(bool|str|int|float|text|integer)>", page), (words, page)
        usage = re.search(r"Usage: (.*)", page).group(1)
        assert "{" not in usage and "dag_id" not in usage, (words, usage)
        if not is_group or words == ["scheduler"]:
            assert "Example:" in page, (words, page)
    assert "DAG_ID RUN TASK_ID" in flow("logs", "--help").out


@pytest.mark.parametrize(
    "args, words",
    [
        pytest.param(["dags", "list", "--bogus"], "no such option: --bogus", id="unknown-option"),
        pytest.param(["run"], "missing argument 'DAG_ID'", id="missing-argument"),
        pytest.param(["runs", "list", "--state", "weird"], "'weird' is not a run state", id="bad-state"),
        pytest.param(["logs", "etl", "2026-01-01", "extract", "--try", "0"], "--try", id="try-zero"),
        pytest.param(["logs", "etl", "2026-01-01", "extract", "--try", "-1"], "--try", id="try-negative"),
        pytest.param(["dags", "next", "etl", "-n", "many"], "not a whole number", id="not-a-number"),
        pytest.param(["nonsense"], "no such command 'nonsense'", id="unknown-command"),
    ],
)
def test_a_usage_error_is_one_line_on_stderr(flow, args, words):
    """A wrong command line: exit 2, one line on stderr naming the problem and
    where the help is (not Click's four-line box), nothing on stdout."""
    flow.write_dag("etl.py", DAG)
    res = flow(*args)
    assert res.code == 2, (res.out, res.err)
    lines = res.err.splitlines()
    assert len(lines) == 1, res.err
    assert words.lower() in lines[0].lower()
    assert lines[0].startswith("flowctl: ") and "--help" in lines[0]
    assert "╭" not in res.err and "Usage:" not in res.err and res.out == ""


def test_airflow_names_are_listed_in_their_group(flow):
    """Airflow's spellings are in the help of their group, said to be Airflow's."""
    dags_help = flow("dags", "--help").out
    for name in ("trigger", "pause", "unpause", "backfill", "list-runs", "list-import-errors",
                 "next-execution", "test"):
        assert re.search(rf"^\W*{name}\s", dags_help, flags=re.M), name
    tasks_help = flow("tasks", "--help").out
    for name in ("clear", "run", "test", "state"):
        assert re.search(rf"^\W*{name}\s", tasks_help, flags=re.M), name
    assert "Airflow's names" in dags_help and "Airflow's names" in tasks_help
    assert "-D, --daemon" in flow("scheduler", "--help").out


def test_airflow_names_do_the_same_work(flow):
    """Each Airflow spelling does what its flowctl command does."""
    flow.write_dag("etl.py", DAG)
    day = "2026-03-01"
    res = flow("dags", "test", "etl", day)
    assert res.code == 0, res.err
    assert flow("tasks", "state", "etl", "load", day).out.strip() == "success"
    assert flow("dags", "pause", "etl").code == 0
    assert flow("dags", "list", "--json").json()[0]["paused"] is True
    assert flow("dags", "unpause", "etl").code == 0
    assert flow("dags", "list", "--json").json()[0]["paused"] is False
    trigger = flow("dags", "trigger", "etl", "-e", "2026-03-02")
    assert trigger.code == 0 and trigger.out.strip() == "manual__2026-03-02T00:00:00+00:00", trigger.err
    runs = flow("dags", "list-runs", "-d", "etl", "--json").json()
    assert [r["run_id"] for r in runs] == ["manual__2026-03-02T00:00:00+00:00", "manual__2026-03-01T00:00:00+00:00"]
    assert flow("dags", "list-runs", "etl", "--json").json() == runs
    assert flow("dags", "list-import-errors").code == 0
    nxt = flow("dags", "next-execution", "etl", "--after", "2026-05-01", "-n", "2", "--json").json()
    assert [n["logical_date"] for n in nxt] == ["2026-05-01T00:00:00+00:00", "2026-05-02T00:00:00+00:00"]
    upcoming = flow("dags", "next-execution", "etl", "-n", "1", "--json").json()  # by default: the next run
    listed = next(d for d in flow("dags", "list", "--json").json() if d["dag_id"] == "etl")
    assert [n["logical_date"] for n in upcoming] == [listed["next_data_interval_start"]]
    first = flow("dags", "next", "etl", "-n", "1", "--json").json()  # flowctl's own: from start_date
    assert [n["logical_date"] for n in first] == ["2026-01-01T00:00:00+00:00"] != upcoming
    test = flow("tasks", "test", "etl", "extract", day)
    assert test.code == 0 and "extract: success" in test.out
    run = flow("tasks", "run", "etl", "extract", day)
    assert run.code == 0 and "extract: success" in run.out and "records no state" in run.err
    clear = flow("tasks", "clear", "etl", "-t", "^extract$", "-s", day, "-e", day, "-d", "-y", "--json")
    assert clear.code == 0, clear.err
    assert sorted(t["task_id"] for t in clear.json()["task_instances"]) == ["extract", "load"]
    assert flow("tasks", "clear", "etl", "-t", "^load$", "-u", "--dry-run", "--json").json()["task_instances"]
    assert flow("clear", "etl", "-f", "-y", "--json").json()["cleared"] == 0  # nothing failed
    plan = flow("dags", "backfill", "etl", "-s", "2026-04-01", "-e", "2026-04-02", "--dry-run", "--json").json()
    assert [i["action"] for i in plan["intervals"]] == ["create", "create"]
    plan = flow("backfill", "etl", "--start-date", "2026-04-01", "--end-date", "2026-04-03", "--dry-run", "--json").json()
    assert len(plan["intervals"]) == 3
    states = flow("tasks", "states-for-dag-run", "etl", day, "--json").json()
    assert {t["task_id"] for t in states} == {"extract", "load"}


@pytest.mark.parametrize(
    "args, suggestion",
    [
        pytest.param(["dags", "list-jobs"], "flowctl scheduler status", id="dags-list-jobs"),
        pytest.param(["db", "init"], "flowctl doctor", id="db-init"),
        pytest.param(["webserver", "-p", "8080"], "flowctl tui", id="webserver"),
        pytest.param(["tasks", "failed-deps", "etl", "load", "2026-01-01"], "flowctl explain", id="failed-deps"),
    ],
)
def test_an_airflow_form_flowctl_lacks_says_what_to_use(flow, args, suggestion):
    """An Airflow command flowctl does not have: one line, 'did you mean' the
    flowctl command that does the job, exit 2."""
    res = flow(*args)
    assert res.code == 2
    lines = res.err.splitlines()
    assert len(lines) == 1, res.err
    assert "did you mean" in lines[0] and suggestion in lines[0]
    assert " ".join(args[:2] if args[0] != "webserver" else args[:1]) in lines[0]


@pytest.mark.parametrize(
    "args, said, suggestion",
    [
        pytest.param(["dags", "list", "-o", "json"], "-o", "--json", id="output"),
        pytest.param(["runs", "list", "--output", "json"], "--output", "--json", id="output-long"),
        pytest.param(["dags", "trigger", "etl", "-r", "nightly"], "-r", "--logical-date", id="run-id"),
        pytest.param(["dags", "backfill", "etl", "-s", "2026-01-01", "--reset-dagruns"], "--reset-dagruns",
                     "--reprocess completed", id="reset-dagruns"),
        pytest.param(["tasks", "clear", "etl", "-x"], "-x", "leave the option out", id="exclude-subdags"),
        pytest.param(["dags", "pause", "etl", "-y"], "-y", "takes no --yes", id="pause-yes"),
    ],
)
def test_an_airflow_option_flowctl_lacks_says_what_to_use(flow, args, said, suggestion):
    """An Airflow option the command does not have: one line naming the option,
    what to type instead and why, exit 2; nothing is done."""
    flow.write_dag("etl.py", DAG)
    res = flow(*args)
    assert res.code == 2
    lines = res.err.splitlines()
    assert len(lines) == 1, res.err
    assert f"{said} is an Airflow option" in lines[0] and suggestion in lines[0], lines[0]
    assert flow("runs", "list", "--json").json() == []


def test_an_unknown_option_that_airflow_lacks_too_points_at_help(flow):
    """An option neither has keeps click's message and the pointer to --help."""
    res = flow("dags", "list", "--colour")
    assert res.code == 2 and "no such option: --colour" in res.err and "flowctl dags list --help" in res.err


def test_scheduler_status_exits_3_when_none_runs(flow):
    """As `systemctl status`: 3 when no scheduler runs, 0 when one does
    (text and --json alike); `scheduler -D` is Airflow's way to start one."""
    flow.write_dag("etl.py", DAG)
    res = flow("scheduler", "status")
    assert res.code == 3 and "not running" in res.out
    assert flow("scheduler", "status", "--json").code == 3
    started = flow("scheduler", "-D", timeout=60)
    assert started.code == 0, started.err
    try:
        wait_for("the scheduler to report running", lambda: flow("scheduler", "status").code == 0)
        res = flow("scheduler", "status", "--json")
        assert res.code == 0 and res.json()["running"] is True
    finally:
        assert flow("scheduler", "stop", "--timeout", "30", timeout=60).code == 0
    assert flow("scheduler", "status").code == 3


HEAVY = ("textual", "jinja2", "pendulum", "tinydb", "croniter", "filelock", "pydantic", "markdown_it", "dask",
         "distributed")


@pytest.mark.parametrize("args", [None, ["--help"], ["run", "--help"], ["--version"]])
def test_start_up_imports_nothing_heavy(flow, args):
    """`import flowctl.cli`, and the help pages drawn from it, load none of the
    modules that cost start-up time (the help budget is 0.25 s: bench/bench_startup.py)."""
    import subprocess
    import sys

    code = "import sys\nimport flowctl.cli\n"
    if args is not None:
        code += f"try:\n    flowctl.cli.main({args!r})\nexcept SystemExit:\n    pass\n"  # argv given: it returns
    code += f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})), file=sys.stderr)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=flow.env,
                          cwd=flow.root, timeout=60)
    assert proc.stderr.strip().splitlines()[-1] == "[]", proc.stderr
