"""Dynamic task mapping under the real `flowctl run`: each instance is its own
process with its element, its own log and XCom; a bad expand input fails the
task with one line; clearing a mapped task expands it anew."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.timeout(120)

DAG_FILE = """
from datetime import datetime
from airflow.decorators import dag, task
from airflow.operators.bash import BashOperator
from airflow.operators.python import get_current_context


@dag(start_date=datetime(2024, 1, 1), schedule=None)
def files():
    @task
    def list_files():
        return {"a.csv": 10, "b.csv": 20}

    @task(map_index_template="{{ name }}")
    def load(pair, factor):
        name, rows = pair
        context = get_current_context()
        context["name"] = name
        print(f"loading {name} as instance {context['ti'].map_index}")
        return rows * factor

    @task
    def report(counts):
        print(f"loaded {sum(counts)} rows")
        return sorted(counts)

    loaded = load.partial(factor=2).expand(pair=list_files())
    report(loaded)
    BashOperator.partial(task_id="shout").expand(bash_command=list_files().map(lambda kv: f"echo {kv[0].upper()}"))


files()
"""

BAD_FILE = """
from datetime import datetime
from airflow.decorators import dag, task


@dag(start_date=datetime(2024, 1, 1), schedule=None)
def bad_input():
    @task
    def count():
        return 3

    @task
    def each(x):
        return x

    each.expand(x=count())


bad_input()
"""


def states(doc: dict) -> dict[str, str]:
    return {t["task_id"] + (f"[{t['map_index']}]" if t["map_index"] >= 0 else ""): t["state"] for t in doc["tasks"]}


def test_each_instance_runs_in_its_own_process_with_its_element(flow):
    flow.write_dag("files.py", DAG_FILE)
    res = flow("run", "files", "--json")
    assert res.code == 0, res.err
    doc = res.json()
    assert states(doc) == {"list_files": "success", "load[0]": "success", "load[1]": "success",
                           "report": "success", "shout[0]": "success", "shout[1]": "success",
                           "list_files__1": "success"}
    run_id = doc["run_id"]
    rows = flow("tasks", "states", "files", run_id, "--json").json()
    named = {r.get("rendered_map_index") for r in rows if r["task_id"] == "load"}
    assert named == {"a.csv", "b.csv"}  # map_index_template, rendered after the try ran
    log = flow("logs", "files", run_id, "load", "--map-index", "1").out
    assert "loading b.csv as instance 1" in log
    values = {(x["task_id"], x["map_index"]): x["value"] for x in flow("xcom", "list", "files", run_id, "--json").json()}
    assert values[("load", 0)] == 20 and values[("load", 1)] == 40 and values[("report", -1)] == [20, 40]
    assert "B.CSV" in flow("logs", "files", run_id, "shout", "--map-index", "1").out
    table = flow("tasks", "states", "files", run_id).out
    assert "load[a.csv]" in table and "shout[0]" in table


def test_an_input_that_is_not_a_list_fails_the_task_with_one_line(flow):
    flow.write_dag("bad.py", BAD_FILE)
    res = flow("run", "bad_input")
    assert res.code == 1
    assert "each  failed: cannot map over the value of 'count' (XCom 'return_value'): it is of type int" in res.out
    assert "Traceback" not in res.out + res.err


def test_clearing_a_mapped_task_runs_it_again_over_the_new_input(flow):
    flow.write_dag("files.py", DAG_FILE)
    run_id = flow("run", "files", "--json").json()["run_id"]
    flow.write_dag("files.py", DAG_FILE.replace('{"a.csv": 10, "b.csv": 20}', '{"a.csv": 10, "b.csv": 20, "c.csv": 5}'))
    res = flow("tasks", "clear", "files", "--task", "^list_files$", "--downstream", "--yes")
    assert res.code == 0, res.err
    assert flow("scheduler", "--until-idle").code == 0
    doc = flow("tasks", "states", "files", run_id, "--json").json()
    assert sorted(r["map_index"] for r in doc if r["task_id"] == "load") == [0, 1, 2]
    assert all(r["state"] == "success" for r in doc)
    values = {(x["task_id"], x["map_index"]): x["value"] for x in flow("xcom", "list", "files", run_id, "--json").json()}
    assert values[("report", -1)] == [10, 20, 40]


def test_one_instance_is_marked_cleared_and_explained_on_its_own(flow):
    flow.write_dag("files.py", DAG_FILE)
    run_id = flow("run", "files", "--json").json()["run_id"]
    res = flow("tasks", "mark", "files", run_id, "load", "--map-index", "1", "--state", "failed", "--json")
    assert res.code == 0 and res.json()["marked"] == ["load[1]"]
    rows = {(r["task_id"], r["map_index"]): r for r in flow("explain", "files", run_id, "--json").json()["tasks"]}
    assert rows[("load", -1)]["reason"] == "mapped into 2 instance(s): 1 failed, 1 success"
    assert rows[("load", 1)]["state"] == "failed" and rows[("load", 0)]["state"] == "success"
    plan = flow("clear", "files", "-t", "^load$", "--map-index", "1", "--dry-run", "--json").json()["task_instances"]
    assert [(p["task_id"], p.get("map_index")) for p in plan] == [("load", 1)]
    assert flow("clear", "files", "-t", "^load$", "--map-index", "1", "-d", "-y").code == 0
    doc = flow("tasks", "states", "files", run_id, "--json").json()
    states = {(r["task_id"], r["map_index"]): (r["state"], r["try_number"]) for r in doc}
    assert states[("load", 0)] == ("success", 1) and states[("load", 1)] == ("none", 1)
    assert states[("report", -1)][0] == "none"  # --downstream takes the task below, whole
    assert flow("scheduler", "--until-idle").code == 0
    doc = flow("tasks", "states", "files", run_id, "--json").json()
    states = {(r["task_id"], r["map_index"]): (r["state"], r["try_number"]) for r in doc}
    assert states[("load", 1)] == ("success", 2) and states[("load", 0)] == ("success", 1)
    missing = flow("tasks", "mark", "files", run_id, "load", "--map-index", "7", "--state", "failed")
    assert missing.code != 0 and "has no instance 7 (it has 0..1)" in missing.err


def test_a_reducer_of_instances_that_returned_nothing_gets_an_empty_list(flow):
    flow.write_dag("quiet.py", """
from datetime import datetime
from airflow.decorators import dag, task


@dag(start_date=datetime(2024, 1, 1), schedule=None)
def quiet():
    @task
    def each(x):
        print(f"got {x}")

    @task
    def count(values):
        return len(list(values))

    count(each.expand(x=[1, 2, 3]))


quiet()
""")
    res = flow("run", "quiet", "--json")
    assert res.code == 0, res.out + res.err
    values = {(x["task_id"], x["map_index"]): x["value"]
              for x in flow("xcom", "list", "quiet", res.json()["run_id"], "--json").json()}
    assert values == {("count", -1): 0}
