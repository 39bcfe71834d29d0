"""Loading the DAG folder: isolation, import errors, time limits, the cache."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.timeout(90)

GOOD = """
from flowctl import DAG, EmptyOperator
with DAG("good", schedule="@daily", start_date=__import__("pendulum").datetime(2026, 1, 1)) as dag:
    EmptyOperator(task_id="a") >> EmptyOperator(task_id="b")
"""


def test_broken_files_are_import_errors_and_the_rest_loads(flow):
    """A raising file, a cycle, a duplicate id and a hanging file each become an
    import error naming the file and the problem; the good DAG still loads."""
    flow.write_dag("good.py", GOOD)
    flow.write_dag("raises.py", "x = 1  # dag\nraise ValueError('bad config')\n")
    flow.write_dag("cycle.py", """
        from flowctl import DAG, EmptyOperator
        with DAG("cyclic", schedule=None) as dag:
            a = EmptyOperator(task_id="a"); b = EmptyOperator(task_id="b"); c = EmptyOperator(task_id="c")
            a >> b >> c >> a
    """)
    flow.write_dag("dup.py", """
        from flowctl import DAG, EmptyOperator
        with DAG("dup", schedule=None) as dag:
            EmptyOperator(task_id="same"); EmptyOperator(task_id="same")
    """)
    flow.write_dag("hangs.py", "import time  # dag\ntime.sleep(60)\n")
    flow.write_dag("_helper.py", "raise SystemExit('never imported')\n")
    env = {"FLOWCTL_DAG_FILE_TIMEOUT": "2"}
    t0 = time.monotonic()
    res = flow("dags", "errors", "--json", env=env)
    assert time.monotonic() - t0 < 20
    assert res.code == 1
    errors = {e["fileloc"].rsplit("/", 1)[-1]: e["error"] for e in res.json()}
    assert set(errors) == {"raises.py", "cycle.py", "dup.py", "hangs.py"}
    assert "ValueError: bad config (line 2)" in errors["raises.py"]
    assert "cycle" in errors["cycle.py"] and "a -> b -> c -> a" in errors["cycle.py"]
    assert "duplicate task id 'same'" in errors["dup.py"]
    assert "timed out after 2 s" in errors["hangs.py"]
    dags = flow("dags", "list", "--json", env=env).json()
    assert [d["dag_id"] for d in dags] == ["good"]
    assert dags[0]["tasks"] == ["a", "b"]
    assert dags[0]["schedule"] == "@daily"
    assert dags[0]["timezone"] == "UTC"


def test_no_errors_exit_zero(flow):
    """`dags errors` exits 0 when every file imports."""
    flow.write_dag("good.py", GOOD)
    assert flow("dags", "errors").code == 0


def test_an_edited_file_is_read_again(flow):
    """The cache is keyed by content: an edit shows up at once."""
    flow.write_dag("good.py", GOOD)
    assert flow("tasks", "list", "good", "--json").json()[0]["task_id"] == "a"
    flow.write_dag("good.py", GOOD.replace('task_id="a"', 'task_id="start"'))
    assert [t["task_id"] for t in flow("tasks", "list", "good", "--json").json()] == ["start", "b"]


USES_HELPER = """
import pendulum
from flowctl import DAG, EmptyOperator
from common.helpers import TASKS
with DAG("helped", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
    for t in TASKS:
        EmptyOperator(task_id=t)
"""


def test_a_changed_helper_module_is_a_changed_dag(flow):
    """A module the DAG file imports from the DAG folder is part of it: a change
    there is seen at once, and so is the fix of a helper that broke the import."""
    (flow.dags / "common").mkdir()
    flow.write_dag("common/__init__.py", "")
    flow.write_dag("common/helpers.py", 'TASKS = ["one"]')
    flow.write_dag("helped.py", USES_HELPER)

    def tasks() -> list[str]:
        return sorted(t["task_id"] for t in flow("tasks", "list", "helped", "--json").json())

    assert tasks() == ["one"]
    flow.write_dag("common/helpers.py", 'TASKS = ["one", "two"]')
    assert tasks() == ["one", "two"]
    flow.write_dag("common/helpers.py", "TASKS = [")
    assert "was never closed" in flow("dags", "errors").out
    flow.write_dag("common/helpers.py", 'TASKS = ["three"]')
    assert tasks() == ["three"]


def test_dags_show_draws_the_graph(flow):
    """`dags show` prints every task and the fan-in."""
    flow.write_dag("good.py", GOOD)
    res = flow("dags", "show", "good")
    assert res.code == 0 and "a" in res.out and "b" in res.out and "@daily" in res.out
