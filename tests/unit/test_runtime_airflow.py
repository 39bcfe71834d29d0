"""The task process's side of Airflow compatibility, in-process: the context,
undefined names, template files, XCom rules, secrets and logging in the log."""

from __future__ import annotations

import logging
from pathlib import Path

import pendulum
import pytest

from flowctl import DAG, BashOperator, PythonOperator, masking, task
from flowctl.authoring.dag import AirflowDAG
from flowctl.runtime.runner import execute_task

pytestmark = pytest.mark.timeout(20)

LOGICAL = "2026-03-02T00:00:00+00:00"


def payload(dag, task_id, run_type="scheduled", conf=None, **extra):
    run_id = f"{run_type}__{LOGICAL}"
    return {"dag_id": dag.dag_id, "run_id": run_id, "task_id": task_id, "try_number": 1, "timezone": "UTC",
            "fileloc": dag.fileloc, "run": {"run_id": run_id, "run_type": run_type, "logical_date": LOGICAL,
                                            "data_interval_start": LOGICAL,
                                            "data_interval_end": "2026-03-03T00:00:00+00:00", "conf": conf or {}},
            **extra}


@pytest.fixture(autouse=True)
def clean_registry():
    masking.forget_all()
    yield
    masking.forget_all()


def test_an_airflow_dag_renders_undefined_names_empty_and_says_so(capsys):
    """Through the airflow layer an undefined name renders as '' with a warning line naming it."""
    with AirflowDAG("af", schedule=None) as dag:
        BashOperator(task_id="t", bash_command="echo [{{ nope }}] [{{ params.missing }}]")
    result = execute_task(dag, payload(dag, "t"), None)
    out = capsys.readouterr().out
    assert result["state"] == "success" and result["xcom"]["return_value"] == "[] []"
    assert "template 'nope' is undefined" in out and "'dict.missing' is undefined" in out


def test_flowctls_own_dag_fails_on_undefined_names_and_template_undefined_chooses():
    """flowctl's API keeps StrictUndefined; template_undefined= picks either way for any DAG."""
    from jinja2 import StrictUndefined, Undefined

    with DAG("own", schedule=None) as own:
        BashOperator(task_id="t", bash_command="echo {{ nope }}")
    assert "nope" in execute_task(own, payload(own, "t"), None)["error"]
    with AirflowDAG("strict", schedule=None, template_undefined=StrictUndefined) as strict:
        BashOperator(task_id="t", bash_command="echo {{ nope }}")
    assert execute_task(strict, payload(strict, "t"), None)["state"] == "failed"
    with DAG("lenient", schedule=None, template_undefined=Undefined) as lenient:
        BashOperator(task_id="t", bash_command="echo x{{ nope }}x")
    assert execute_task(lenient, payload(lenient, "t"), None)["xcom"]["return_value"] == "xx"


def test_airflow_context_values(capsys):
    """dag_run is an object, ti has Airflow's attributes, the ds neighbours and the key string are there."""
    seen = {}

    def grab(dag_run, ti, task_instance_key_str, prev_ds, next_ds, yesterday_ds, tomorrow_ds, macros, **_):
        seen.update(conf=dag_run.conf, run_type=dag_run.run_type, logical=dag_run.logical_date.isoformat(),
                    ti=(ti.dag_id, ti.task_id, ti.try_number, ti.map_index, ti.max_tries),
                    key=task_instance_key_str, prev=prev_ds, next=next_ds, y=yesterday_ds, t=tomorrow_ds,
                    later=macros.ds_add("2026-03-02", 3), uuid=hasattr(macros.uuid, "uuid4"))

    with DAG("ctx", schedule="@daily", start_date=pendulum.datetime(2026, 1, 1)) as dag:
        PythonOperator(task_id="grab", python_callable=grab, retries=2)
    assert execute_task(dag, payload(dag, "grab", conf={"k": 1}), None)["state"] == "success"
    assert seen == {"conf": {"k": 1}, "run_type": "scheduled", "logical": LOGICAL,
                    "ti": ("ctx", "grab", 1, -1, 2), "key": "ctx__grab__20260302", "prev": "2026-03-01",
                    "next": "2026-03-03", "y": "2026-03-01", "t": "2026-03-03", "later": "2026-03-05", "uuid": True}


