"""More bad input, and commands that must work as their help says: a refusal
is one `flowctl: ` line on stderr with exit 2 (never `internal error`), and
every help example runs as written against the sample DAGs."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(240)

SAMPLE_DAGS = Path(__file__).resolve().parents[2] / "sample_dags"

AMSTERDAM = """
import pendulum
from flowctl import DAG, BashOperator
with DAG("ams", schedule="@daily", start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Amsterdam"),
         catchup=False) as dag:
    BashOperator(task_id="t", bash_command="echo hi")
"""


def nested(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


@pytest.fixture
def ams(flow):
    flow.write_dag("ams.py", AMSTERDAM)
    assert flow("run", "ams", "--logical-date", "2026-01-05").code == 0
    return flow


def one_line_refusal(res) -> None:
    assert res.code == 2, (res.out, res.err)
    assert res.err.startswith("flowctl: ") and res.err.count("\n") == 1, res.err
    assert "internal error" not in res.err and "Traceback" not in res.err + res.out


@pytest.mark.parametrize(
    "args, words",
    [
        pytest.param(["trigger", "ams", "--logical-date", "0001-01-01"], "edge of the calendar", id="trigger-year-1"),
        pytest.param(["dags", "next", "ams", "--after", "0001-01-01"], "edge of the calendar", id="next-year-1"),
        pytest.param(["tasks", "test", "ams", "t", "--logical-date", "0001-01-01"], "edge of the calendar",
                     id="tasks-test-year-1"),
        pytest.param(["backfill", "ams", "-s", "0001-01-01", "-e", "0001-01-02"], "edge of the calendar",
                     id="backfill-year-1"),
        pytest.param(["clear", "ams", "-s", "0001-01-01", "--dry-run"], "edge of the calendar", id="clear-year-1"),
        pytest.param(["trigger", "ams", "--logical-date", "9999-12-31"], "edge of the calendar", id="trigger-year-9999"),
        pytest.param(["run", "ams", "--logical-date", "9999-12-31"], "edge of the calendar", id="run-year-9999"),
        pytest.param(["trigger", "ams", "--logical-date", "2026-01-01T00:00+25:00"], "offset", id="offset-25h"),
        pytest.param(["trigger", "ams", "--logical-date", ""], "not a date: ''", id="empty-date"),
        pytest.param(["run", "ams", "--logical-date", ""], "not a date: ''", id="empty-date-run"),
        pytest.param(["clear", "ams", "-s", "", "--dry-run"], "not a date: ''", id="empty-start"),
        pytest.param(["trigger", "ams", "--conf", nested(1000)], "nested too deeply", id="conf-1000-deep"),
        pytest.param(["trigger", "ams", "--conf", nested(300)], "nested too deeply", id="conf-300-deep"),
        pytest.param(["trigger", "ams", "--conf", '{"k": "\\ud800"}'], "surrogate", id="conf-surrogate"),
        pytest.param(["trigger", "ams", "--conf", '{"a": NaN}'], "NaN is not a JSON value", id="conf-nan"),
        pytest.param(["trigger", "ams", "--conf", '{"a": [-Infinity]}'], "Infinity is not a JSON value",
                     id="conf-infinity"),
    ],
)
def test_bad_dates_and_conf_are_usage_errors(ams, args, words):
    """Dates out of the calendar's reach, impossible offsets, an empty date and
    conf that is not storable JSON: exit 2, one line, nothing stored."""
    before = ams.state_files()
    res = ams(*args)
    one_line_refusal(res)
    assert words in res.err
    assert ams.state_files() == before


def test_conf_within_the_nesting_limit_is_stored(ams):
    """The limit refuses only what the store cannot write: 100 levels are kept as given."""
    res = ams("trigger", "ams", "--conf", nested(99), "--logical-date", "2026-02-01", "--json")
    assert res.code == 0, res.err
    assert res.json()["conf"] == json.loads(nested(99))


def test_now_gets_no_daylight_saving_note(ams):
    """`now` is no wall-clock time, so no note that it is skipped or repeated;
    a time the zone really skips still gets one."""
    res = ams("trigger", "ams", "--logical-date", "now")
    assert res.code == 0, res.err
    assert "note:" not in res.err
    res = ams("trigger", "ams", "--logical-date", "2026-03-29 02:30")
    assert res.code == 0, res.err
    assert "does not exist in Europe/Amsterdam" in res.err


def test_pool_without_a_limit_takes_minus_one(flow):
    """`pools set NAME -1` is the documented "no limit", not an unknown option;
    other words that start with `-` are still options."""
    res = flow("pools", "set", "p", "-1", "--json")
    assert res.code == 0, res.err
    assert res.json()["slots"] == -1
    assert flow("pools", "get", "p", "--json").json()["slots"] == -1
    res = flow("pools", "set", "p", "-2")
    one_line_refusal(res)
    assert "at least -1" in res.err
    res = flow("pools", "set", "p", "2", "--bogus")
    one_line_refusal(res)
    assert "no such option: --bogus" in res.err


def test_backfill_of_a_range_without_intervals_prints_json(ams):
    """With --json, a backfill that has nothing to run still prints its document:
    no runs, and the reason."""
    res = ams("backfill", "ams", "-s", "2025-10-10", "-e", "2025-10-12", "--json")
    assert res.code == 0, res.err
    doc = res.json()
    assert doc["dag_id"] == "ams" and doc["succeeded"] is True and doc["runs"] == []
    assert "start_date" in doc["reason"]


def example(flow, *command: str) -> list[str]:
    """The example of a command's --help, as the words after `flowctl`."""
    page = flow(*command, "--help").out
    found = re.search(r"Example: (.*)", page)
    assert found, page
    words = shlex.split(found.group(1))
    assert words[0] == "flowctl" and words[1:1 + len(command)] == list(command), words
    return words[1:]


