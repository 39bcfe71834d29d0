"""The `airflow` layer at import time: Airflow's names, arguments and idioms build
flowctl DAGs; what flowctl does not act on is a warning; what it cannot do is a
one-line import error naming it."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from flowctl.errors import DagDefinitionError
from flowctl.loader import describe_exception, import_dag_file
from flowctl.specs import DagSpec

pytestmark = pytest.mark.timeout(20)


def load(tmp_path: Path, source: str, name: str = "dag_file.py") -> dict:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return {d.dag_id: d for d in import_dag_file(str(path), root=str(tmp_path))}


def error_of(tmp_path: Path, source: str) -> str:
    path = tmp_path / "broken.py"
    path.write_text(textwrap.dedent(source))
    with pytest.raises(BaseException) as info:
        import_dag_file(str(path), root=str(tmp_path))
    return describe_exception(info.value, str(path))[0]


def spec(dag) -> DagSpec:
    return DagSpec.from_dag(dag, dag.fileloc, "UTC")


def test_an_airflow_2_file_with_common_idioms_loads(tmp_path):
    """schedule_interval, days_ago, default_args with Airflow-only keys, provide_context,
    Airflow 1 and 2 import paths, DummyOperator, TriggerRule: all load, mapped onto flowctl."""
    dags = load(tmp_path, """
        from datetime import timedelta
        from airflow import DAG
        from airflow.operators.bash_operator import BashOperator
        from airflow.operators.python_operator import PythonOperator
        from airflow.operators.dummy import DummyOperator
        from airflow.utils.dates import days_ago
        from airflow.utils.trigger_rule import TriggerRule

        default_args = {"owner": "data", "depends_on_past": False, "start_date": days_ago(2),
                        "email": ["ops@example.com"], "email_on_failure": True, "retries": 2,
                        "retry_delay": timedelta(minutes=1), "sla": timedelta(hours=1), "queue": "etl"}
        dag = DAG("legacy", default_args=default_args, schedule_interval="@daily",
                  dagrun_timeout=timedelta(hours=2), max_active_runs=1, concurrency=4)
        start = DummyOperator(task_id="start", dag=dag)
        load = PythonOperator(task_id="load", python_callable=lambda **kw: 1, provide_context=True, dag=dag)
        done = BashOperator(task_id="done", bash_command="echo done", trigger_rule=TriggerRule.NONE_FAILED_OR_SKIPPED, dag=dag)
        start >> load >> done
    """)
    s = spec(dags["legacy"])
    assert s.schedule == "@daily" and s.airflow and s.max_active_tasks == 4
    assert s.dagrun_timeout == 7200.0
    assert s.tasks["load"].retries == 2 and s.tasks["load"].retry_delay == 60.0
    assert s.tasks["load"].owner == "data" and s.tasks["load"].email == ("ops@example.com",)
    assert s.tasks["done"].trigger_rule == "none_failed_min_one_success"
    assert s.order == ("start", "load", "done")
    joined = "\n".join(s.warnings)
    for argument in ("sla (default_args)", "queue (default_args)", "email (default_args)"):
        assert argument in joined
    assert "dagrun_timeout" not in joined  # enforced by the engine
    assert "owner" not in joined and "provide_context" not in joined


def test_a_misspelled_argument_still_fails(tmp_path):
    """Airflow's arguments are accepted; a typo is not (as in Airflow)."""
    assert "unknown argument(s) retires" in error_of(tmp_path, """
        import pendulum
        from airflow import DAG
        from airflow.operators.empty import EmptyOperator
        with DAG("d", start_date=pendulum.datetime(2026, 1, 1), schedule=None):
            EmptyOperator(task_id="t", retires=3)
    """)
    assert "unknown argument(s) schedul" in error_of(tmp_path, """
        from airflow import DAG
        DAG("d", schedul="@daily")
    """)


