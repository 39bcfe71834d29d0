"""Airflow's own example DAGs (tests/airflow_examples, copied unchanged from
apache/airflow) load from a DAG folder and end, under the real `flowctl run`,
with the task states, XComs and log lines Airflow gives them.

Examples that need what flowctl does not have (Airflow's own example plugins,
the `@asset` decorator, ...) are listed in README "Moving from Airflow"; the
ones copied here that do not load are asserted to fail with the line that says
why.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(240)

EXAMPLES = Path(__file__).parent.parent / "airflow_examples"

LOADS = {
    "example_asset_alias.py": ["asset_s3_bucket_producer", "asset_alias_example_alias_producer",
                               "asset_s3_bucket_consumer", "asset_alias_example_alias_consumer"],
    "example_assets.py": ["asset_produces_1", "asset_produces_2", "asset_consumes_1", "asset_consumes_1_and_2",
                          "asset_consumes_1_never_scheduled", "asset_consumes_unknown_never_scheduled",
                          "consume_1_and_2_with_asset_expressions", "consume_1_or_2_with_asset_expressions",
                          "consume_1_or_both_2_and_3_with_asset_expressions",
                          "conditional_asset_and_time_based_timetable"],
    "example_external_task_marker_dag.py": ["example_external_task_marker_parent",
                                            "example_external_task_marker_child"],
    "example_inlet_event_extra.py": ["read_asset_event", "read_asset_event_from_classic"],
    "example_outlet_event_extra.py": ["asset_with_extra_by_yield", "asset_with_extra_by_context",
                                      "asset_with_extra_from_classic_operator"],
    "example_trigger_controller_dag.py": ["example_trigger_controller_dag"],
    "example_bash_decorator.py": ["example_bash_decorator"],
    "example_bash_operator.py": ["example_bash_operator"],
    "example_branch_datetime_operator.py": ["example_branch_datetime_operator", "example_branch_datetime_operator_2",
                                            "example_branch_datetime_operator_3"],
    "example_branch_labels.py": ["example_branch_labels"],
    "example_branch_operator.py": ["example_branch_operator"],
    "example_branch_operator_decorator.py": ["example_branch_python_operator_decorator"],
    "example_branch_python_dop_operator_3.py": ["example_branch_dop_operator_v3"],
    "example_complex.py": ["example_complex"],
    "example_display_name.py": ["example_display_name"],
    "example_dynamic_task_mapping.py": ["example_dynamic_task_mapping", "example_task_mapping_second_order"],
    "example_dynamic_task_mapping_with_no_taskflow_operators.py": [
        "example_dynamic_task_mapping_with_no_taskflow_operators"],
    "example_failed_dag.py": ["example_failed_dag"],
    "example_latest_only.py": ["latest_only"],
    "example_latest_only_with_trigger.py": ["latest_only_with_trigger"],
    "example_markdown_doc.py": ["example_markdown_doc"],
    "example_multi_type_params.py": ["example_params_multi_type_tutorial"],
    "example_nested_branch_dag.py": ["example_nested_branch_dag"],
    "example_params_sections_collapsed.py": ["example_params_sections_collapsed"],
    "example_params_ui_tutorial.py": ["example_params_ui_tutorial"],
    "example_passing_params_via_test_command.py": ["example_passing_params_via_test_command"],
    "example_python_decorator.py": ["example_python_decorator"],
    "example_python_operator.py": ["example_python_operator"],
    "example_rag_dag.py": ["example_rag_failure_analysis"],
    "example_sensor_decorator.py": ["example_sensor_decorator"],
    "example_sensors.py": ["example_sensors"],
    "example_setup_teardown.py": ["example_setup_teardown"],
    "example_setup_teardown_taskflow.py": ["example_setup_teardown_taskflow"],
    "example_short_circuit_decorator.py": ["example_short_circuit_decorator"],
    "example_short_circuit_operator.py": ["example_short_circuit_operator"],
    "example_simplest_dag.py": ["example_simplest_dag"],
    "example_skip_dag.py": ["example_skip_dag"],
    "example_task_group.py": ["example_task_group"],
    "example_task_group_decorator.py": ["example_task_group_decorator"],
    "example_time_delta_sensor_async.py": ["example_time_delta_sensor_async"],
    "example_trigger_target_dag.py": ["example_trigger_target_dag"],
    "example_xcom.py": ["example_xcom"],
    "example_xcomargs.py": ["example_xcom_args", "example_xcom_args_with_operators"],
    "tutorial.py": ["tutorial"],
    "tutorial_dag.py": ["tutorial_dag"],
    "tutorial_taskflow_api.py": ["tutorial_taskflow_api"],
    "tutorial_taskflow_api_virtualenv.py": ["tutorial_taskflow_api_virtualenv"],
    "tutorial_taskflow_templates.py": ["tutorial_taskflow_templates"],
}
REFUSED = {
    "example_custom_weight.py": "no module airflow.example_dags",  # Airflow's own example plugins
    "example_workday_timetable.py": "no module airflow.example_dags",
    "example_dag_decorator.py": "No module named 'httpx'",  # a third-party library (and the network)
}


def use(flow, *names: str, folder: str = "core") -> None:
    for name in names:
        shutil.copy(EXAMPLES / folder / name, flow.dags / name)
        if name == "example_params_ui_tutorial.py":  # it reads its choices from this file beside it
            shutil.copy(EXAMPLES / folder / "example_params_ui_interfaces.ini", flow.dags)
    if folder == "core" and not (flow.dags / "sql").exists():
        shutil.copytree(EXAMPLES / "core" / "sql", flow.dags / "sql")


def run(flow, dag_id: str, *args: str, env=None) -> tuple[int, str, dict[str, str]]:
    res = flow("run", dag_id, *args, "--json", env=env, timeout=200)
    assert res.out, res.err
    doc = res.json()
    return res.code, doc["run_id"], {t["task_id"]: t["state"] for t in doc["tasks"]}


def log(flow, dag_id: str, run_id: str, task_id: str) -> str:
    """The latest try's log: read where `flowctl logs` reads it (a run id), or through the command."""
    if "__" not in run_id:
        return flow("logs", dag_id, run_id, task_id).out
    from flowctl.store import Store

    tries = sorted(Store(flow.home).log_path(dag_id, run_id, task_id, 1).parent.glob("*.log"),
                   key=lambda p: int(p.stem))
    return tries[-1].read_text() if tries else ""


