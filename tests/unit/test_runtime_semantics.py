"""Airflow's meaning, in the task process, of what Airflow DAG files rely on:
xcom_pull without task_ids, the exception a failure callback gets, the file
sensor's connection, PythonSensor's templates_dict, package-index connections."""

from __future__ import annotations

import json

import pytest

from flowctl import masking
from flowctl.authoring.dag import AirflowDAG
from flowctl.authoring.operators import PythonOperator
from flowctl.authoring.python_envs import PythonVirtualenvOperator
from flowctl.authoring.sensors import FileSensor, PythonSensor
from flowctl.errors import TaskFailed
from flowctl.runtime.runner import execute_task, run_callback

pytestmark = pytest.mark.timeout(30)

LOGICAL = "2026-03-02T00:00:00+00:00"


def payload(dag, task_id, **extra):
    run_id = f"manual__{LOGICAL}"
    return {"dag_id": dag.dag_id, "run_id": run_id, "task_id": task_id, "try_number": 1, "timezone": "UTC",
            "fileloc": dag.fileloc, "run": {"run_id": run_id, "run_type": "manual", "logical_date": LOGICAL,
                                            "data_interval_start": LOGICAL,
                                            "data_interval_end": LOGICAL, "conf": {}},
            **extra}


def given(*values):
    """Upstream values as the engine sends them with a try."""
    return {"xcom_given": {"tasks": sorted({v[0] for v in values}),
                           "values": [{"task_id": t, "map_index": -1, "key": k, "value": v} for t, k, v in values]}}


@pytest.fixture(autouse=True)
def clean_registry():
    masking.forget_all()
    yield
    masking.forget_all()


# -- xcom_pull without task_ids ------------------------------------------------------------

def test_xcom_pull_without_task_ids_reads_an_upstream_tasks_key():
    """Airflow 2's rule when the task has no such key itself: the key from any task of the run."""
    seen = {}
    with AirflowDAG("pull", schedule=None) as dag:
        up = PythonOperator(task_id="extract", python_callable=lambda: None)
        down = PythonOperator(task_id="load", python_callable=lambda ti: seen.update(
            customers=ti.xcom_pull(key="customers"), missing=ti.xcom_pull(key="nope")))
        up >> down
    result = execute_task(dag, payload(dag, "load", **given(("extract", "customers", [1, 2]))), None)
    assert result["state"] == "success", result
    assert seen == {"customers": [1, 2], "missing": None}


def test_xcom_pull_without_task_ids_takes_the_later_task_when_values_come_with_the_payload():
    """On Dask the values come with the payload, without end times: of two tasks that
    pushed the key, the one later in the DAG's order is the latest (not the first by name)."""
    seen = {}
    with AirflowDAG("order", schedule=None) as dag:
        first = PythonOperator(task_id="a_first", python_callable=lambda: None)
        second = PythonOperator(task_id="z_second", python_callable=lambda: None)
        first >> second >> PythonOperator(task_id="load", python_callable=lambda ti: seen.update(
            k=ti.xcom_pull(key="k")))
    sent = payload(dag, "load", **given(("a_first", "k", "early"), ("z_second", "k", "late")))
    sent["xcom_values"] = sent["xcom_given"]["values"]
    execute_task(dag, sent, None)
    assert seen == {"k": "late"}


def test_xcom_pull_without_task_ids_prefers_the_tasks_own_key():
    """Airflow 3's rule is kept when the task itself pushed the key."""
    seen = {}

    def own(ti):
        ti.xcom_push(key="customers", value="mine")
        seen["value"] = ti.xcom_pull(key="customers")

    with AirflowDAG("own", schedule=None) as dag:
        up = PythonOperator(task_id="extract", python_callable=lambda: None)
        up >> PythonOperator(task_id="load", python_callable=own)
    execute_task(dag, payload(dag, "load", **given(("extract", "customers", "theirs"))), None)
    assert seen == {"value": "mine"}


# -- the exception a failure callback gets ---------------------------------------------------

class RowError(Exception):
    """An exception class of the DAG's own module."""


def callback_exception(error):
    got = {}
    with AirflowDAG("cb", schedule=None) as dag:
        PythonOperator(task_id="t", python_callable=lambda: None,
                       on_failure_callback=lambda context: got.update(exc=context["exception"]))
    result = run_callback(dag, payload(dag, "t", callback="on_failure_callback", error=error), None)
    assert result["state"] == "success", result
    return got["exc"]