def test_operator_arguments_come_from_default_args(tmp_path):
    """As Airflow's apply_defaults: default_args fill any operator parameter not given."""
    dags = load(tmp_path, """
        from airflow import DAG
        from airflow.operators.bash import BashOperator
        from airflow.sensors.python import PythonSensor
        with DAG("d", schedule=None, default_args={"bash_command": "echo default", "poke_interval": 7, "mode": "reschedule"}) as dag:
            a = BashOperator(task_id="a")
            b = BashOperator(task_id="b", bash_command="echo mine")
            s = PythonSensor(task_id="s", python_callable=lambda: True)
    """)
    d = dags["d"]
    assert d.task_dict["a"].bash_command == "echo default"
    assert d.task_dict["b"].bash_command == "echo mine"
    assert d.task_dict["s"].poke_interval == 7 and d.task_dict["s"].mode == "reschedule"


def test_airflow_3_sdk_taskflow_and_groups(tmp_path):
    """@dag (bare), @task with override, @task_group called twice (suffixed ids),
    multiple_outputs inferred from a dict return annotation, Labels on edges."""
    dags = load(tmp_path, """
        import pendulum
        from airflow.sdk import dag, task, task_group, Label, chain

        @dag
        def flow():
            @task
            def numbers() -> dict[str, int]:
                return {"a": 1}

            @task
            def show(x):
                print(x)

            @task_group
            def group(v):
                show.override(task_id="inner")(v)

            n = numbers()
            first = group(n["a"])
            second = group(2)
            n >> Label("then") >> first >> second

        flow()
    """)
    d = dags["flow"]
    assert sorted(d.task_dict) == ["group.inner", "group__1.inner", "numbers"]
    assert d.task_dict["numbers"].multiple_outputs is True
    s = spec(d)
    assert s.edge_labels == {"numbers": {"group.inner": "then"}}
    assert s.tasks["group__1.inner"].upstream == ("group.inner",)


def test_params_resolve_to_their_defaults_and_secrets_are_masked_in_the_spec(tmp_path):
    """Param objects give their default values; a sensitive param's default is *** in the spec (and the cache)."""
    dags = load(tmp_path, """
        from airflow.sdk import DAG, Param
        with DAG("p", schedule=None, params={"n": Param(5, type="integer", minimum=1), "db_password": "hunter22"}):
            pass
    """)
    assert dags["p"].params == {"n": 5, "db_password": "hunter22"}
    assert spec(dags["p"]).params == {"n": 5, "db_password": "***"}


@pytest.mark.parametrize(
    "source, words",
    [
        pytest.param("from airflow.providers.postgres.operators.postgres import PostgresOperator",
                     ["apache-airflow-providers-postgres", "does not ship"], id="provider"),
        pytest.param("from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator",
                     ["apache-airflow-providers-cncf-kubernetes"], id="namespaced-provider"),
        pytest.param("from airflow.providers.amazon.aws.hooks.s3 import S3Hook",
                     ["apache-airflow-providers-amazon"], id="amazon"),
        pytest.param("from airflow.contrib.operators.ssh_operator import SSHOperator",
                     ["no module airflow.contrib", "Airflow 1"], id="contrib"),
        pytest.param("from airflow.sdk import NoSuchName", ["no airflow.sdk.NoSuchName"], id="name"),
    ],
)
def test_what_flowctl_does_not_ship_is_one_line_naming_it(tmp_path, source, words):
    """A provider outside core and standard, or a module flowctl lacks: an import error saying so, with the line."""
    message = error_of(tmp_path, source)
    assert "\n" not in message and "Traceback" not in message and "(line 1)" in message
    for word in words:
        assert word in message


def test_a_guarded_provider_import_can_be_caught(tmp_path):
    """The error is an ImportError, so `try: import ... except ImportError` works as in Airflow."""
    dags = load(tmp_path, """
        try:
            from airflow.providers.slack.operators.slack import SlackAPIPostOperator
        except ImportError:
            SlackAPIPostOperator = None
        from airflow import DAG
        DAG("ok", schedule=None)
    """)
    assert list(dags) == ["ok"]