def xcom(flow, dag_id: str, run_id: str) -> dict[tuple[str, str], object]:
    return {(x["task_id"], x["key"]): x["value"] for x in flow("xcom", "list", dag_id, run_id, "--json").json()}


def test_every_example_loads_or_says_why(flow):
    """All the core examples copied here, in one DAG folder: 48 files (68 DAGs) load
    unchanged; the other 3 are import errors that name what is missing."""
    use(flow, *(p.name for p in (EXAMPLES / "core").glob("*.py")))
    dags = {d["dag_id"]: d for d in flow("dags", "list", "--json").json()}
    assert sorted(dags) == sorted(dag_id for ids in LOADS.values() for dag_id in ids)
    errors = {e["fileloc"].rsplit("/", 1)[-1]: e["error"] for e in flow("dags", "errors", "--json").json()}
    assert set(errors) == set(REFUSED)
    for name, words in REFUSED.items():
        assert words in errors[name]
    assert dags["tutorial"]["schedule"] == "1 day, 0:00:00" and dags["example_bash_operator"]["schedule"] == "0 0 * * *"


def test_standard_provider_examples_load(flow):
    """The standard provider's copies load too (their own folder: they reuse core dag_ids)."""
    use(flow, "example_bash_operator.py", "example_branch_day_of_week_operator.py",
        "example_measurement_correction_decorator.py", folder="standard")
    assert flow("dags", "errors").code == 0
    code, _, states = run(flow, "example_bash_operator")
    assert code == 0 and (states["this_will_skip"], states["run_this_last"], states["run_after_loop"]) == (
        "skipped", "skipped", "success")
    code, run_id, states = run(flow, "example_measurement_correction_decorator")
    assert code == 0 and set(states.values()) == {"success"}
    assert xcom(flow, "example_measurement_correction_decorator", run_id)[("apply_correction", "return_value")] == 110.00000000000001
    code, run_id, states = run(flow, "example_weekday_branch_operator")
    today = dt.datetime.now(dt.UTC).isoweekday()
    monday, weekend = today == 1, today in (6, 7)
    assert states["branch_true"] == ("success" if monday else "skipped")
    assert states["branch_false"] == ("skipped" if monday else "success")
    if not monday:
        assert states["branch_weekend"] == ("success" if weekend else "skipped")
        assert states["branch_mid_week"] == ("skipped" if weekend else "success")


def test_dynamic_task_mapping_examples(flow):
    """expand over a literal list, over an upstream's value, over a mapped task's values,
    and a classic operator's .partial().expand(); the reducer gets the values in order."""
    use(flow, "example_dynamic_task_mapping.py", "example_dynamic_task_mapping_with_no_taskflow_operators.py")

    def instances(dag_id: str) -> tuple[int, str, dict[str, str]]:
        res = flow("run", dag_id, "--json", timeout=200)
        doc = res.json()
        return res.code, doc["run_id"], {
            t["task_id"] + (f"[{t['map_index']}]" if t["map_index"] >= 0 else ""): t["state"] for t in doc["tasks"]}

    code, run_id, states = instances("example_dynamic_task_mapping")
    assert code == 0 and states == {"add_one[0]": "success", "add_one[1]": "success", "add_one[2]": "success",
                                    "sum_it": "success"}
    assert "Total was 9" in log(flow, "example_dynamic_task_mapping", run_id, "sum_it")
    values = flow("xcom", "list", "example_dynamic_task_mapping", run_id, "--task", "add_one", "--json").json()
    assert [(x["map_index"], x["value"]) for x in values] == [(0, 2), (1, 3), (2, 4)]

    code, run_id, states = instances("example_task_mapping_second_order")
    assert code == 0 and states == {"get_nums": "success", **{f"times_2[{i}]": "success" for i in range(3)},
                                    **{f"add_10[{i}]": "success" for i in range(3)}}
    values = flow("xcom", "list", "example_task_mapping_second_order", run_id, "--task", "add_10", "--json").json()
    assert [x["value"] for x in values] == [12, 14, 16]
    one = flow("logs", "example_task_mapping_second_order", run_id, "add_10", "--map-index", "2")
    assert one.code == 0 and "Returned value was: 16" in one.out
    whole = flow("logs", "example_task_mapping_second_order", run_id, "add_10")
    assert whole.code == 2 and "choose one with --map-index 0..2" in whole.err

    code, run_id, states = instances("example_dynamic_task_mapping_with_no_taskflow_operators")
    assert code == 0 and states == {"add_one[0]": "success", "add_one[1]": "success", "add_one[2]": "success",
                                    "sum_it": "success"}
    assert xcom(flow, "example_dynamic_task_mapping_with_no_taskflow_operators", run_id)[("sum_it", "return_value")] == 9


