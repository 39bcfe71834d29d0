"""An existing Airflow DAG folder, unchanged, through the real `flowctl` command:
the folder rules, the import path, warnings, Variables and Connections, secrets."""

from __future__ import annotations

import json
import os
import stat
import textwrap

import pytest

pytestmark = pytest.mark.timeout(120)


def write(path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


def run_json(flow, *args, env=None):
    res = flow("run", *args, "--json", env=env)
    assert res.out, res.err
    doc = res.json()
    return res, doc, {t["task_id"]: t["state"] for t in doc["tasks"]}


def test_an_airflow_folder_loads_as_airflow_reads_it(flow):
    """The folder root and plugins/ beside it are on the import path (a DAG in a subfolder
    imports a helper package at the root); .airflowignore is honoured; a helper module that
    mentions neither dag nor airflow is not imported (safe mode)."""
    write(flow.dags / "common" / "__init__.py", "")
    write(flow.dags / "common" / "naming.py", "def table(name):\n    return 'stg_' + name\n")
    write(flow.root / "plugins" / "my_plugin.py", "GREETING = 'hello from plugins'\n")
    write(flow.dags / "helpers_raise.py", "raise RuntimeError('a helper that must not be imported')\n")
    write(flow.dags / "legacy" / "old_dag.py", "from airflow import DAG\nraise RuntimeError('ignored by .airflowignore')\n")
    write(flow.dags / ".airflowignore", "legacy/\n")
    write(flow.dags / "team" / "etl.py", """
        from datetime import timedelta
        from airflow import DAG
        from airflow.operators.python import PythonOperator
        from airflow.operators.bash import BashOperator
        from airflow.utils.dates import days_ago
        from common.naming import table
        from my_plugin import GREETING

        def load(**context):
            print(GREETING, table("orders"), context["ds"])
            return table("orders")

        with DAG("team_etl", default_args={"owner": "team", "retries": 1, "start_date": days_ago(1)},
                 schedule_interval="@daily", catchup=False) as dag:
            extract = BashOperator(task_id="extract", bash_command="echo {{ ds }}")
            PythonOperator(task_id="load", python_callable=load, provide_context=True) << extract
    """)
    errors = flow("dags", "errors", "--json")
    assert errors.code == 0, errors.out
    dags = flow("dags", "list", "--json").json()
    assert [d["dag_id"] for d in dags] == ["team_etl"]
    assert dags[0]["schedule"] == "@daily"
    res, doc, states = run_json(flow, "team_etl")
    assert res.code == 0 and states == {"extract": "success", "load": "success"}
    log = flow("logs", "team_etl", doc["run_id"], "load").out
    assert "hello from plugins stg_orders" in log
    assert {x["key"]: x["value"] for x in flow("xcom", "list", "team_etl", doc["run_id"], "--json").json()
            if x["task_id"] == "load"} == {"return_value": "stg_orders"}


def test_safe_mode_can_be_turned_off(flow):
    """With dag_discovery_safe_mode off, every .py file is imported (and a raising helper is an error)."""
    write(flow.dags / "helper.py", "raise RuntimeError('imported')\n")
    assert flow("dags", "errors").code == 0
    res = flow("dags", "errors", "--json", env={"FLOWCTL_DAG_DISCOVERY_SAFE_MODE": "false"})
    assert res.code == 1 and "RuntimeError: imported" in res.json()[0]["error"]


def test_dags_warnings_lists_what_is_accepted_and_ignored(flow):
    """One line per (DAG, argument): where it was given and what happens instead; --json too."""
    write(flow.dags / "w.py", """
        import pendulum
        from datetime import timedelta
        from airflow import DAG
        from airflow.operators.empty import EmptyOperator
        with DAG("warned", start_date=pendulum.datetime(2026, 1, 1), schedule="@daily",
                 default_args={"sla": timedelta(hours=1)}, access_control={"ops": {"can_read"}},
                 is_paused_upon_creation=True):
            EmptyOperator(task_id="a", pool_slots=2, queue="fast", weight_rule="upstream")
            EmptyOperator(task_id="b", queue="fast")
    """)
    res = flow("dags", "warnings")
    assert res.code == 0
    lines = res.out.strip().splitlines()
    assert "dags/w.py: warned: queue (tasks a, b): accepted and ignored: one local queue" in lines
    assert "dags/w.py: warned: sla (default_args): accepted and ignored: SLAs are not checked" in lines
    assert any(line.startswith("dags/w.py: warned: access_control (DAG): accepted and ignored") for line in lines)
    assert not any("pool_slots" in line for line in lines)  # enforced (pools)
    assert any("is_paused_upon_creation (DAG): recorded" in line for line in lines)
    doc = flow("dags", "warnings", "--json").json()
    assert {w["dag_id"] for w in doc} == {"warned"} and len(doc) == len(lines)
    assert all(set(w) == {"fileloc", "dag_id", "warning"} for w in doc)


def test_variables_commands_and_tasks_reading_them(flow):
    """set/get/list/delete/import/export as Airflow's CLI; tasks read them (templates,
    Variable.get) with AIRFLOW_VAR_ overriding; sensitive values are *** wherever shown."""
    assert flow("variables", "set", "bucket", "s3://raw").code == 0
    assert flow("variables", "set", "cfg", '{"region": "eu"}', "--serialize-json").code == 0
    assert flow("variables", "set", "api_token", "tok-424242", "--description", "the API token").code == 0
    assert flow("variables", "get", "bucket").out == "s3://raw\n"
    assert flow("variables", "get", "api_token").out == "***\n"
    missing = flow("variables", "get", "nope")
    assert missing.code == 1 and "Variable nope does not exist" in missing.err
    assert flow("variables", "get", "nope", "--default", "d").out == "d\n"
    listed = flow("variables", "list", "--json").json()
    assert {v["key"]: v["value"] for v in listed}["api_token"] == "***"
    assert "tok-424242" not in flow("variables", "list").out
    path = flow.home / "variables.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    exported = flow.root / "vars.json"
    assert flow("variables", "export", str(exported)).code == 0
    assert json.loads(exported.read_text())["cfg"] == {"region": "eu"}
    assert stat.S_IMODE(exported.stat().st_mode) == 0o600
    assert flow("variables", "delete", "bucket").code == 0
    assert flow("variables", "delete", "bucket").code == 1
    assert flow("variables", "import", str(exported)).code == 0
    assert flow("variables", "get", "bucket").out == "s3://raw\n"

    write(flow.dags / "v.py", """
        from airflow import DAG
        from airflow.models import Variable
        from airflow.operators.bash import BashOperator
        from airflow.operators.python import PythonOperator

        def use(**context):
            print("token", Variable.get("api_token"), "region", Variable.get("cfg", deserialize_json=True)["region"])
            print("default", Variable.get("absent", default_var="dflt"))

        with DAG("uses_vars", schedule=None):
            BashOperator(task_id="tpl", bash_command="echo {{ var.value.bucket }} {{ var.json.cfg.region }}")
            PythonOperator(task_id="py", python_callable=use)
    """)
    res, doc, states = run_json(flow, "uses_vars", env={"AIRFLOW_VAR_BUCKET": "s3://env-wins"})
    assert res.code == 0, states
    assert "s3://env-wins eu" in flow("logs", "uses_vars", doc["run_id"], "tpl").out
    py_log = flow("logs", "uses_vars", doc["run_id"], "py").out
    assert "token *** region eu" in py_log and "default dflt" in py_log and "tok-424242" not in py_log


def test_connections_commands_and_tasks_reading_them(flow):
    """add (URI or fields)/get/list/delete; the password is never printed; tasks read
    connections through BaseHook and {{ conn.id.field }}, and their password is redacted."""
    res = flow("connections", "add", "my_db", "--conn-uri", "postgres://ann:pw-31337@db.local:5432/sales?sslmode=require")
    assert res.code == 0 and "pw-31337" not in res.out
    assert flow("connections", "add", "api", "--conn-type", "http", "--conn-host", "api.example",
                "--conn-password", "pw-api-999", "--conn-extra", '{"token": "tk-1234"}').code == 0
    assert flow("connections", "add", "bad", "--conn-uri", "x://h", "--conn-type", "http").code == 2
    shown = flow("connections", "get", "my_db", "--json").json()
    assert shown["host"] == "db.local" and shown["port"] == 5432 and shown["password"] == "***"
    assert shown["extra"] == {"sslmode": "require"}
    everything = "".join(flow(*args).out for args in (
        ("connections", "list"), ("connections", "list", "--json"), ("connections", "get", "api"),
        ("connections", "get", "api", "--json")))
    assert "pw-31337" not in everything and "pw-api-999" not in everything and "tk-1234" not in everything
    assert stat.S_IMODE((flow.home / "connections.json").stat().st_mode) == 0o600

    write(flow.dags / "c.py", """
        from airflow import DAG
        from airflow.hooks.base import BaseHook
        from airflow.operators.bash import BashOperator
        from airflow.operators.python import PythonOperator

        def use():
            conn = BaseHook.get_connection("my_db")
            print(conn.login, conn.password, conn.schema, conn.extra_dejson["sslmode"], conn.get_uri())

        with DAG("uses_conns", schedule=None):
            BashOperator(task_id="tpl", bash_command="echo {{ conn.my_db.host }}:{{ conn.my_db.port }}")
            PythonOperator(task_id="py", python_callable=use)
    """)
    res, doc, states = run_json(flow, "uses_conns")
    assert res.code == 0, states
    assert "db.local:5432" in flow("logs", "uses_conns", doc["run_id"], "tpl").out
    py_log = flow("logs", "uses_conns", doc["run_id"], "py").out
    assert "ann *** sales require postgres://ann:***@db.local:5432/sales" in py_log
    assert "pw-31337" not in py_log
    assert flow("connections", "delete", "my_db").code == 0
    assert flow("connections", "get", "my_db").code == 1


def test_secrets_stay_out_of_logs_and_the_dag_cache(flow):
    """A sensitive param's default is *** in the DAG cache; a sensitive conf value printed by a task is *** in its log."""
    write(flow.dags / "s.py", """
        from airflow import DAG
        from airflow.operators.python import PythonOperator

        def show(params, dag_run):
            print("params", params)
            print("conf password", dag_run.conf["password"])

        with DAG("secrets", schedule=None, params={"db_password": "hunter2222", "user": "ann"}):
            PythonOperator(task_id="show", python_callable=show)
    """)
    res, doc, states = run_json(flow, "secrets", "--conf", '{"password": "conf-pw-1"}')
    assert res.code == 0
    log = flow("logs", "secrets", doc["run_id"], "show").out
    assert "hunter2222" not in log and "conf-pw-1" not in log
    assert "'db_password': '***'" in log and "conf password ***" in log
    cache = (flow.home / "cache" / "dagbag.json").read_text()
    assert "hunter2222" not in cache


def test_secrets_a_task_passes_on_stay_masked_in_xcom_list_and_its_log(flow):
    """A task that returns the conf's password, a sensitive Variable's value, or a dict
    with a secret-looking key: `xcom list` (and --json) and the log show ***."""
    write(flow.dags / "p.py", """
        from airflow import DAG
        from airflow.decorators import task
        from airflow.models import Variable

        with DAG("passon", schedule=None):
            @task
            def from_conf(dag_run=None):
                return dag_run.conf["password"]

            @task
            def from_variable():
                return Variable.get("my_api_token")

            @task
            def as_dict():
                return {"user": "ann", "api_key": "key-55555"}

            from_conf()
            from_variable()
            as_dict()
    """)
    assert flow("variables", "set", "my_api_token", "vvv-123456").code == 0
    res, doc, states = run_json(flow, "passon", "--conf", '{"password": "conf-pw-111111"}')
    assert res.code == 0, res.err
    shown = flow("xcom", "list", "passon", doc["run_id"]).out + flow("xcom", "list", "passon", doc["run_id"], "--json").out
    for secret in ("conf-pw-111111", "vvv-123456", "key-55555"):
        assert secret not in shown
    assert "***" in shown and "ann" in shown
    log = flow("logs", "passon", doc["run_id"], "as_dict").out
    assert "key-55555" not in log and "'api_key': '***'" in log


def test_email_operator_sends_a_notice(flow, tmp_path):
    """EmailOperator delivers its message through the notice channels (here: the command)."""
    out = tmp_path / "notices.txt"
    write(flow.dags / "e.py", """
        from airflow import DAG
        from airflow.operators.email import EmailOperator
        with DAG("mail", schedule=None):
            EmailOperator(task_id="tell", to="ops@example.com", subject="Done {{ ds }}",
                          html_content="<b>All</b> good")
    """)
    env = {"FLOWCTL_NOTIFY_COMMAND": f'echo "$FLOWCTL_EVENT|$FLOWCTL_MESSAGE" >> {out}'}
    res, doc, states = run_json(flow, "mail", env=env)
    assert res.code == 0 and states == {"tell": "success"}
    assert out.read_text().startswith("email|To ops@example.com: Done ")
    assert "All good" in out.read_text()


def test_ids_that_leave_the_home_are_refused(flow, tmp_path):
    """A task_id like ../../x is an import error (it used to write its log outside the home)."""
    target = tmp_path / "escaped"
    write(flow.dags / "trav.py", f"""
        from flowctl import DAG, EmptyOperator
        with DAG("trav", schedule=None):
            EmptyOperator(task_id="../../../../{target.relative_to('/')}")
    """)
    errors = flow("dags", "errors", "--json").json()
    assert len(errors) == 1 and "task_id '../../../.." in errors[0]["error"] and "(line 4)" in errors[0]["error"]
    assert flow("run", "trav").code == 1
    assert not os.path.exists(target)