def test_cross_dag_operators_load_with_airflows_arguments(tmp_path):
    """TriggerDagRunOperator, ExternalTaskSensor and ExternalTaskMarker build from every
    import path Airflow had; what each points at is recorded for the engine and `explain`."""
    dags = load(tmp_path, """
        from datetime import timedelta
        from airflow import DAG
        from airflow.operators.trigger_dagrun import TriggerDagRunOperator
        from airflow.operators.dagrun_operator import TriggerDagRunOperator as Old
        from airflow.sensors.external_task import ExternalTaskSensor, ExternalTaskMarker
        from airflow.providers.standard.sensors.external_task import ExternalTaskSensor as Std
        with DAG("d", schedule=None):
            TriggerDagRunOperator(task_id="t", trigger_dag_id="other", conf={"a": 1}, wait_for_completion=True,
                                  poke_interval=5, reset_dag_run=True)
            Old(task_id="old", trigger_dag_id="other")
            ExternalTaskSensor(task_id="w", external_dag_id="other", external_task_id="x",
                               execution_delta=timedelta(hours=1), mode="reschedule")
            Std(task_id="g", external_dag_id="other", external_task_group_id="grp")
            ExternalTaskMarker(task_id="m", external_dag_id="other", external_task_id="x", recursion_depth=3)
    """)
    tasks = spec(dags["d"]).tasks
    assert tasks["t"].external == {"kind": "trigger", "dag_id": "other", "wait": True,
                                   "allowed_states": ["success"], "failed_states": ["failed"]}
    assert tasks["t"].sensor_mode == "reschedule" and tasks["t"].poke_interval == 5
    assert tasks["w"].external["task_ids"] == ["x"] and tasks["w"].external["delta"] == 3600
    assert tasks["g"].external["group_id"] == "grp"
    assert tasks["m"].external == {"kind": "marker", "dag_id": "other", "task_id": "x",
                                   "logical_date": "{{ logical_date.isoformat() }}", "recursion_depth": 3}


@pytest.mark.parametrize("source, words", [
    pytest.param('ExternalTaskSensor(task_id="w", external_dag_id="o", external_task_id="a", external_task_ids=["b"])',
                 "Only one of `external_task_id` or `external_task_ids`", id="task-id-and-ids"),
    pytest.param('ExternalTaskSensor(task_id="w", external_dag_id="o", execution_delta=timedelta(1), '
                 'execution_date_fn=lambda d: d)', "Only one of `execution_delta` or `execution_date_fn`",
                 id="delta-and-fn"),
    pytest.param('ExternalTaskSensor(task_id="w", external_dag_id="o", allowed_states=["upstream_failed"])',
                 "not states of the DAG run", id="task-state-for-a-dag"),
    pytest.param('ExternalTaskSensor(task_id="w", external_dag_id="o", external_task_id="a", '
                 'allowed_states=["success"], failed_states=["success"])', "Duplicate values", id="duplicates"),
    pytest.param('ExternalTaskMarker(task_id="m", external_dag_id="o", external_task_id="a", recursion_depth=0)',
                 "recursion_depth should be a positive integer", id="recursion-depth"),
    pytest.param('TriggerDagRunOperator(task_id="t", trigger_dag_id="o", allowed_states=["skipped"])',
                 "'skipped' is not a DAG run state", id="trigger-states"),
])
def test_cross_dag_arguments_airflow_refuses_are_import_errors(tmp_path, source, words):
    """What Airflow's constructors refuse is an import error that says the same."""
    message = error_of(tmp_path, f"""
        from datetime import timedelta
        from airflow import DAG
        from airflow.operators.trigger_dagrun import TriggerDagRunOperator
        from airflow.sensors.external_task import ExternalTaskSensor, ExternalTaskMarker
        with DAG("d", schedule=None):
            {source}
    """)
    assert words in message


def test_timetables_map_to_schedules(tmp_path):
    """Airflow's built-in timetables become the cron or timedelta they stand for."""
    dags = load(tmp_path, """
        import pendulum
        from datetime import timedelta
        from airflow import DAG
        from airflow.timetables.trigger import CronTriggerTimetable
        from airflow.timetables.interval import DeltaDataIntervalTimetable
        DAG("c", start_date=pendulum.datetime(2026, 1, 1), schedule=CronTriggerTimetable("0 6 * * *", timezone="UTC"))
        DAG("t", start_date=pendulum.datetime(2026, 1, 1), timetable=DeltaDataIntervalTimetable(timedelta(hours=2)))
    """)
    assert dags["c"].schedule == "0 6 * * *" and dags["t"].schedule == timedelta(hours=2)