def test_bash_examples(flow):
    """BashOperator and @task.bash: templates, exit code 99 skips, all_done joins, the key string."""
    use(flow, "example_bash_operator.py", "example_bash_decorator.py", "example_complex.py")
    code, run_id, states = run(flow, "example_bash_operator", "--logical-date", "2026-03-02")
    assert code == 0
    assert states == {"runme_0": "success", "runme_1": "success", "runme_2": "success", "run_after_loop": "success",
                      "also_run_this": "success", "this_will_skip": "skipped", "run_this_last": "skipped"}
    assert "example_bash_operator__runme_1__20260302" in log(flow, "example_bash_operator", run_id, "runme_1")
    assert "ti_key=example_bash_operator__also_run_this__20260302" in log(flow, "example_bash_operator", run_id, "also_run_this")
    assert "Bash command returned exit code 99. Skipping." in log(flow, "example_bash_operator", run_id, "this_will_skip")

    code, run_id, states = run(flow, "example_bash_decorator", "--logical-date", "2026-03-02")
    # get_file_stats stats airflow/example_dags/*.py under the working directory: only Airflow's
    # own source checkout has them; elsewhere `stat` gets no operand and fails, in Airflow too.
    assert code == 1 and states.pop("get_file_stats") == "failed"
    assert states == {"runme_0": "success", "runme_1": "success", "runme_2": "success", "run_after_loop": "success",
                      "also_run_this": "success", "also_run_this_again": "success", "this_will_skip": "skipped",
                      "run_this_last": "success", "sleep_in": "skipped", "make_dynamic_dirs": "success"}
    assert "ti_key=example_bash_decorator__also_run_this_again__20260302" in log(
        flow, "example_bash_decorator", run_id, "also_run_this_again")
    assert "No sleeping in today!" in log(flow, "example_bash_decorator", run_id, "sleep_in")
    assert (flow.home / "2026" / "03" / "02" / "foo" / "bar" / "baz").is_dir()  # $AIRFLOW_HOME is the home

    code, run_id, states = run(flow, "example_complex")
    assert code == 0 and len(states) == 37 and set(states.values()) == {"success"}


def test_branch_and_skip_examples(flow):
    """@task.branch with depends_on_past, nested branches, short circuits with and without
    ignore_downstream_trigger_rules, a custom skipping operator, datetime branches, Labels."""
    use(flow, "example_branch_python_dop_operator_3.py", "example_nested_branch_dag.py",
        "example_short_circuit_operator.py", "example_short_circuit_decorator.py", "example_skip_dag.py",
        "example_branch_datetime_operator.py", "example_branch_labels.py")
    for minute, chosen, other in ((2, "empty_task_1", "empty_task_2"), (3, "empty_task_2", "empty_task_1")):
        code, run_id, states = run(flow, "example_branch_dop_operator_v3", "--logical-date", f"2026-01-01T00:0{minute}")
        assert code == 0 and (states[chosen], states[other]) == ("success", "skipped")
        assert f"minute = {minute}" in log(flow, "example_branch_dop_operator_v3", run_id, "should_run")
    code, _, states = run(flow, "example_nested_branch_dag")
    assert code == 0 and states == {"branch_1": "success", "true_1": "success", "false_1": "skipped",
                                    "branch_2": "skipped", "true_2": "skipped", "false_2": "skipped",
                                    "join_2": "skipped", "false_3": "skipped", "join_1": "success"}
    expected = {"task_1": "success", "task_2": "success", "task_3": "success", "task_5": "success",
                "short_circuit": "success", "task_4": "skipped", "task_6": "skipped", "task_7": "success",
                "true_1": "success", "true_2": "success", "false_1": "skipped", "false_2": "skipped"}
    code, _, states = run(flow, "example_short_circuit_operator")
    assert code == 0 and states == {**expected, "condition_is_True": "success", "condition_is_False": "success"}
    code, _, states = run(flow, "example_short_circuit_decorator")
    assert code == 0 and states == {**expected, "condition_is_true": "success", "condition_is_false": "success"}
    code, _, states = run(flow, "example_skip_dag")
    assert code == 0 and states == {"skip_operator_1": "skipped", "always_true_1": "success", "all_success": "skipped",
                                    "final_1": "skipped", "skip_operator_2": "skipped", "always_true_2": "success",
                                    "one_success": "success", "final_2": "success"}
    code, _, states = run(flow, "example_branch_datetime_operator_3", "--logical-date", "2020-10-10T14:30")
    assert code == 0 and (states["date_in_range"], states["date_outside_range"]) == ("success", "skipped")
    code, _, states = run(flow, "example_branch_datetime_operator")  # now is not in 2020
    assert code == 0 and (states["date_in_range"], states["date_outside_range"]) == ("skipped", "success")
    code, _, states = run(flow, "example_branch_labels")
    assert code == 0 and set(states.values()) == {"success"}


