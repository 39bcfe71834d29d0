"""What a DAG file can do wrong, and what flowctl then says (issue: trust).
Each through the real `flowctl` command in a temporary home."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.timeout(120)

GOOD = """
from flowctl import DAG, EmptyOperator
with DAG("good", schedule=None) as dag:
    EmptyOperator(task_id="a")
"""


def errors_by_file(flow, env=None) -> dict[str, str]:
    res = flow("dags", "errors", "--json", env=env)
    return {e["fileloc"].rsplit("/", 1)[-1]: e["error"] for e in res.json()}


@pytest.mark.parametrize(
    "schedule, words",
    [
        pytest.param('"61 * * * *"', "invalid schedule '61 * * * *'", id="cron-out-of-range"),
        pytest.param('"@fortnightly"', "invalid schedule '@fortnightly': unknown preset", id="unknown-preset"),
        pytest.param("timedelta(0)", "a timedelta must be positive", id="zero-timedelta"),
        pytest.param("timedelta(minutes=-5)", "a timedelta must be positive", id="negative-timedelta"),
        pytest.param("[1, 2]", "invalid schedule [1, 2]", id="wrong-type"),
    ],
)
def test_an_invalid_schedule_is_an_import_error_naming_file_and_schedule(flow, schedule, words):
    """An unrunnable schedule is an import error (with the line), not a DAG that fails later."""
    flow.write_dag("bad_schedule.py", f"""
        import pendulum
        from datetime import timedelta
        from flowctl import DAG
        DAG("sched", schedule={schedule}, start_date=pendulum.datetime(2026, 1, 1))
    """)
    flow.write_dag("good.py", GOOD)
    errors = errors_by_file(flow)
    assert list(errors) == ["bad_schedule.py"]
    assert words in errors["bad_schedule.py"] and errors["bad_schedule.py"].endswith("(line 5)")
    assert [d["dag_id"] for d in flow("dags", "list", "--json").json()] == ["good"]
    nxt = flow("dags", "next", "sched")
    assert nxt.code == 1 and "internal error" not in nxt.err


def test_a_hanging_file_costs_its_timeout_once(flow):
    """The outcome of a file, a time-out too, is cached by content: the second command does
    not wait again. A command waiting on a slow file says so once on stderr."""
    flow.write_dag("hang.py", "import time  # a dag that hangs\ntime.sleep(60)\n")
    flow.write_dag("good.py", GOOD)
    env = {"FLOWCTL_DAG_FILE_TIMEOUT": "7"}
    t0 = time.monotonic()
    first = flow("dags", "list", "--json", env=env)
    assert time.monotonic() - t0 >= 6.5
    assert [d["dag_id"] for d in first.json()] == ["good"]
    assert first.err.count("importing hang.py: 5 s ...") == 1
    t0 = time.monotonic()
    second = flow("run", "good", env=env)
    assert second.code == 0 and time.monotonic() - t0 < 6
    assert "importing" not in second.err
    assert "timed out after 7 s" in errors_by_file(flow, env)["hang.py"]
    flow.write_dag("hang.py", "# a dag, fixed\n")
    assert errors_by_file(flow, env) == {}


def test_two_files_with_one_dag_id_are_both_errors(flow):
    """Neither file wins silently: each gets an import error naming both, and the DAG is not loaded."""
    for name in ("a_first.py", "b_second.py"):
        flow.write_dag(name, 'from flowctl import DAG\nDAG("same", schedule=None)\n')
    errors = errors_by_file(flow)
    assert set(errors) == {"a_first.py", "b_second.py"}
    for error in errors.values():
        assert "DAG id 'same' is defined in several files" in error
        assert "a_first.py" in error and "b_second.py" in error
    assert flow("dags", "list", "--json").json() == []
    res = flow("run", "same")  # asking for it by name says why it is not there
    assert res.code != 0 and "no DAG named 'same'" in res.err and "defined in several files" in res.err


def test_syntax_and_cycle_errors_name_their_line_once(flow):
    """A syntax error reads "SyntaxError: ... (line 3)", once; a cycle names the line of the edge closing it."""
    flow.write_dag("syntax.py", "from flowctl import DAG\n\nx = (\n")
    flow.write_dag("cycle.py", """
        from flowctl import DAG, EmptyOperator
        with DAG("cyc", schedule=None):
            a = EmptyOperator(task_id="a")
            b = EmptyOperator(task_id="b")
            a >> b
            b >> a
    """)
    errors = errors_by_file(flow)
    assert errors["syntax.py"] == "SyntaxError: '(' was never closed (line 3)"
    assert errors["cycle.py"] == "DAG 'cyc' has a cycle: a -> b -> a (line 7)"


def test_a_module_that_is_not_installed_says_how_to_install_it(flow):
    """A DAG file is imported by flowctl's own Python: a well-known package missing there
    gets the pip command for that Python, by the index's name where it differs from the
    module's; another name gets it only as a maybe, beside where a module of one's own
    goes (a helper not on the path is no package); a missing submodule of a package that
    is there gets no such advice."""
    flow.write_dag("needs_pkg.py", "import flowctl_absent_pkg  # dag\n")
    flow.write_dag("needs_mysql.py", "import MySQLdb  # dag\n")
    flow.write_dag("needs_sub.py", "import json.absent_part  # dag\n")
    errors = errors_by_file(flow)
    assert errors["needs_pkg.py"].startswith("ModuleNotFoundError: No module named 'flowctl_absent_pkg' (line 1); ")
    assert " -m pip install flowctl_absent_pkg, if that is its name there); a module of yours belongs in the DAG " \
           "folder or plugins/" in errors["needs_pkg.py"]
    assert errors["needs_mysql.py"].endswith(" -m pip install mysqlclient")
    assert errors["needs_sub.py"] == "ModuleNotFoundError: No module named 'json.absent_part' (line 1)"


@pytest.mark.parametrize("value", ["0", "-1"])
def test_a_dag_file_timeout_that_is_not_positive_is_refused(flow, value):
    """FLOWCTL_DAG_FILE_TIMEOUT of 0 or less is a usage error: one line, exit 2."""
    flow.write_dag("good.py", GOOD)
    res = flow("dags", "list", env={"FLOWCTL_DAG_FILE_TIMEOUT": value})
    assert res.code == 2
    assert res.err.strip() == f"flowctl: dag_file_timeout must be more than 0 seconds, not '{value}' (FLOWCTL_DAG_FILE_TIMEOUT)"
    (flow.root / "flowctl.toml").write_text(f"dag_file_timeout = {value}\n")  # the same in the file: the file is named
    res = flow("dags", "list")
    assert res.code == 2 and f"(dag_file_timeout in {flow.root / 'flowctl.toml'})" in res.err, res.err


def test_a_huge_xcom_fails_the_task_with_one_line(flow):
    """A Bash task whose stdout is one 3 MB line fails, naming the size and the setting;
    no XCom is stored and the run file stays small."""
    flow.write_dag("big.py", """
        from flowctl import DAG, BashOperator
        with DAG("big", schedule=None) as dag:
            BashOperator(task_id="huge", bash_command="head -c 3000000 /dev/zero | tr '\\\\0' 'a'; echo")
            BashOperator(task_id="small", bash_command="echo ok")
    """)
    res = flow("run", "big", "--json")
    assert res.code == 1
    run_id = res.json()["run_id"]
    log = flow("logs", "big", run_id, "huge").out
    assert ("failed: XCom 'return_value' of task 'huge' is 3,000,002 bytes of JSON, over the limit of "
            "1,048,576 bytes (setting max_xcom_bytes / FLOWCTL_MAX_XCOM_BYTES)") in log
    assert [x["task_id"] for x in flow("xcom", "list", "big", run_id, "--json").json()] == ["small"]
    assert sum(p.stat().st_size for p in (flow.home / "state").rglob("*") if p.is_file()) < 200_000
    res = flow("run", "big", "--json", env={"FLOWCTL_MAX_XCOM_BYTES": "4000000"})
    assert {t["task_id"]: t["state"] for t in res.json()["tasks"]}["huge"] == "success"


def test_tasks_test_before_any_run_explains_a_missing_upstream_value(flow):
    """`tasks test` of a task whose upstream value is not stored: one clear line, no traceback."""
    flow.write_dag("tf.py", """
        from flowctl import DAG, task
        with DAG("tf", schedule=None) as dag:
            @task
            def extract():
                return [1, 2]

            @task
            def total(rows):
                return sum(rows)

            total(extract())
    """)
    res = flow("tasks", "test", "tf", "total")
    assert res.code == 1
    assert "Traceback" not in res.out + res.err and "TypeError" not in res.out
    assert "the value of upstream task 'extract' (XCom 'return_value') is not there" in res.out


def test_a_dag_file_that_reads_a_variable_is_read_again_when_it_changes(flow):
    """`Variable.get` at the top of a DAG file: its import error while the Variable is
    missing, and the tasks it makes from the value, follow `variables set` (the cached
    import of the unchanged file kept the old answer until the cache was deleted)."""
    flow.write_dag("v.py", """
        import pendulum
        from airflow import DAG
        from airflow.models import Variable
        from airflow.operators.empty import EmptyOperator
        cfg = Variable.get("cfg", deserialize_json=True)
        with DAG("vdag", start_date=pendulum.datetime(2026, 1, 1), schedule=None):
            for name in cfg["tasks"]:
                EmptyOperator(task_id=name)
    """)
    assert "Variable cfg does not exist" in errors_by_file(flow)["v.py"]
    assert flow("variables", "set", "cfg", '{"tasks": ["a", "b"]}', "-j").code == 0
    assert errors_by_file(flow) == {}
    assert sorted(t["task_id"] for t in flow("tasks", "list", "vdag", "--json").json()) == ["a", "b"]
    assert flow("variables", "set", "cfg", '{"tasks": ["a", "b", "c"]}', "-j").code == 0
    assert sorted(t["task_id"] for t in flow("tasks", "list", "vdag", "--json").json()) == ["a", "b", "c"]