def test_help_examples_work_against_the_sample_dag(flow):
    """The examples of run, trigger, explain and clear name tasks and params
    user_events_etl has, and run as written."""
    for path in SAMPLE_DAGS.glob("*.py"):
        shutil.copy(path, flow.dags / path.name)
    tasks = [t["task_id"] for t in flow("tasks", "list", "user_events_etl", "--json").json()]

    words = example(flow, "run")
    count = json.loads(words[words.index("--conf") + 1])["events_per_day"]
    res = flow(*words)
    assert res.code == 0, res.err
    assert f"wrote {count} events" in flow("logs", "user_events_etl", "2026-11-20", "extract").out

    words = example(flow, "explain")
    assert words[-1] in tasks
    res = flow(*words)
    assert res.code == 0, res.err

    res = flow(*example(flow, "trigger"))
    assert res.code == 0, res.err
    run_id = res.out.strip()
    assert flow("scheduler", "--until-idle", timeout=180).code == 0
    assert f"wrote {count} events" in flow("logs", "user_events_etl", run_id, "extract").out

    words = example(flow, "clear")
    regex = words[words.index("-t") + 1]
    assert any(re.search(regex, t) for t in tasks), (regex, tasks)
    res = flow(*words)
    assert res.code == 0, res.err


def test_xcom_list_of_a_missing_task_is_not_found(ams):
    """A task the run does not have is a missing thing: exit 1, naming it."""
    res = ams("xcom", "list", "ams", "2026-01-05", "--task", "nope")
    assert res.code == 1
    assert res.err.startswith("flowctl: ") and "no task 'nope'" in res.err
    assert ams("xcom", "list", "ams", "2026-01-05", "--task", "t").code == 0


def test_variables_export_dash_writes_stdout(flow):
    """`variables export -` prints the JSON, as Airflow does, and makes no file named `-`."""
    assert flow("variables", "set", "api_base", "https://api.example.com").code == 0
    res = flow("variables", "export", "-")
    assert res.code == 0, res.err
    assert res.json() == {"api_base": "https://api.example.com"}
    assert not (flow.root / "-").exists()


def test_variables_set_empty_key_is_a_usage_error(flow):
    """An empty key is a wrong command line (exit 2), not a failure."""
    one_line_refusal(flow("variables", "set", "", "v"))


def closed(flow, redirect: str, *args: str):
    """`flowctl ARGS` run with one of its standard streams closed (`<&-`, `>&-`, `2>&-`)."""
    import subprocess
    import sys

    script = f'exec "$0" -m flowctl "$@" {redirect}'
    proc = subprocess.run(["sh", "-c", script, sys.executable, *args], capture_output=True, text=True,
                          timeout=120, cwd=flow.root, env=flow.env)
    return proc.returncode, proc.stdout, proc.stderr