@pytest.mark.parametrize(("error", "cls", "text"), [
    pytest.param("ValueError: row 17 has no id", ValueError, "row 17 has no id", id="builtin"),
    pytest.param("KeyError: 'id'", KeyError, "'id'", id="keyerror-str-is-a-repr"),
    pytest.param("ZeroDivisionError", ZeroDivisionError, "", id="no-message"),
    pytest.param("RowError: row 3", RowError, "row 3", id="class-of-the-dags-module"),
])
def test_a_failure_callback_gets_the_tasks_exception_class_and_message(error, cls, text):
    """As in Airflow, context['exception'] is the task's exception (same class, same str())."""
    exc = callback_exception(error)
    assert type(exc) is cls and str(exc) == text


def test_an_error_without_an_exception_class_stays_a_task_failure():
    """A flowctl failure line (a timeout, say) names no class: the exception says the line."""
    exc = callback_exception("timed out after 5 s (execution_timeout)")
    assert isinstance(exc, TaskFailed) and str(exc) == "timed out after 5 s (execution_timeout)"


# -- FileSensor's connection ---------------------------------------------------------------

def poke_file(tmp_path, monkeypatch, **kwargs):
    with AirflowDAG("fs", schedule=None) as dag:
        FileSensor(task_id="wait", timeout=0, poke_interval=0, **kwargs)
    monkeypatch.chdir(tmp_path)
    return execute_task(dag, payload(dag, "wait"), None)


def test_file_sensor_reads_a_relative_path_under_its_connections_path(tmp_path, monkeypatch):
    """fs_conn_id's extra `path` is the base of a relative filepath (Airflow's FSHook)."""
    (tmp_path / "landing").mkdir()
    (tmp_path / "landing" / "orders.csv").write_text("id\n")
    monkeypatch.setenv("AIRFLOW_CONN_FS_LANDING",
                       json.dumps({"conn_type": "fs", "extra": {"path": str(tmp_path / "landing")}}))
    assert poke_file(tmp_path, monkeypatch, filepath="orders.csv", fs_conn_id="fs_landing")["state"] == "success"
    assert poke_file(tmp_path, monkeypatch, filepath="orders.csv")["state"] == "failed"  # fs_default: no base
    missing = poke_file(tmp_path, monkeypatch, filepath="orders.csv", fs_conn_id="fs_nowhere")
    assert missing["state"] == "failed" and "fs_nowhere" in missing["error"]


def test_file_sensor_matches_across_folders_only_when_recursive(tmp_path, monkeypatch):
    """`**` spans folders with recursive=True; without it, it is one folder level (Airflow's default)."""
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "x.csv").write_text("1\n")
    pattern = str(tmp_path / "**" / "x.csv")
    assert poke_file(tmp_path, monkeypatch, filepath=pattern)["state"] == "failed"
    assert poke_file(tmp_path, monkeypatch, filepath=pattern, recursive=True)["state"] == "success"


# -- PythonSensor's templates_dict, package-index connections -------------------------------

def test_python_sensor_gets_its_rendered_templates_dict():
    """templates_dict is rendered and reaches the callable, as PythonOperator's does."""
    seen = {}
    with AirflowDAG("ps", schedule=None) as dag:
        PythonSensor(task_id="wait", python_callable=lambda templates_dict: seen.update(templates_dict) or True,
                     templates_dict={"day": "{{ ds }}"}, timeout=0)
    assert execute_task(dag, payload(dag, "wait"), None)["state"] == "success"
    assert seen == {"day": "2026-03-02"}


def in_venv():
    return 1


def test_index_urls_from_connection_ids_become_index_urls_with_basic_auth(monkeypatch):
    """A package-index connection's host is the URL; its login and password go in it (Airflow's hook)."""
    from flowctl.authoring.python_envs import package_index_url

    monkeypatch.setenv("AIRFLOW_CONN_MY_INDEX", json.dumps(
        {"conn_type": "package_index", "host": "https://pypi.example/simple", "login": "ann", "password": "p@ss"}))
    assert package_index_url("my_index") == "https://ann:p%40ss@pypi.example/simple"
    with AirflowDAG("venv", schedule=None):
        op = PythonVirtualenvOperator(task_id="v", python_callable=in_venv,
                                      index_urls_from_connection_ids=["my_index"], use_airflow_context=True)
    assert op.index_urls_from_connection_ids == ["my_index"] and op.use_airflow_context
    with pytest.raises(TaskFailed, match="nowhere"):
        package_index_url("nowhere")