def test_latest_only_examples(flow):
    """A manual run is the latest; an old interval (a backfill) skips what follows latest_only,
    and an all_done task still runs."""
    use(flow, "example_latest_only.py", "example_latest_only_with_trigger.py")
    code, _, states = run(flow, "latest_only")
    assert code == 0 and states == {"latest_only": "success", "task1": "success"}
    code, _, states = run(flow, "latest_only_with_trigger")
    assert code == 0 and set(states.values()) == {"success"}
    res = flow("backfill", "latest_only_with_trigger", "--start", "2026-01-01T00:00", "--end", "2026-01-01T00:00")
    assert res.code == 0, res.out + res.err
    states = {t["task_id"]: t["state"]
              for t in flow("tasks", "states", "latest_only_with_trigger", "2026-01-01T00:00", "--json").json()}
    assert states == {"latest_only": "success", "task1": "skipped", "task2": "success", "task3": "skipped",
                      "task4": "success"}
    assert "Not latest execution, skipping downstream." in log(flow, "latest_only_with_trigger", "2026-01-01T00:00",
                                                               "latest_only")


def test_params_ui_tutorial(flow):
    """Airflow's params tutorial: a run without its required param, or with a value a
    Param's schema refuses, is not made (exit 2, the param and the rule named); with the
    required text every default (dates, enums, arrays, multi-type, const) validates and
    the task sees them all."""
    use(flow, "example_params_ui_tutorial.py")
    before = flow.state_files()
    res = flow("run", "example_params_ui_tutorial")
    assert res.code == 2 and "param 'required_field' has no default and --conf does not give it" in res.err
    res = flow("run", "example_params_ui_tutorial", "--conf", '{"required_field": "short"}')
    assert res.code == 2 and "'short' is too short (rule: minLength)" in res.err
    res = flow("run", "example_params_ui_tutorial", "--conf",
               '{"required_field": "long enough text", "pick_one": "value 99"}')
    assert res.code == 2 and "param 'pick_one' = \"value 99\" is refused" in res.err and "(rule: enum)" in res.err
    assert flow.state_files() == before
    code, run_id, states = run(flow, "example_params_ui_tutorial", "--conf",
                               '{"required_field": "long enough text", "batch_size": "all"}')
    assert code == 0 and states == {"show_params": "success"}
    out = log(flow, "example_params_ui_tutorial", run_id, "show_params")
    assert '"required_field": "long enough text"' in out and '"batch_size": "all"' in out
    assert '"script_interface": "InterfaceA"' in out and '"most_loved_number": 42' in out


def test_setup_teardown_examples(flow):
    """as_setup/as_teardown with task groups, and @setup/@teardown with the context
    manager: the graph Airflow draws, every task succeeds, teardowns run last;
    clearing a work task takes its setup and teardown with it."""
    use(flow, "example_setup_teardown.py", "example_setup_teardown_taskflow.py")
    tasks = {t["task_id"]: t for t in flow("tasks", "list", "example_setup_teardown", "--json").json()}
    assert tasks["root_teardown"]["is_teardown"] and tasks["root_setup"]["is_setup"]
    assert tasks["root_teardown"]["trigger_rule"] == "all_done_setup_success"
    assert tasks["section_1.taskgroup_setup"]["upstream"] == ["normal"]
    assert sorted(tasks["root_teardown"]["upstream"]) == ["normal", "root_setup"]
    code, run_id, states = run(flow, "example_setup_teardown")
    assert code == 0 and len(states) == 6 and set(states.values()) == {"success"}
    assert "Goodbye from root_teardown" in log(flow, "example_setup_teardown", run_id, "root_teardown")

    tasks = {t["task_id"]: t for t in flow("tasks", "list", "example_setup_teardown_taskflow", "--json").json()}
    assert tasks["outer_work"]["upstream"] == ["outer_setup"]
    assert sorted(tasks["outer_teardown"]["upstream"]) == ["outer_setup", "outer_work"]
    assert sorted(tasks["section_1.inner_teardown"]["upstream"]) == ["section_1.inner_setup", "section_1.inner_work"]
    assert sorted(tasks["my_third_task"]["upstream"]) == ["my_first_task", "my_second_task"]
    code, run_id, states = run(flow, "example_setup_teardown_taskflow")
    assert code == 0 and len(states) == 9 and set(states.values()) == {"success"}
    assert "Tearing down cluster: some cluster id" in log(flow, "example_setup_teardown_taskflow", run_id,
                                                          "outer_teardown")
    assert "tearing down cluster_id='some_cluster_id'" in log(flow, "example_setup_teardown_taskflow", run_id,
                                                              "section_1.inner_teardown")
    plan = flow("clear", "example_setup_teardown_taskflow", "--run", run_id, "--task", "^my_second_task$",
                "--dry-run", "--json").json()["task_instances"]
    assert [(p["task_id"], p["why"]) for p in plan] == [
        ("my_first_task", "a setup of my_second_task"), ("my_second_task", "matches"),
        ("my_third_task", "the teardown of my_first_task")]


