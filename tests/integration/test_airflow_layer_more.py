"""More of Airflow's surface that real DAG files use, through the real `flowctl` command:
submodules reached from a bare `import airflow`, Airflow 1 paths, names importable
at load and refused at use, provider paths named, and `conf.get` as Airflow answers it."""

from __future__ import annotations

import pytest

from tests.integration.test_airflow_layer import run_json, write

pytestmark = pytest.mark.timeout(120)


def test_a_bare_import_airflow_reaches_its_submodules(flow):
    """After `import airflow`, airflow.utils.dates, airflow.models, airflow.macros and
    airflow.operators.* are attributes, as Airflow 2's eager import makes them."""
    write(flow.dags / "bare.py", """
        import airflow
        import airflow.operators.bash_operator

        def show():
            print("tomorrow", airflow.macros.ds_add("2026-01-01", 1), airflow.utils.trigger_rule.TriggerRule.ALL_DONE)

        dag = airflow.models.DAG("bare", start_date=airflow.utils.dates.days_ago(1), schedule_interval=None)
        airflow.operators.python_operator.PythonOperator(task_id="show", python_callable=show, dag=dag)
    """)
    assert flow("dags", "errors").code == 0
    res, doc, states = run_json(flow, "bare")
    assert states == {"show": "success"}, res.err
    assert "tomorrow 2026-01-02 all_done" in flow("logs", "bare", doc["run_id"], "show").out


def test_airflow_1_sensors_module_and_the_dag_decorators_airflow_2_home(flow):
    """airflow.operators.sensors re-exports the core sensors (its provider ones name their
    package); `from airflow.models.dag import dag` is the @dag decorator."""
    write(flow.dags / "old_sensors.py", """
        import pendulum
        from datetime import timedelta
        from airflow.models.dag import dag
        from airflow.operators.sensors import (BaseSensorOperator, DateTimeSensor, ExternalTaskSensor,
                                               TimeDeltaSensor, TimeSensor)

        @dag(start_date=pendulum.datetime(2026, 1, 1), schedule=None)
        def old_sensors():
            TimeDeltaSensor(task_id="wait", delta=timedelta(0), poke_interval=1)

        old_sensors()
    """)
    write(flow.dags / "http_sensor.py", "from airflow.operators.sensors import HttpSensor\n")
    errors = flow("dags", "errors", "--json").json()
    assert [e["fileloc"].rsplit("/", 1)[-1] for e in errors] == ["http_sensor.py"]
    assert "apache-airflow-providers-http" in errors[0]["error"]
    res, doc, states = run_json(flow, "old_sensors")
    assert states == {"wait": "success"}, res.err


@pytest.mark.parametrize(("statement", "package"), [
    ("from airflow.hooks.postgres_hook import PostgresHook", "apache-airflow-providers-postgres"),
    ("from airflow.hooks.http_hook import HttpHook", "apache-airflow-providers-http"),
    ("from airflow.hooks.mysql_hook import MySqlHook", "apache-airflow-providers-mysql"),
    ("from airflow.operators.postgres_operator import PostgresOperator", "apache-airflow-providers-postgres"),
    ("from airflow.operators.mysql_operator import MySqlOperator", "apache-airflow-providers-mysql"),
    ("from airflow.operators.sql import SQLCheckOperator", "apache-airflow-providers-common-sql"),
    ("from airflow.sensors.sql import SqlSensor", "apache-airflow-providers-common-sql"),
    ("from airflow.operators.generic_transfer import GenericTransfer", "apache-airflow-providers-common-sql"),
    ("import airflow.hooks.S3_hook", "apache-airflow-providers-amazon"),
    ("from airflow.operators.mssql_operator import MsSqlOperator", "apache-airflow-providers-microsoft-mssql"),
], ids=lambda value: value.rsplit(" ", 1)[-1] if value.startswith("apache") else None)
def test_airflow_1_and_2_paths_into_providers_name_the_package(flow, statement, package):
    """A path Airflow moved to a provider is an import error naming that provider package."""
    write(flow.dags / "moved.py", f"from airflow import DAG\n{statement}\n")
    errors = flow("dags", "errors", "--json").json()
    assert len(errors) == 1 and f"provider package {package} " in errors[0]["error"], errors


