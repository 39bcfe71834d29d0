"""Bad input: one clear line on stderr, the right exit code, no traceback, no state change."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.timeout(60)

DAG = """
from flowctl import DAG, BashOperator
with DAG("ok", schedule=None) as dag:
    BashOperator(task_id="t", bash_command="echo hi")
"""


@pytest.fixture
def seeded(flow):
    flow.write_dag("ok.py", DAG)
    assert flow("run", "ok").code == 0
    return flow


@pytest.mark.parametrize(
    "args, code, words",
    [
        pytest.param(["run", "nope"], 1, "no DAG named 'nope'", id="unknown-dag"),
        pytest.param(["tasks", "list", "nope"], 1, "no DAG named 'nope'", id="unknown-dag-tasks"),
        pytest.param(["run", "ok", "--conf", "{bad"], 2, "--conf is not valid JSON", id="bad-conf"),
        pytest.param(["run", "ok", "--conf", "[1]"], 2, "JSON object", id="conf-not-object"),
        pytest.param(["run", "ok", "--logical-date", "2026-13-45"], 2, "not a date", id="bad-date"),
        pytest.param(["tasks", "states", "ok", "no-such-run"], 1, "has no run", id="unknown-run"),
        pytest.param(["logs", "ok", "no-such-run", "t"], 1, "has no run", id="unknown-run-logs"),
        pytest.param(["tasks", "test", "ok", "nope"], 1, "no task 'nope'", id="unknown-task"),
        pytest.param(["runs", "list", "--state", "weird"], 2, "weird", id="bad-state"),
        pytest.param(["--workers", "0", "dags", "list"], 2, "workers must be at least 1", id="zero-workers"),
    ],
)
def test_refused_commands_say_one_line_and_change_nothing(seeded, args, code, words):
    """Each refusal: the documented exit code, the reason on stderr, no traceback, state untouched."""
    before = seeded.state_files()
    res = seeded(*args)
    assert res.code == code, (res.out, res.err)
    assert words in res.err
    assert "Traceback" not in res.err + res.out
    assert seeded.state_files() == before


def test_debug_shows_the_traceback(flow):
    """--debug is the way to see where an error came from."""
    res = flow("--debug", "run", "nope")
    assert res.code != 0
    assert "Traceback" in res.err


def test_version_and_module_entry(flow):
    """`python -m flowctl --version` prints the version."""
    res = flow("--version")
    assert res.code == 0 and res.out.startswith("flowctl ")


def test_a_bad_setting_is_named_where_it_was_set(flow):
    """A bad number in the environment or in flowctl.toml: one line naming that
    setting and where it came from, not another setting."""
    res = flow("dags", "list", env={"FLOWCTL_WORKERS": "abc"})
    assert res.code == 2 and res.err.count("\n") == 1, res.err
    assert "workers must be a whole number, not 'abc' (FLOWCTL_WORKERS)" in res.err
    assert "dag_file_timeout" not in res.err
    flow.write_dag("one.py", """
        from flowctl import DAG, BashOperator
        with DAG("one", schedule=None):
            BashOperator(task_id="a", bash_command="echo a")
    """)
    (flow.root / "flowctl.toml").write_text('max_xcom_bytes = "lots"\n')
    res = flow("run", "one")
    assert res.code == 2 and res.err.count("\n") == 1, res.err
    assert f"max_xcom_bytes must be a whole number, not 'lots' (max_xcom_bytes in {flow.root / 'flowctl.toml'})" \
        in res.err, res.err


def test_an_option_of_flowctl_after_the_command_says_where_it_goes(flow):
    """`flowctl runs list --home X`: one line saying --home goes before the command."""
    res = flow("runs", "list", "--home", "elsewhere")
    assert res.code == 2 and res.err.count("\n") == 1, res.err
    assert "`flowctl runs list` has no option --home: it is an option of flowctl itself and goes before the " \
           "command (`flowctl --home ... runs list ...`)" in res.err, res.err


def test_an_export_to_a_full_device_names_that_file(flow):
    """`variables export /dev/full`: the line names the file written, not the home."""
    assert flow("variables", "set", "k", "v").code == 0
    res = flow("variables", "export", "/dev/full")
    assert res.code == 1 and res.err.count("\n") == 1, res.err
    assert "no space left on the device holding /dev/full" in res.err, res.err