def test_xcom_and_taskflow_examples(flow):
    """XCom pushes and pulls (an XComArg inside an f-string renders as a pull), TaskFlow
    with multiple_outputs, task groups, the sensor decorator's PokeReturnValue, logging."""
    use(flow, "example_xcom.py", "example_xcomargs.py", "tutorial_taskflow_api.py", "tutorial_dag.py",
        "example_task_group_decorator.py", "example_sensor_decorator.py", "example_task_group.py")
    code, run_id, states = run(flow, "example_xcom")
    assert code == 0 and set(states.values()) == {"success"}
    values = xcom(flow, "example_xcom", run_id)
    assert values[("push", "value from pusher 1")] == [1, 2, 3]
    assert values[("bash_push", "manually_pushed_value")] == "manually_pushed_value"
    assert values[("bash_push", "return_value")] == "value_by_return"
    assert ("bash_pull", "return_value") not in values  # do_xcom_push=False
    pulled = log(flow, "example_xcom", run_id, "bash_pull")
    assert "The xcom pushed manually is manually_pushed_value" in pulled and "The returned_value xcom is value_by_return" in pulled

    code, run_id, _ = run(flow, "example_xcom_args")
    assert code == 0 and "INFO - The knights of Ni say: Bring me a shrubbery! (at 20" in log(
        flow, "example_xcom_args", run_id, "print_value")

    code, run_id, states = run(flow, "example_xcom_args_with_operators")
    assert code == 0 and states == {"c": "success", "print_value": "success", "print_value__1": "success",
                                    "d": "success"}
    assert "The knights of Ni say: second! (at" in log(flow, "example_xcom_args_with_operators", run_id, "print_value__1")

    code, run_id, _ = run(flow, "tutorial_taskflow_api")
    assert code == 0 and "Total order value is: 1236.70" in log(flow, "tutorial_taskflow_api", run_id, "load")
    assert xcom(flow, "tutorial_taskflow_api", run_id)[("transform", "total_order_value")] == pytest.approx(1236.7)
    code, run_id, _ = run(flow, "tutorial_dag")
    assert code == 0 and "{'total_order_value': 1236.7" in log(flow, "tutorial_dag", run_id, "load")

    code, run_id, states = run(flow, "example_task_group_decorator")
    assert code == 0 and len(states) == 17 and set(states.values()) == {"success"}
    assert "[ Task3 [ Task2 [ Task1 3 ] ] ]" in log(flow, "example_task_group_decorator", run_id,
                                                    "task_group_function__3.task_3")
    code, _, states = run(flow, "example_task_group")
    assert code == 0 and "section_2.inner_section_2.task_4" in states

    code, run_id, _ = run(flow, "example_sensor_decorator")
    assert code == 0 and xcom(flow, "example_sensor_decorator", run_id)[("wait_for_upstream", "return_value")] == "xcom_value"


def test_templates_params_and_conf_examples(flow):
    """Template files found beside the DAG file, params overridden by .override(), the
    run's conf in dag_run and templates, multi-type Params, doc_md and display names."""
    use(flow, "tutorial_taskflow_templates.py", "tutorial.py", "example_passing_params_via_test_command.py",
        "example_trigger_target_dag.py", "example_multi_type_params.py", "example_display_name.py",
        "example_markdown_doc.py", "example_simplest_dag.py", "example_failed_dag.py",
        "example_params_sections_collapsed.py")
    code, run_id, _ = run(flow, "tutorial_taskflow_templates")
    out = log(flow, "tutorial_taskflow_templates", run_id, "template_test")
    assert code == 0 and f"and run_id = '{run_id}'" in out and "and something_else = 'param_from_task'" in out
    assert f"rendered template: run_id: {run_id}; params.other_param: from_dag" in out

    code, run_id, _ = run(flow, "tutorial", "--logical-date", "2026-03-02")
    out = log(flow, "tutorial", run_id, "templated")
    assert code == 0 and out.count("2026-03-02\n") == 5 and out.count("2026-03-09\n") == 5

    code, run_id, _ = run(flow, "example_passing_params_via_test_command", "--conf", '{"foo": "bar"}')
    assert code == 0
    assert "'foo' was passed in via Airflow CLI Test command with value 'bar'" in log(
        flow, "example_passing_params_via_test_command", run_id, "also_run_this")
    assert "'miff' was passed in via task params = agg" in log(
        flow, "example_passing_params_via_test_command", run_id, "run_this")

    code, run_id, _ = run(flow, "example_trigger_target_dag", "--conf", '{"message": "hello there"}')
    assert code == 0
    assert "Here is the message: hello there" in log(flow, "example_trigger_target_dag", run_id, "bash_task")
    assert "Remotely received value of hello there for key=message" in log(flow, "example_trigger_target_dag", run_id, "run_this")

    code, run_id, _ = run(flow, "example_params_multi_type_tutorial", "--conf", '{"batch_size": "all"}')
    out = log(flow, "example_params_multi_type_tutorial", run_id, "run_pipeline")
    assert code == 0 and "[nightly] Processing all rows (batch_size='all')" in out
    assert "[nightly] Pipeline 'nightly-export' — retries=2, timeout=30m" in out

    for dag_id in ("example_display_name", "example_markdown_doc", "example_simplest_dag"):
        assert run(flow, dag_id)[0] == 0
    code, run_id, _ = run(flow, "example_params_sections_collapsed", "--conf", '{"log_level": "DEBUG"}')
    out = log(flow, "example_params_sections_collapsed", run_id, "show_config")
    assert code == 0 and '"environment": "production"' in out and '"log_level": "DEBUG"' in out
    before = flow.state_files()
    res = flow("run", "example_params_sections_collapsed", "--conf", '{"log_level": "LOUD"}')
    assert res.code == 2 and res.out == ""  # not in the Param's enum: refused, as Airflow refuses such a run
    assert "param 'log_level' = \"LOUD\" is refused" in res.err and "(rule: enum)" in res.err
    assert flow.state_files() == before
    code, run_id, states = run(flow, "example_failed_dag")
    assert code == 1 and states == {"fail_task": "failed"}
    out = log(flow, "example_failed_dag", run_id, "fail_task")
    assert "Traceback" in out and "RuntimeError: This is a test exception for stacktrace rendering" in out