def test_closed_standard_streams_change_nothing_but_the_output(flow):
    """A closed stdin leaves every task's stdin a readable /dev/null (a Bash task that
    reads it failed with EBADF, and its log was empty); a closed stdout is output that
    could not be written (one line, exit 1), not a traceback; a closed stderr is not
    a failure; the TUI without a terminal to read says so."""
    flow.write_dag("reads.py", """
        import pendulum
        from flowctl import DAG, BashOperator
        with DAG("reads", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
            BashOperator(task_id="a", bash_command="read x; echo read=[$x]") >> BashOperator(task_id="b", bash_command="true")
    """)
    code, out, err = closed(flow, "<&-", "run", "reads")
    assert code == 0 and "succeeded" in out, (out, err)
    assert "read=[]" in flow("logs", "reads", flow("runs", "list", "--json").json()[0]["run_id"], "a").out
    code, out, err = closed(flow, ">&-", "runs", "list", "--json")
    assert code == 1 and err.strip().splitlines() == [
        "flowctl: could not write the output (the standard output is closed); it is incomplete, "
        "but the command itself ran to its end"], err
    assert closed(flow, "2>&-", "--version")[0] == 0
    code, _, err = closed(flow, "<&-", "clear", "reads")
    assert code == 2 and "--yes" in err and "Traceback" not in err
    code, _, err = closed(flow, "<&-", "tui")
    assert code == 2 and "flowctl tui --serve" in err


@pytest.mark.parametrize("args, env, words", [
    (["pools", "set", "p", "99999999999999999999999"], {}, "it must be at most 1000000"),
    (["connections", "get", "envc"], {"AIRFLOW_CONN_ENVC": "garbage!!"}, "AIRFLOW_CONN_ENVC is not a connection"),
    (["connections", "get", "envc"], {"AIRFLOW_CONN_ENVC": '{"conn_type":'}, "AIRFLOW_CONN_ENVC is not a connection"),
    (["scheduler", "--grace", "nan", "--until-idle"], {}, "--grace must be a number of seconds"),
    (["connections", "add", "", "--conn-uri", "http://h"], {}, "a connection id must be 1 to 250 characters"),
    (["variables", "set", "j", '{"a": NaN}', "-j"], {}, "NaN is not JSON"),
], ids=["pool-too-big", "env-conn-uri", "env-conn-json", "grace-nan", "conn-id-empty", "variable-nan"])
def test_more_careless_values_are_one_line_refusals(flow, args, env, words):
    """Each was `internal error` or accepted: now one `flowctl:` line naming the value, exit 2."""
    res = flow(*args, env=env)
    one_line_refusal(res)
    assert words in res.err, res.err


def test_listings_read_a_home_on_a_read_only_mount(flow):
    """`runs list` and `scheduler status` on a home they cannot write (a read-only mount,
    a backup) list and answer; they refused, unable to create the scheduler's lock."""
    import subprocess
    import sys

    flow.write_dag("ams.py", AMSTERDAM)
    assert flow("run", "ams", "--logical-date", "2026-01-05").code == 0
    assert flow("scheduler", "--until-idle").code == 0
    assert (flow.home / "scheduler.lock").exists()  # what a scheduler leaves: listings opened it to write
    home = shlex.quote(str(flow.home))
    script = (f"mount --bind {home} {home} && mount -o remount,bind,ro {home} && touch {home}/x 2>/dev/null; "
              f"test ! -e {home}/x || exit 99; "
              f"{shlex.quote(sys.executable)} -m flowctl runs list --json && "
              f"{shlex.quote(sys.executable)} -m flowctl scheduler status; echo status=$?")
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=60,
                          env=flow.env, cwd=flow.root)
    if proc.returncode == 99 or "unshare" in proc.stderr or "mount" in proc.stderr:
        pytest.skip(f"no read-only mount here: {proc.stderr.strip()[:200]}")
    assert json.loads(proc.stdout[:proc.stdout.rindex("]") + 1])[0]["dag_id"] == "ams", proc.stderr
    assert proc.stdout.rstrip().endswith("status=3"), proc.stdout + proc.stderr


def test_a_backfill_into_intervals_not_ended_says_so(ams):
    """A backfill whose range reaches intervals that have not ended plans them (the
    contract's range) and notes on stderr that their data is not all there yet."""
    import pendulum

    for _ in range(2):  # once more if Amsterdam's midnight passed while it ran
        today = pendulum.now("Europe/Amsterdam").start_of("day")
        res = ams("backfill", "ams", "--start", today.subtract(days=2).to_date_string(),
                  "--end", today.add(days=2).to_date_string(), "--dry-run", "--json")
        if pendulum.now("Europe/Amsterdam").start_of("day") == today:
            break
    assert res.code == 0 and len(res.json()["intervals"]) == 5, res.err
    assert f"note: 3 intervals from {today.to_date_string()} 00:00 on have not ended yet" in res.err, res.err
    past = ams("backfill", "ams", "--start", "2026-01-01", "--end", "2026-01-03", "--dry-run", "--json")
    assert past.code == 0 and past.err == ""