def test_template_files_macros_and_filters(tmp_path):
    """A templated value ending in a template_ext is a file beside the DAG file (or in
    template_searchpath), rendered; user_defined_macros and _filters are available."""
    (tmp_path / "q.sql").write_text("select {{ shout(ds) | twice }}")
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "run.sh").write_text("echo from-{{ params.who }}")
    with DAG("files", schedule=None, template_searchpath=str(shared), params={"who": "me"},
             user_defined_macros={"shout": str.upper}, user_defined_filters={"twice": lambda s: s * 2}) as dag:
        PythonOperator(task_id="py", python_callable=lambda templates_dict: templates_dict["q"],
                       templates_dict={"q": "q.sql"}, templates_exts=[".sql"])
        BashOperator(task_id="sh", bash_command="run.sh")
    dag.fileloc = str(tmp_path / "files.py")
    assert execute_task(dag, payload(dag, "py"), None)["xcom"]["return_value"] == "select 2026-03-022026-03-02"
    assert execute_task(dag, payload(dag, "sh"), None)["xcom"]["return_value"] == "from-me"


def test_xcom_rules_do_xcom_push_multiple_outputs_and_the_size_limit():
    """do_xcom_push=False stores nothing; multiple_outputs stores each key too; a value
    over max_xcom_bytes fails the try with one line naming the size and the setting."""
    with DAG("x", schedule=None) as dag:
        PythonOperator(task_id="quiet", python_callable=lambda: 5, do_xcom_push=False)
        PythonOperator(task_id="multi", python_callable=lambda: {"a": 1, "b": [2]}, multiple_outputs=True)
        PythonOperator(task_id="big", python_callable=lambda: "x" * 5000)
    assert execute_task(dag, payload(dag, "quiet"), None)["xcom"] == {}
    assert execute_task(dag, payload(dag, "multi"), None)["xcom"] == {"a": 1, "b": [2], "return_value": {"a": 1, "b": [2]}}
    result = execute_task(dag, payload(dag, "big", max_xcom_bytes=1000), None)
    assert result["state"] == "failed"
    assert result["error"] == ("XCom 'return_value' of task 'big' is 5,002 bytes of JSON, over the limit of 1,000 "
                               "bytes (setting max_xcom_bytes / FLOWCTL_MAX_XCOM_BYTES)")


def test_async_callables_and_bash_decorator(capsys):
    """An async @task is awaited; @task.bash runs the command its function returns, rendered."""
    with DAG("a", schedule=None) as dag:
        @task
        async def later():
            return 7

        @task.bash
        def cmd(word, ds=None):
            return f"echo {word}-{ds}-{{{{ ds_nodash }}}}"

        later()
        cmd("hi")
    assert execute_task(dag, payload(dag, "later"), None)["xcom"]["return_value"] == 7
    assert execute_task(dag, payload(dag, "cmd"), None)["xcom"]["return_value"] == "hi-2026-03-02-20260302"


def test_secrets_are_redacted_from_prints_logging_and_bash_output(capsys):
    """Values of sensitive params and conf keys never reach the log in clear."""
    def leak(params, conf):
        print("pw", params["db_password"])
        logging.getLogger("some.module").info("token %s", conf["api_token"])

    with DAG("s", schedule=None, params={"db_password": "hunter22"}) as dag:
        PythonOperator(task_id="py", python_callable=leak)
        BashOperator(task_id="sh", bash_command="echo {{ params.db_password }}; echo {{ params.db_password }} >&2")
    assert execute_task(dag, payload(dag, "py", conf={"api_token": "tok-777"}), None)["state"] == "success"
    assert execute_task(dag, payload(dag, "sh"), None)["state"] == "success"
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "hunter22" not in text and "tok-777" not in text
    assert "pw ***" in text and "INFO - token ***" in text


