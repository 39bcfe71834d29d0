"""Catch-up after downtime: one summary of what was missed, created and skipped."""

from __future__ import annotations

import json

import pendulum
import pytest

pytestmark = pytest.mark.timeout(60)

DAGS = """
import pendulum
from flowctl import DAG, EmptyOperator
start = pendulum.now("UTC").start_of("day").subtract(days=5)
with DAG("eager", schedule="@daily", start_date=start, catchup=True) as a:
    EmptyOperator(task_id="t")
with DAG("latest_only", schedule="@daily", start_date=start, catchup=CATCHUP) as b:
    EmptyOperator(task_id="t")
"""


def test_a_scheduler_down_for_days_writes_one_summary(flow):
    """Down for three days: the catchup=True DAG gets each missed day, the
    catchup=False DAG only the latest, and the log says so once."""
    flow.write_dag("d.py", DAGS.replace("CATCHUP", "True"))  # a history for both DAGs
    assert flow("scheduler", "--until-idle").code == 0
    runs = flow("runs", "list", "--json").json()
    assert len([r for r in runs if r["dag_id"] == "eager"]) == 5
    flow.write_dag("d.py", DAGS.replace("CATCHUP", "False"))
    # pretend the last runs never happened and the scheduler has been off for 3 days
    state = flow.home / "state" / "runs"
    three_days_ago = pendulum.now("UTC").start_of("day").subtract(days=3)
    for dag in ("eager", "latest_only"):
        for path in (state / dag).glob("scheduled__*.json"):
            if pendulum.parse(path.name[len("scheduled__"):-5]) >= three_days_ago:
                path.unlink()
    status = flow.home / "scheduler.json"
    doc = json.loads(status.read_text())
    doc["heartbeat"] = pendulum.now("UTC").subtract(days=3, hours=1).isoformat()
    status.write_text(json.dumps(doc))
    res = flow("scheduler", "--until-idle")
    assert res.code == 0, res.err
    summaries = [line for line in res.out.splitlines() if "catch-up:" in line]
    assert len(summaries) == 1 and "was down for 3d" in summaries[0]
    block = res.out[res.out.index("catch-up:"):]
    assert "eager: 3 interval(s) missed; created" in block
    assert "latest_only: 3 interval(s) missed; created" in block and "skipped by catchup=False" in block
    runs = flow("runs", "list", "--json").json()
    assert len([r for r in runs if r["dag_id"] == "eager"]) == 5
    assert len([r for r in runs if r["dag_id"] == "latest_only"]) == 3
    assert all(r["state"] == "success" for r in runs)


def test_no_summary_without_downtime(flow):
    """A scheduler started right after the last one says nothing about catching up."""
    flow.write_dag("d.py", DAGS.replace("CATCHUP", "False"))
    assert flow("scheduler", "--until-idle").code == 0
    res = flow("scheduler", "--until-idle")
    assert "catch-up:" not in res.out