def test_email_and_session_helpers_load_and_are_refused_when_used(flow):
    """send_email, provide_session and settings.Session import at load; calling them fails the
    task with one line saying why (no e-mail: notice channels; no metadata database)."""
    write(flow.dags / "helpers.py", """
        from airflow import DAG
        from airflow.operators.python import PythonOperator
        from airflow.settings import Session
        from airflow.utils.email import send_email
        from airflow.utils.session import provide_session

        @provide_session
        def count_runs(dag_id, session=None):
            return f"counted with {session}"

        def mail():
            send_email(to=["ops@example.com"], subject="it broke", html_content="<b>x</b>")

        with DAG("helpers", schedule=None):
            PythonOperator(task_id="mail", python_callable=mail)
            PythonOperator(task_id="session", python_callable=lambda: count_runs("d"))
            PythonOperator(task_id="own_session", python_callable=lambda: print(count_runs("d", "mine")))
            PythonOperator(task_id="settings_session", python_callable=lambda: Session())
    """)
    assert flow("dags", "errors").code == 0
    res, doc, states = run_json(flow, "helpers")
    assert states == {"mail": "failed", "session": "failed", "own_session": "success",
                      "settings_session": "failed"}
    logs = {t: flow("logs", "helpers", doc["run_id"], t).out for t in states}
    assert "flowctl sends no e-mail (to ops@example.com: it broke)" in logs["mail"]
    assert "FLOWCTL_NOTIFY_WEBHOOK" in logs["mail"]
    assert "@provide_session count_runs: flowctl has no metadata database" in logs["session"]
    assert "counted with mine" in logs["own_session"]
    assert "airflow.settings.Session: flowctl has no metadata database" in logs["settings_session"]