def test_logging_records_reach_the_log_with_a_timestamp(capsys):
    """INFO and above from the root logger, airflow.task and module loggers; DEBUG does not."""
    def talk():
        logging.getLogger().info("root info")
        logging.getLogger("airflow.task").warning("task warning")
        logging.getLogger("my.module").debug("too quiet")

    with DAG("l", schedule=None) as dag:
        PythonOperator(task_id="t", python_callable=talk)
    execute_task(dag, payload(dag, "t"), None)
    out = capsys.readouterr().out
    assert "INFO - root info" in out and "WARNING - task warning" in out and "too quiet" not in out
    assert out.split("INFO - root info")[0].rsplit("\n", 1)[-1].startswith("[20")


def test_tasks_test_without_the_upstream_value_says_so():
    """In `tasks test` (run type test) a missing upstream XCom is one clear line, not a TypeError."""
    with DAG("t", schedule=None) as dag:
        @task
        def extract():
            return [1]

        @task
        def total(rows):
            return sum(rows)

        total(extract())
    result = execute_task(dag, payload(dag, "total", run_type="test"), None)
    assert result["state"] == "failed"
    assert result["error"].startswith("the value of upstream task 'extract' (XCom 'return_value') is not there")


def test_latest_only_skips_downstream_unless_latest_or_manual():
    """LatestOnlyOperator: a manual run and the latest interval go on; an old scheduled run skips."""
    from flowctl import EmptyOperator, LatestOnlyOperator

    with DAG("lo", schedule="@daily", start_date=pendulum.datetime(2026, 1, 1)) as dag:
        LatestOnlyOperator(task_id="latest") >> EmptyOperator(task_id="after")
    old = execute_task(dag, payload(dag, "latest"), None)
    assert old["skip_downstream"] == ["after"]
    assert "skip_downstream" not in execute_task(dag, payload(dag, "latest", run_type="manual"), None)
    now = pendulum.now("UTC")
    start = now.start_of("day").subtract(days=1)
    latest = payload(dag, "latest")
    latest["run"].update(logical_date=start.isoformat(), data_interval_start=start.isoformat(),
                         data_interval_end=start.add(days=1).isoformat())
    assert "skip_downstream" not in execute_task(dag, latest, None)


def test_latest_only_says_what_airflow_says(capsys):
    """Airflow's log lines; a run with no next interval (`@once`) is the latest."""
    from flowctl import EmptyOperator, LatestOnlyOperator

    with DAG("lo", schedule="@daily", start_date=pendulum.datetime(2026, 1, 1)) as dag:
        LatestOnlyOperator(task_id="latest") >> EmptyOperator(task_id="after")
    execute_task(dag, payload(dag, "latest", run_type="manual"), None)
    assert "Manually triggered DAG_Run: allowing execution to proceed." in capsys.readouterr().out
    execute_task(dag, payload(dag, "latest"), None)
    out = capsys.readouterr().out
    assert "Checking latest only with left_window: 2026-03-03" in out and "Not latest execution" in out
    with DAG("once", schedule="@once", start_date=pendulum.datetime(2026, 3, 2)) as once:
        LatestOnlyOperator(task_id="latest") >> EmptyOperator(task_id="after")
    assert "skip_downstream" not in execute_task(once, payload(once, "latest"), None)
    assert "Last scheduled execution: allowing execution to proceed." in capsys.readouterr().out


