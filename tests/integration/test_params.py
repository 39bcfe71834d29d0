"""Params through the real command: a `--conf` that breaks a Param is refused
when the run would be made (run, trigger, dags trigger), exit 2, one line
naming the param and the rule, nothing written; backfills and scheduled runs
take the defaults, and a default its own schema refuses makes no run."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.timeout(120)

DAG = """
import pendulum
from flowctl import DAG, BashOperator, Param
with DAG("reports", schedule={schedule}, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False,
         params={{"limit": Param({default}, type="integer", minimum=1, maximum=100, description="rows"),
                 "region": Param("eu", enum=["eu", "us"])}}):
    BashOperator(task_id="report", bash_command="echo limit={{{{ params.limit }}}} region={{{{ params.region }}}}")
"""


@pytest.mark.parametrize("command", [["run"], ["trigger"], ["dags", "trigger"]])
def test_a_conf_that_breaks_a_param_is_refused_and_nothing_is_written(flow, command):
    flow.write_dag("reports.py", DAG.format(schedule=None, default=10))
    before = flow.state_files()
    res = flow(*command, "reports", "--conf", '{"limit": 0}')
    assert res.code == 2 and res.out == ""
    assert res.err.strip() == ("flowctl: reports: param 'limit' = 0 is refused: 0 is less than the minimum of 1 "
                               "(rule: minimum); no run was made")
    res = flow(*command, "reports", "--conf", '{"region": "mars"}')
    assert res.code == 2 and "param 'region' = \"mars\" is refused" in res.err and "(rule: enum)" in res.err
    assert flow.state_files() == before


def test_a_valid_conf_reaches_the_task_and_the_defaults_fill_the_rest(flow):
    flow.write_dag("reports.py", DAG.format(schedule=None, default=10))
    res = flow("run", "reports", "--conf", '{"limit": 42}', "--json")
    assert res.code == 0, res.err
    run_id = res.json()["run_id"]
    assert "limit=42 region=eu" in flow("logs", "reports", run_id, "report").out


def test_a_default_its_schema_refuses_makes_no_run(flow):
    """Airflow refuses to create a run whose params do not validate: backfill says so
    (exit 2); the scheduler logs it and creates nothing."""
    flow.write_dag("reports.py", DAG.format(schedule='"@daily"', default=0))
    res = flow("backfill", "reports", "--start", "2026-01-01", "--end", "2026-01-02")
    assert res.code == 2 and "param 'limit' = 0 is refused" in res.err
    res = flow("scheduler", "--until-idle")
    assert res.code == 0
    assert "schedule error: reports: param 'limit' = 0 is refused" in res.out + res.err
    assert flow("runs", "list", "--json").json() == []
    assert flow("run", "reports", "--conf", '{"limit": 5}').code == 0  # a conf that fixes it is fine