@pytest.mark.slow
def test_python_examples_with_virtualenvs(flow):
    """PythonOperator, ExternalPythonOperator and PythonVirtualenvOperator (a virtualenv made
    with pip's configured index, cached in the home), templates_exts, logging, the venv TaskFlow tutorial."""
    use(flow, "example_python_operator.py", "tutorial_taskflow_api_virtualenv.py")
    code, run_id, states = run(flow, "example_python_operator")
    assert code == 0 and set(states.values()) == {"success"} and len(states) == 9
    assert "INFO - Python task decorator query: /*" in log(flow, "example_python_operator", run_id, "log_sql_query")
    assert "Done. Returned value was: 'Whatever you return gets printed in the logs'" in log(
        flow, "example_python_operator", run_id, "print_the_context")
    assert "some red text" in log(flow, "example_python_operator", run_id, "virtualenv_python")
    assert "Running task via " in log(flow, "example_python_operator", run_id, "external_python")
    assert len(list((flow.home / "venvs").iterdir())) >= 1
    code, run_id, _ = run(flow, "tutorial_taskflow_api_virtualenv")
    assert code == 0 and "Total order value is: 1236.70" in log(flow, "tutorial_taskflow_api_virtualenv", run_id, "load")


@pytest.mark.slow
def test_branching_into_external_python_and_virtualenvs(flow):
    """Branch operators that run in another interpreter or a virtualenv (numpy installed by pip)."""
    use(flow, "example_branch_operator_decorator.py")
    code, _, states = run(flow, "example_branch_python_operator_decorator")
    assert code == 0
    for prefix in ("branch_", "ext_py_", "venv_"):
        chosen = [t for t, s in states.items() if t.startswith(prefix) and s == "success"]
        assert len(chosen) == 1, states
    assert states["join"] == states["join_ext_py"] == states["join_venv"] == "success"


@pytest.mark.slow
def test_sensor_examples(flow):
    """Time, time-delta, bash, file, python and weekday sensors: soft_fail time-outs skip,
    the rest succeed, and the none_failed join runs. (wait_for_file pokes again after
    Airflow's default 60 s, so this takes a minute, as in Airflow.)"""
    use(flow, "example_sensors.py")
    before = _clock_facts()
    code, _, states = run(flow, "example_sensors", env={"FLOWCTL_WORKERS": "16"})
    facts = {before, _clock_facts()}  # two when the run crossed an hour or a day: either is right
    assert code == 0
    # "an hour from now" as a time of day is earlier today in the last hour of a UTC day: it has
    # passed, so the sensor succeeds (as in Airflow); the week-day sensor succeeds on Mondays
    for task, index in (("timeout_after_second_date_in_the_future", 0),
                        ("timeout_after_second_date_in_the_future_async", 0), ("week_day_sensor_failing_on_timeout", 1)):
        assert states.pop(task) in {"success" if fact[index] else "skipped" for fact in facts}, task
    assert states == {
        "wait_some_seconds": "success", "wait_some_seconds_async": "success", "fire_immediately": "success",
        "fire_immediately_async": "success", "Sensor_succeeds": "success",
        "Sensor_fails_after_3_seconds": "skipped", "remove_file": "success", "wait_for_file": "success",
        "wait_for_file_async": "success", "create_file_after_3_seconds": "success",
        "success_sensor_python": "success", "failure_timeout_sensor_python": "skipped",
        "print_date_in_bash": "success",
    }


def _clock_facts() -> tuple[bool, bool]:
    """(an hour from now is tomorrow, today is a Monday), in UTC."""
    now = dt.datetime.now(dt.UTC)
    return (now + dt.timedelta(hours=1)).date() != now.date(), now.isoweekday() == 1


# -- across DAGs and assets ------------------------------------------------------------------------