def test_conf_answers_airflows_options(flow):
    """conf.get follows Airflow's deprecated option names, reads AIRFLOW__SECTION__KEY under
    either name, answers the log folder under the flowctl home, keeps fallback=, and an
    unknown option's error names its section and key."""
    write(flow.dags / "conf.py", """
        from airflow import DAG
        from airflow.configuration import conf
        from airflow.exceptions import AirflowConfigException
        from airflow.operators.python import PythonOperator

        LOGS = conf.get("core", "BASE_LOG_FOLDER")

        def show():
            print("logs", LOGS == conf.get("logging", "base_log_folder"), LOGS)
            print("level", conf.get("logging", "logging_level"), conf.get("core", "logging_level"))
            print("concurrency", conf.getint("core", "dag_concurrency"))
            print("fallback", conf.get("core", "no_such_key", fallback="fb"))
            try:
                conf.get("core", "No_Such_Key")
            except AirflowConfigException as exc:
                print("error", exc)

        with DAG("conf", schedule=None):
            PythonOperator(task_id="show", python_callable=show)
    """)
    assert flow("dags", "errors").code == 0
    res, doc, states = run_json(flow, "conf", env={"AIRFLOW__CORE__LOGGING_LEVEL": "DEBUG",
                                                   "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "7"})
    assert states == {"show": "success"}, res.err
    log = flow("logs", "conf", doc["run_id"], "show").out
    assert f"logs True {flow.home.resolve() / 'logs'}" in log
    assert "level DEBUG DEBUG" in log and "concurrency 7" in log and "fallback fb" in log
    assert "error section/key [core/no_such_key] not found in config" in log


def test_names_real_dag_files_use_and_the_dates_and_states_they_see(flow):
    """From a real corpus: `from airflow import Dataset, XComArg, Asset`,
    `is_venv_installed`, `dag.schedule_interval` and `dag.timetable.summary` load; a
    template's dates are UTC in a DAG made through `airflow`, as Airflow renders them (a
    07:00 Seoul run has yesterday's `ds`); a callback sees the state its event set."""
    write(flow.dags / "corpus.py", """
        import pendulum
        from airflow import DAG, Asset, Dataset, XComArg
        from airflow.operators.bash import BashOperator
        from airflow.operators.python import PythonOperator, is_venv_installed

        def cb(context):
            print("SEEN", context["task_instance"].state if context.get("task") else "-", context["dag_run"].state)

        def boom():
            raise ValueError("no")

        with DAG("seoul", start_date=pendulum.datetime(2023, 2, 1, tz="Asia/Seoul"), schedule_interval="0 7 * * *",
                 on_failure_callback=cb) as dag:
            assert (dag.schedule_interval, dag.timetable.summary) == ("0 7 * * *", "0 7 * * *")
            assert is_venv_installed() and Asset and XComArg
            BashOperator(task_id="day", bash_command="echo DS={{ ds }} TS={{ ts }}", outlets=[Dataset("s3://x")])
            PythonOperator(task_id="ok", python_callable=lambda: 1, on_success_callback=cb)
            PythonOperator(task_id="bad", python_callable=boom, on_failure_callback=cb)
    """)
    assert flow("dags", "errors").code == 0
    res, doc, states = run_json(flow, "seoul", "--logical-date", "2026-11-20 07:00")
    assert states == {"day": "success", "ok": "success", "bad": "failed"}, res.err
    run_id = doc["run_id"]
    assert "DS=2026-11-19 TS=2026-11-19T22:00:00+00:00" in flow("logs", "seoul", run_id, "day").out
    assert "SEEN success running" in flow("logs", "seoul", run_id, "ok").out
    assert "SEEN failed running" in flow("logs", "seoul", run_id, "bad").out
    dag_log = "".join(p.read_text() for p in flow.home.rglob("*callback*.log"))
    assert "SEEN - failed" in dag_log, dag_log


def test_more_idioms_real_dag_files_use(flow):
    """From a second corpus: `@dag("id", ...)` with the id first, `"@Daily"` (croniter
    reads presets in any case), `WeekDay` from airflow.operators.weekday and Airflow 2's
    `use_task_execution_day`, a task's own value for a DAG-level Param, and the state an
    on_skipped_callback sees."""
    write(flow.dags / "idioms.py", """
        import pendulum
        from airflow.decorators import dag, task
        from airflow.exceptions import AirflowSkipException
        from airflow.models.param import Param
        from airflow.operators.python import PythonOperator
        from airflow.operators.weekday import BranchDayOfWeekOperator, WeekDay

        def seen(context):
            print("SKIPPED-STATE", context["ti"].state)

        def skip():
            raise AirflowSkipException("not today")

        @dag("first_arg_id", start_date=pendulum.datetime(2026, 1, 1), schedule="@Daily",
             params={"x": Param(5, type="integer")})
        def idioms():
            @task
            def show(**context):
                print("X", context["params"]["x"])

            branch = BranchDayOfWeekOperator(task_id="day", follow_task_ids_if_true=["s"],
                                             follow_task_ids_if_false=["s"], week_day={WeekDay.MONDAY},
                                             use_task_execution_day=True)
            s = PythonOperator(task_id="s", python_callable=skip, on_skipped_callback=seen)
            own = PythonOperator(task_id="own", python_callable=lambda params: print("OWN", params["x"]),
                                 params={"x": 10})
            branch >> s
            show() >> own

        idioms()
    """)
    assert flow("dags", "errors").code == 0
    assert [d["schedule"] for d in flow("dags", "list", "--json").json()] == ["@Daily"]
    res, doc, states = run_json(flow, "first_arg_id")
    assert states == {"show": "success", "own": "success", "day": "success", "s": "skipped"}, res.err
    run_id = doc["run_id"]
    assert "X 5" in flow("logs", "first_arg_id", run_id, "show").out
    assert "OWN 10" in flow("logs", "first_arg_id", run_id, "own").out
    assert "SKIPPED-STATE skipped" in flow("logs", "first_arg_id", run_id, "s").out


def test_op_args_given_as_a_template_or_an_xcom_stand_for_the_whole_list(flow):
    """`op_args="{{ dag_run.conf['numbers'] }}"` with native rendering, `op_args=xs()` and
    `op_args=xs().zip(ys())` are rendered or pulled whole when the try runs (a string
    was split into characters at load, and the others failed to load)."""
    write(flow.dags / "opargs.py", """
        import pendulum
        from airflow import DAG
        from airflow.decorators import task
        from airflow.operators.python import PythonOperator

        def add(*nums):
            print("ARGS", nums)

        with DAG("opargs", start_date=pendulum.datetime(2026, 1, 1), schedule=None, render_template_as_native_obj=True):
            PythonOperator(task_id="t", python_callable=add, op_args="{{ dag_run.conf['numbers'] }}")

            @task
            def xs():
                return [1, 2]

            @task
            def ys():
                return [3, 4]

            PythonOperator(task_id="x", python_callable=add, op_args=xs())
            PythonOperator(task_id="z", python_callable=add, op_args=xs().zip(ys()))
    """)
    assert flow("dags", "errors").code == 0
    res, doc, states = run_json(flow, "opargs", "--conf", '{"numbers": [5, 6]}')
    assert set(states.values()) == {"success"}, res.err
    logs = {t: flow("logs", "opargs", doc["run_id"], t).out for t in ("t", "x", "z")}
    assert "ARGS (5, 6)" in logs["t"] and "ARGS (1, 2)" in logs["x"] and "ARGS ((1, 3), (2, 4))" in logs["z"], logs
