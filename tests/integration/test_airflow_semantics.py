"""Airflow DAG files, unchanged, through the real `flowctl` command, where they
rely on Airflow's meaning: XCom pulled without task ids, a Bash task's working
directory, the context in a virtualenv, the exception a failure callback gets."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(180)


def run(flow, dag_id, source, **names):
    flow.write_dag(f"{dag_id}.py", textwrap.dedent(source).format(**names))
    errors = flow("dags", "errors", "--json")
    assert errors.code == 0 and errors.json() == [], errors.out
    res = flow("run", dag_id, "--json", timeout=150)
    assert res.out, res.err
    doc = res.json()
    return doc, {t["task_id"]: t["state"] for t in doc["tasks"]}


def xcoms(flow, dag_id, run_id):
    return {(x["task_id"], x["key"]): x["value"] for x in flow("xcom", "list", dag_id, run_id, "--json").json()}


PUSH_PULL = '''
import pendulum
from airflow import DAG
from airflow.operators.python import PythonOperator

def extract(**kwargs):
    kwargs["ti"].xcom_push(key="customers", value=["ann", "bob"])

def load(**kwargs):
    customers = kwargs["ti"].xcom_pull(key="customers")
    assert customers == ["ann", "bob"], customers
    return len(customers)

with DAG("push_pull", start_date=pendulum.datetime(2026, 1, 1), schedule=None) as dag:
    PythonOperator(task_id="extract", python_callable=extract) >> PythonOperator(task_id="load", python_callable=load)
'''


def test_xcom_pull_without_task_ids_sees_what_an_upstream_task_pushed(flow):
    """Airflow 2's common pattern: push a key in one task, pull it without task_ids in the next."""
    doc, states = run(flow, "push_pull", PUSH_PULL)
    assert states == {"extract": "success", "load": "success"}
    assert xcoms(flow, "push_pull", doc["run_id"])[("load", "return_value")] == 2


LATEST = '''
import time
import pendulum
from airflow import DAG
from airflow.operators.python import PythonOperator

def push(value):
    def callable(ti):
        time.sleep(0.3)
        ti.xcom_push(key="batch", value=value)
    return callable

def pull(ti):
    return ti.xcom_pull(key="batch")

with DAG("latest", start_date=pendulum.datetime(2026, 1, 1), schedule=None) as dag:
    first, middle, last = (PythonOperator(task_id=t, python_callable=push(t)) for t in ("a", "c", "b"))
    first >> middle >> last >> PythonOperator(task_id="pull", python_callable=pull)
'''


def test_xcom_pull_without_task_ids_reads_the_latest_push_of_the_key(flow):
    """Several tasks pushed the key: the one written last wins (by end time, not by task id)."""
    doc, states = run(flow, "latest", LATEST)
    assert set(states.values()) == {"success"}, states
    assert xcoms(flow, "latest", doc["run_id"])[("pull", "return_value")] == "b"


BASH_TMP = '''
import pendulum
from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.sensors.bash import BashSensor

with DAG("bash_tmp", start_date=pendulum.datetime(2026, 1, 1), schedule=None) as dag:
    first = BashOperator(task_id="first", bash_command="mkdir work && pwd")
    second = BashOperator(task_id="second", bash_command="mkdir work && pwd")
    sense = BashSensor(task_id="sense", bash_command="mkdir work", timeout=0)
    first >> second >> sense
'''


def test_a_bash_task_runs_in_a_fresh_temporary_directory(flow):
    """As Airflow's SubprocessHook: each try gets its own directory, removed afterwards,
    so `mkdir work` succeeds twice in a row and nothing lands where flowctl was started
    (a BashSensor's poke too)."""
    doc, states = run(flow, "bash_tmp", BASH_TMP)
    assert states == {"first": "success", "second": "success", "sense": "success"}
    values = xcoms(flow, "bash_tmp", doc["run_id"])
    first, second = values[("first", "return_value")], values[("second", "return_value")]
    assert first != second and str(flow.root) not in (first, second)
    assert not (flow.root / "work").exists()
    assert not Path(first).exists() and not Path(second).exists()


CONTEXT_IN_VENV = '''
import sys
import pendulum
from airflow import DAG
from airflow.decorators import task
from airflow.providers.standard.operators.python import ExternalPythonOperator, PythonVirtualenvOperator

def context_venv():
    from airflow.providers.standard.operators.python import get_current_context

    context = get_current_context()
    return [context["ds"], context["run_id"]]

with DAG("context_venv", start_date=pendulum.datetime(2026, 1, 1), schedule=None) as dag:
    PythonVirtualenvOperator(task_id="venv", python_callable=context_venv, use_airflow_context=True)
    ExternalPythonOperator(task_id="external", python_callable=context_venv, python=sys.executable,
                           use_airflow_context=True)

    @task.virtualenv(task_id="decorated", use_airflow_context=True)
    def decorated():
        from airflow.operators.python import get_current_context

        return get_current_context()["ds"]

    decorated()
'''


def test_a_virtualenv_callable_gets_the_context_with_use_airflow_context(flow):
    """Airflow's example_python_context_operator: get_current_context() inside the other
    interpreter gives the run's context values."""
    doc, states = run(flow, "context_venv", CONTEXT_IN_VENV)
    assert states == {"venv": "success", "external": "success", "decorated": "success"}, states
    values = xcoms(flow, "context_venv", doc["run_id"])
    ds = values[("decorated", "return_value")]
    assert values[("venv", "return_value")] == values[("external", "return_value")] == [ds, doc["run_id"]]


FAILURE_CALLBACK = '''
import pendulum
from airflow import DAG
from airflow.operators.python import PythonOperator

def note(context):
    exc = context["exception"]
    with open({notes!r}, "w") as f:
        f.write(f"{{type(exc).__name__}}|{{isinstance(exc, ValueError)}}|{{exc}}")

def load():
    raise ValueError("row 17 has no id")

with DAG("callback_exc", start_date=pendulum.datetime(2026, 1, 1), schedule=None) as dag:
    PythonOperator(task_id="load", python_callable=load, on_failure_callback=note)
'''


def test_a_failure_callback_gets_the_exception_the_task_raised(flow):
    """context['exception'] is a ValueError with the task's message, not a wrapper."""
    notes = flow.root / "notes.txt"
    doc, states = run(flow, "callback_exc", FAILURE_CALLBACK, notes=str(notes))
    assert states == {"load": "failed"}
    assert notes.read_text() == "ValueError|True|row 17 has no id"