def test_trigger_controller_and_target_examples(flow):
    """The controller's TriggerDagRunOperator makes a run of the target with conf
    {"message": "Hello World"}; the target prints it from dag_run.conf and from a
    templated env; `flowctl run` carries the triggered run out too."""
    use(flow, "example_trigger_controller_dag.py", "example_trigger_target_dag.py")
    code, run_id, states = run(flow, "example_trigger_controller_dag")
    assert code == 0 and states == {"test_trigger_dagrun": "success"}
    (target,) = flow("runs", "list", "--dag", "example_trigger_target_dag", "--json").json()
    assert target["state"] == "success" and target["conf"] == {"message": "Hello World"}
    assert target["triggered_by"] == {"dag_id": "example_trigger_controller_dag", "run_id": run_id,
                                      "task_id": "test_trigger_dagrun"}
    assert "Remotely received value of Hello World for key=message" in log(
        flow, "example_trigger_target_dag", target["run_id"], "run_this")
    assert "Here is the message: Hello World" in log(flow, "example_trigger_target_dag", target["run_id"], "bash_task")
    values = xcom(flow, "example_trigger_controller_dag", run_id)
    assert values[("test_trigger_dagrun", "trigger_run_id")] == target["run_id"]

    res = flow("scheduler", "--until-idle", timeout=200)  # @once: the scheduler's own run triggers another
    assert res.code == 0, res.out + res.err
    assert len(flow("runs", "list", "--dag", "example_trigger_target_dag", "--json").json()) == 2


def test_external_task_marker_example(flow):
    """child_task1 waits for the parent's marker and succeeds; child_task2 waits for a
    task group the parent does not have (Airflow waits the same way until its 600 s
    time-out); clearing parent_task follows the marker into the child DAG."""
    import time

    use(flow, "example_external_task_marker_dag.py")
    code, _, states = run(flow, "example_external_task_marker_parent", "--logical-date", "2026-01-01")
    assert code == 0 and states == {"parent_task": "success"}
    proc = flow.popen("run", "example_external_task_marker_child", "--logical-date", "2026-01-01")
    try:
        deadline = time.monotonic() + 60
        got: dict[str, str] = {}
        while time.monotonic() < deadline:
            res = flow("tasks", "states", "example_external_task_marker_child", "2026-01-01", "--json")
            got = {t["task_id"]: t["state"] for t in res.json()} if res.code == 0 else {}
            if got.get("child_task2") == "up_for_reschedule":
                break
            time.sleep(0.2)
        assert got == {"child_task1": "success", "child_task2": "up_for_reschedule", "child_task3": "none"}
        reasons = {t["task_id"]: t["reason"] for t in flow(
            "explain", "example_external_task_marker_child", "2026-01-01", "--json").json()["tasks"]}
        assert ("example_external_task_marker_parent has no task group parent_dag_task_group_id: the sensor "
                "waits until its timeout") in reasons["child_task2"]
    finally:
        proc.terminate()
        proc.communicate(timeout=60)
    assert "Poking for task_group 'parent_dag_task_group_id' in dag 'example_external_task_marker_parent'" in log(
        flow, "example_external_task_marker_child", "2026-01-01", "child_task2")
    plan = flow("clear", "example_external_task_marker_parent", "--run", "2026-01-01", "--yes", "--json").json()
    assert [(p["dag_id"], p["task_id"]) for p in plan["task_instances"]] == [
        ("example_external_task_marker_parent", "parent_task"), ("example_external_task_marker_child", "child_task1"),
        ("example_external_task_marker_child", "child_task2"), ("example_external_task_marker_child", "child_task3")]
    states = {t["task_id"]: (t["state"], t["try_number"]) for t in flow(
        "tasks", "states", "example_external_task_marker_child", "2026-01-01", "--json").json()}
    assert states == {"child_task1": ("none", 1), "child_task2": ("none", 1), "child_task3": ("none", 0)}


def test_assets_example(flow):
    """The example's notes, step by step: asset_produces_1 (its daily run) makes
    asset_consumes_1, consume_1_or_2 and consume_1_or_both_2_and_3 run; asset_consumes_1_and_2
    waits. A manual asset_produces_2 then runs asset_consumes_1_and_2, consume_1_and_2,
    consume_1_or_2 again and the conditional asset-or-time DAG; the never_scheduled ones never run."""
    use(flow, "example_assets.py")
    fast = {"FLOWCTL_WORKERS": "8"}
    res = flow("scheduler", "--until-idle", env=fast, timeout=200)
    assert res.code == 0, res.out + res.err

    def kinds() -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for r in flow("runs", "list", "--json").json():
            assert r["state"] == "success", r
            out.setdefault(r["dag_id"], []).append(r["run_type"])
        return {d: sorted(k) for d, k in out.items()}

    assert kinds() == {
        "asset_produces_1": ["scheduled"], "asset_consumes_1": ["asset_triggered"],
        "consume_1_or_2_with_asset_expressions": ["asset_triggered"],
        "consume_1_or_both_2_and_3_with_asset_expressions": ["asset_triggered"],
        "conditional_asset_and_time_based_timetable": ["scheduled"],  # its cron's latest tick (catchup=False)
    }
    code, _, _ = run(flow, "asset_produces_2", env=fast)
    assert code == 0
    assert flow("scheduler", "--until-idle", env=fast, timeout=200).code == 0
    assert kinds() == {
        "asset_produces_1": ["scheduled"], "asset_produces_2": ["manual"], "asset_consumes_1": ["asset_triggered"],
        "asset_consumes_1_and_2": ["asset_triggered"],
        "consume_1_and_2_with_asset_expressions": ["asset_triggered"],
        "consume_1_or_2_with_asset_expressions": ["asset_triggered", "asset_triggered"],
        "consume_1_or_both_2_and_3_with_asset_expressions": ["asset_triggered"],
        "conditional_asset_and_time_based_timetable": ["asset_triggered", "scheduled"],
    }
    assets = {a["uri"]: a for a in flow("assets", "list", "--json").json()}
    assert assets["s3://dag1/output_1.txt"]["producers"] == ["asset_produces_1.producing_task_1"]
    assert assets["s3://dag1/output_1.txt"]["extra"] == {"hi": "bye"} and assets["s3://dag1/output_1.txt"]["events"] == 1
    assert assets["s3://unrelated/asset3.txt"]["consumers"] == ["asset_consumes_unknown_never_scheduled"]
    assert assets["s3://unrelated/asset3.txt"]["last_update"] is None