def test_asset_schedules_and_outlets_are_recorded(tmp_path):
    """schedule=[Asset, ...], `&`/`|`, Dataset (Airflow 2), AssetAlias and AssetOrTimeSchedule
    become the DAG's asset condition; outlets and inlets are recorded per task."""
    dags = load(tmp_path, """
        import pendulum
        from airflow.sdk import DAG, Asset, AssetAlias
        from airflow.datasets import Dataset
        from airflow.operators.empty import EmptyOperator
        from airflow.timetables.assets import AssetOrTimeSchedule
        from airflow.timetables.trigger import CronTriggerTimetable
        a, b, c = Asset("s3://b/a"), Asset(name="bee", uri="s3://b/b"), Dataset("file:///tmp/c")
        with DAG("all_of", schedule=[a, b]):
            EmptyOperator(task_id="t", outlets=[c, AssetAlias("al")], inlets=[a])
        DAG("expr", schedule=a | (b & c))
        DAG("alias", schedule=[AssetAlias("al")])
        DAG("mixed", start_date=pendulum.datetime(2026, 1, 1), catchup=False,
            schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable("0 1 * * 3", timezone="UTC"), assets=a & b))
    """)
    all_of = spec(dags["all_of"])
    assert all_of.asset_condition == {"all": [{"asset": "s3://b/a"}, {"asset": "s3://b/b"}]}
    assert all_of.schedule is None and all_of.schedule_display == "on asset updates"
    assert all_of.tasks["t"].outlets == ("file:///tmp/c",) and all_of.tasks["t"].outlet_aliases == ("al",)
    assert all_of.tasks["t"].inlets == ("s3://b/a",)
    assert all_of.assets["s3://b/b"]["name"] == "bee"
    assert spec(dags["expr"]).asset_condition == {"any": [{"asset": "s3://b/a"}, {"all": [
        {"asset": "s3://b/b"}, {"asset": "file:///tmp/c"}]}]}
    assert spec(dags["alias"]).asset_condition == {"all": [{"alias": "al"}]}
    mixed = spec(dags["mixed"])
    assert mixed.schedule == "0 1 * * 3" and mixed.schedule_display == "0 1 * * 3 or on asset updates"


@pytest.mark.parametrize(
    "task_id",
    ["../../../../tmp/x", "..", ".", "a b", "x" * 251, "semi;colon"],
)
def test_ids_follow_airflows_rule(task_id):
    """Letters, digits, _ . - only, at most 250 characters, not . or ..: anything else is refused."""
    from flowctl import DAG, EmptyOperator

    with pytest.raises(DagDefinitionError, match="task_id"), DAG("d", schedule=None):
        EmptyOperator(task_id=task_id)


def test_a_task_in_a_group_gets_the_group_prefix_within_the_limit():
    """The full id (group.task) is what the 250-character limit applies to."""
    from flowctl import DAG, EmptyOperator, TaskGroup

    with DAG("d", schedule=None), TaskGroup("g" * 200):
        with pytest.raises(DagDefinitionError, match="at most 250"):
            EmptyOperator(task_id="t" * 60)


@pytest.mark.parametrize(
    "schedule, words",
    [
        ("61 * * * *", "'61 * * * *'"),
        ("@fortnightly", "unknown preset"),
        (timedelta(0), "a timedelta must be positive"),
        (timedelta(hours=-1), "a timedelta must be positive"),
        (42, "invalid schedule 42"),
    ],
)
def test_an_invalid_schedule_is_an_error_naming_it(schedule, words):
    """A schedule that cannot run is refused when the DAG is built, naming the schedule."""
    import pendulum

    from flowctl import DAG

    with pytest.raises(DagDefinitionError, match="invalid schedule") as info:
        DAG("d", schedule=schedule, start_date=pendulum.datetime(2026, 1, 1))
    assert words in str(info.value)
