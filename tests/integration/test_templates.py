"""The template context of contract section 2, rendered in real task processes."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.timeout(60)

DAG = """
import pendulum
from flowctl import DAG, BashOperator, PythonOperator

def show(ds, params, conf, templates_dict):
    print("python", ds, params["limit"], conf.get("who"), templates_dict["day"])

with DAG("ctx", schedule="@daily", start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Amsterdam"),
         params={"limit": 7}) as dag:
    BashOperator(task_id="bash", bash_command=(
        "echo ds={{ ds }} nodash={{ ds_nodash }} ts={{ ts }} "
        "start={{ data_interval_start }} end={{ data_interval_end }} "
        "prev={{ prev_data_interval_start_success }} "
        "yesterday={{ macros.ds_add(ds, -1) }} run={{ run_id }} dag={{ dag.dag_id }} task={{ task.task_id }} "
        "limit={{ params.limit }}"
    ))
    PythonOperator(task_id="py", python_callable=show, templates_dict={"day": "{{ ds_nodash }}"})
"""


def test_context_values_in_bash_and_python(flow):
    """ds, ts, the data interval in the DAG's zone, macros, params, conf and the
    previous successful interval reach the templates and the callable."""
    flow.write_dag("ctx.py", DAG)
    assert flow("backfill", "ctx", "--start", "2026-03-01", "--end", "2026-03-02", "--max-active-runs", "1").code == 0
    out = flow("logs", "ctx", "2026-03-02", "bash").out
    assert "ds=2026-03-02 nodash=20260302 ts=2026-03-02T00:00:00+01:00" in out
    assert "start=2026-03-02 00:00:00+01:00 end=2026-03-03 00:00:00+01:00" in out
    assert "prev=2026-03-01 00:00:00+01:00" in out
    assert "yesterday=2026-03-01 run=backfill__2026-03-01T23:00:00+00:00 dag=ctx task=bash limit=7" in out
    assert "prev=None" in flow("logs", "ctx", "2026-03-01", "bash").out
    res = flow("run", "ctx", "--logical-date", "2026-03-05", "--conf", '{"who": "me", "limit": 3}')
    assert res.code == 0, res.out + res.err
    assert "python 2026-03-05 3 me 20260305" in flow("logs", "ctx", "2026-03-05", "py").out


def test_an_undefined_name_fails_the_task_saying_so(flow):
    """StrictUndefined: a typo in a template fails the try with the name in the error."""
    flow.write_dag("typo.py", """
from flowctl import DAG, BashOperator
with DAG("typo", schedule=None) as dag:
    BashOperator(task_id="t", bash_command="echo {{ dss }}")
""")
    res = flow("run", "typo", "--json")
    assert res.code == 1
    assert "dss" in flow("logs", "typo", res.json()["run_id"], "t").out
