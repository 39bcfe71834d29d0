"""dagrun_timeout through the real command: the run fails when it passes, its
running try is killed, the rest is skipped (Airflow's rule), and the reason is
in the run's failure notice, in `explain` and in what `run` prints."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.timeout(120)

DAG = """
import pendulum
from datetime import timedelta
from flowctl import DAG, BashOperator
with DAG("timed", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
         dagrun_timeout=timedelta(seconds=2)) as dag:
    BashOperator(task_id="slow", bash_command="sleep 60") >> BashOperator(task_id="after", bash_command="true")
"""


def test_a_run_past_its_dagrun_timeout_fails_and_says_why(flow):
    flow.write_dag("timed.py", DAG)
    notices = flow.root / "notices.txt"
    env = {"FLOWCTL_NOTIFY_COMMAND": f'echo "$FLOWCTL_EVENT|$FLOWCTL_MESSAGE" >> {notices}'}
    t0 = time.monotonic()
    res = flow("run", "timed", env=env)
    assert res.code == 1 and time.monotonic() - t0 < 30
    assert "failed" in res.out and "the run timed out: dagrun_timeout of 2 s passed since it started" in res.out
    states = {t["task_id"]: t["state"] for t in flow("tasks", "states", "timed",
                                                      flow("runs", "list", "--json").json()[0]["run_id"],
                                                      "--json").json()}
    assert states == {"slow": "skipped", "after": "skipped"}
    run_id = flow("runs", "list", "--json").json()[0]["run_id"]
    explained = flow("explain", "timed", run_id, "--json").json()
    assert explained["run_state"] == "failed"
    assert any("the run timed out: dagrun_timeout of 2 s" in note for note in explained["notes"])
    assert all(t["reason"].startswith("the run timed out") for t in explained["tasks"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (notices.exists() and "run_failed" in notices.read_text()):
        time.sleep(0.1)
    text = notices.read_text()
    assert f"run_failed|timed run {run_id} failed: the run timed out: dagrun_timeout of 2 s" in text
    assert text.rstrip().endswith("; killed slow")
    assert "dagrun_timeout" not in flow("dags", "warnings").out  # acted on, no longer a warning