def test_a_param_that_fails_its_schema_fails_the_task():
    """Param(type=..., minimum=...) is checked against the run's conf in the task too
    (a run made past the command line's check, say by a file edited since)."""
    from flowctl import EmptyOperator, Param

    with DAG("p", schedule=None, params={"n": Param(5, type="integer", minimum=1)}) as dag:
        EmptyOperator(task_id="e")
    assert execute_task(dag, payload(dag, "e", conf={"n": 3}), None)["state"] == "success"
    bad = execute_task(dag, payload(dag, "e", conf={"n": 0}), None)
    assert bad["state"] == "failed" and bad["error"] == "param 'n' = 0: 0 is less than the minimum of 1 (rule: minimum)"


def test_airflow_exceptions_skip_and_fail_without_retry(tmp_path):
    """AirflowSkipException skips; AirflowFailException fails with no_retry."""
    from flowctl.loader import import_dag_file

    path = Path(tmp_path) / "exc.py"
    path.write_text(
        "from airflow import DAG\n"
        "from airflow.exceptions import AirflowFailException, AirflowSkipException\n"
        "from airflow.decorators import task\n"
        "with DAG('exc', schedule=None) as dag:\n"
        "    @task\n"
        "    def skip():\n"
        "        raise AirflowSkipException('not today')\n"
        "    @task(retries=3)\n"
        "    def fail():\n"
        "        raise AirflowFailException('bad input')\n"
        "    skip(); fail()\n"
    )
    (dag,) = import_dag_file(str(path), root=str(tmp_path))
    assert execute_task(dag, payload(dag, "skip"), None)["state"] == "skipped"
    failed = execute_task(dag, payload(dag, "fail"), None)
    assert failed["state"] == "failed" and failed["no_retry"] is True and failed["error"] == "bad input"


def test_calendar_sensors_and_bash_sensor():
    """DateTimeSensor (templated), TimeSensor, DayOfWeekSensor and BashSensor decide as Airflow's;
    a soft_fail time-out skips."""
    from flowctl import BashSensor, DateTimeSensor, DayOfWeekSensor, TimeSensor

    today = pendulum.now("UTC")
    other_day = {1: "TUESDAY"}.get(today.isoweekday(), "MONDAY")
    with DAG("cal", schedule=None) as dag:
        DateTimeSensor(task_id="past", target_time="{{ data_interval_start }}", poke_interval=0.1)
        DateTimeSensor(task_id="future", target_time=today.add(days=1), timeout=0.3, poke_interval=0.1, soft_fail=True)
        # a time of day already passed today (five minutes ago, or midnight in a day's first minutes)
        earlier = max(today.subtract(minutes=5), today.start_of("day"))
        TimeSensor(task_id="earlier_today", target_time=earlier.time(), poke_interval=0.1)
        DayOfWeekSensor(task_id="weekday", week_day=today.format("dddd"), poke_interval=0.1)
        DayOfWeekSensor(task_id="logical_monday", week_day="Monday", use_task_logical_date=True, poke_interval=0.1)
        DayOfWeekSensor(task_id="not_today", week_day=other_day, timeout=0.3, poke_interval=0.1, soft_fail=True)
        BashSensor(task_id="bash_ok", bash_command="test -d /", poke_interval=0.1)
        BashSensor(task_id="bash_hard_fail", bash_command="exit 3", retry_exit_code=1, poke_interval=0.1)
    states = {tid: execute_task(dag, payload(dag, tid), None)["state"] for tid in dag.task_dict}
    assert states == {"past": "success", "future": "skipped", "earlier_today": "success", "weekday": "success",
                      "logical_monday": "success", "not_today": "skipped", "bash_ok": "success",
                      "bash_hard_fail": "failed"}


def test_a_dag_id_that_leaves_the_home_is_refused():
    """dag_id '..' (or with a slash) is an error: run files would land in the wrong folder."""
    from flowctl.errors import DagDefinitionError

    for dag_id in ("..", "a/b", ""):
        with pytest.raises(DagDefinitionError, match="dag_id"):
            DAG(dag_id, schedule=None)