def test_asset_alias_example(flow):
    """An event added through AssetAlias("example-alias") runs both the alias's consumer
    (which reads it from inlet_events) and the consumer of the asset it resolved to; once
    resolved, the asset's own producer runs the alias's consumer too (Airflow re-reads it)."""
    use(flow, "example_asset_alias.py")
    code, _, _ = run(flow, "asset_alias_example_alias_producer")
    assert code == 0
    assert flow("scheduler", "--until-idle", timeout=200).code == 0
    consumer = flow("runs", "list", "--dag", "asset_alias_example_alias_consumer", "--json").json()
    assert len(consumer) == 1 and len(flow("runs", "list", "--dag", "asset_s3_bucket_consumer", "--json").json()) == 1
    assert "AssetEvent(uri='s3://bucket/my-task'" in log(flow, "asset_alias_example_alias_consumer",
                                                         consumer[0]["run_id"], "consume_asset_event_from_asset_alias")
    (alias,) = [a for a in flow("assets", "list", "--json").json() if a["uri"] == "s3://bucket/my-task"]
    assert alias["producers"] == ["asset_s3_bucket_producer.produce_asset_events"]
    code, _, _ = run(flow, "asset_s3_bucket_producer")
    assert code == 0 and flow("scheduler", "--until-idle", timeout=200).code == 0
    assert len(flow("runs", "list", "--dag", "asset_alias_example_alias_consumer", "--json").json()) == 2
    assert len(flow("runs", "list", "--dag", "asset_s3_bucket_consumer", "--json").json()) == 2


def test_outlet_and_inlet_event_extra_examples(flow):
    """Extras given by a yielded Metadata, by outlet_events in the task and in a classic
    operator's post_execute are recorded with the events; inlet_events reads them back,
    in Python and in a template."""
    use(flow, "example_outlet_event_extra.py", "example_inlet_event_extra.py")
    for dag_id in ("asset_with_extra_by_yield", "asset_with_extra_by_context", "asset_with_extra_from_classic_operator"):
        assert run(flow, dag_id)[0] == 0
    events = flow("assets", "events", "s3://output/1.txt", "--json").json()
    assert [e["extra"] for e in events] == [{"hi": "bye"}] * 3 and {e["name"] for e in events} == {"test-asset"}
    code, run_id, _ = run(flow, "read_asset_event")
    assert code == 0 and log(flow, "read_asset_event", run_id, "read_asset_event").count("bye") == 1  # [:-2] of 3
    code, run_id, _ = run(flow, "read_asset_event_from_classic")
    assert code == 0 and '{"hi": "bye"}' in log(flow, "read_asset_event_from_classic", run_id,
                                                "read_asset_event_from_classic")


def test_setup_and_teardown_examples(flow):
    """Both of Airflow's setup/teardown examples end as in Airflow: every task
    succeeds, the teardowns after their work; a teardown gets its setup's value;
    clearing a work task takes its setup and teardown with it."""
    use(flow, "example_setup_teardown.py", "example_setup_teardown_taskflow.py")
    code, _, states = run(flow, "example_setup_teardown")
    assert code == 0 and set(states.values()) == {"success"} and len(states) == 6
    code, run_id, states = run(flow, "example_setup_teardown_taskflow")
    assert code == 0 and set(states.values()) == {"success"}
    assert {"outer_setup", "outer_teardown", "section_1.inner_setup", "section_1.inner_teardown"} <= set(states)
    assert "Tearing down cluster: some cluster id" in log(flow, "example_setup_teardown_taskflow", run_id,
                                                          "outer_teardown")
    assert "tearing down cluster_id='some_cluster_id'" in log(flow, "example_setup_teardown_taskflow", run_id,
                                                               "section_1.inner_teardown")
    plan = flow("clear", "example_setup_teardown_taskflow", "--task", "^my_second_task$", "--dry-run", "--json").json()
    assert {ti["task_id"] for ti in plan["task_instances"]} == {"my_first_task", "my_second_task", "my_third_task"}
