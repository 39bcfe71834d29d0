"""Airflow's DAG and operator arguments that flowctl accepts without acting on them.

Every argument Airflow's `DAG` and `BaseOperator` take is accepted, so an
Airflow DAG file never stops loading on one. Those flowctl implements are
handled where they act (dag.py, operators.py, the runtime); those it does not
act on are listed here with the reason, and each use becomes one line of
`flowctl dags warnings`. A name in neither place is a misspelling and still
fails, as in Airflow.

When a later part of flowctl starts acting on one of them (pools, assets, the
engine's run timeout), move it out of these tables and the warning goes away.
"""

from __future__ import annotations

from typing import Any

DAG_IGNORED: dict[str, str] = {
    "sla_miss_callback": "SLAs are not checked",
    "access_control": "there are no UI roles",
    "owner_links": "there is no web UI",
    "default_view": "there is no web UI",
    "orientation": "there is no web UI",
    "max_consecutive_failed_dag_runs": "the DAG is not paused after failed runs",
    "fail_stop": "a failed task does not stop the other tasks of the run",
    "fail_fast": "a failed task does not stop the other tasks of the run",
    "auto_register": "every DAG a file creates is registered",
    "full_filepath": "the file's own path is used",
    "deadline": "deadline alerts are not checked",
    "disable_bundle_versioning": "DAG bundles do not apply",
    "allowed_run_types": "every run type is allowed",
    "dag_display_name": "recorded; listings show the dag_id",
}
"""DAG arguments accepted and ignored (argument -> what happens instead)."""

DAG_RECORDED: dict[str, str] = {
    "is_paused_upon_creation": "recorded (DagSpec.is_paused_upon_creation); new DAGs are not paused yet",
}
"""DAG arguments flowctl records for the scheduler, which does not act on them yet."""

TASK_IGNORED: dict[str, str] = {
    "sla": "SLAs are not checked",
    "wait_for_downstream": "a run does not wait for the previous run's downstream tasks",
    "ignore_first_depends_on_past": "depends_on_past applies from the first run",
    "wait_for_past_depends_before_skipping": "not applied",
    "max_active_tis_per_dagrun": "not enforced",
    "queue": "one local queue",
    "weight_rule": "priority_weight is used as given",
    "executor": "every task runs on the configured executor",
    "executor_config": "every task runs on the configured executor",
    "run_as_user": "tasks run as the user running flowctl",
    "resources": "not applied",
    "map_index_template": "it names the instances of a mapped task; this task is not mapped",
    "logger_name": "task code logs to the task log as usual",
    "allow_nested_operators": "not applied",
    "retry_policy": "retries follow retries and retry_delay",
    "email": "recorded (TaskSpec.email); failures are sent to flowctl's notice channels, not by e-mail",
    "email_on_failure": "recorded (TaskSpec.email_on_failure); failures are sent to flowctl's notice channels",
    "email_on_retry": "recorded (TaskSpec.email_on_retry); retries send no notice",
    "deferrable": "runs in the worker slot (there is no triggerer)",
}
"""Operator arguments accepted and ignored or only recorded (argument -> why)."""

TASK_METADATA = frozenset(
    {
        "owner",
        "doc",
        "doc_md",
        "doc_rst",
        "doc_json",
        "doc_yaml",
        "task_display_name",
        "start_date",
        "end_date",
        "provide_context",
        "multiple_outputs",
        "do_xcom_push",
        "on_execute_callback",
        "on_skipped_callback",
        "pre_execute",
        "post_execute",
        "outlets",
        "inlets",
        "pool_slots",
        "max_active_tis_per_dag",
        "task_concurrency",
    }
)
"""Operator arguments flowctl takes as they are: metadata it records, or behaviour it implements."""

OPERATOR_IGNORED: dict[str, str] = {
    "trigger_run_id": "flowctl names a triggered run manual__<logical date> (one run per logical date)",
}
"""Arguments of particular operators accepted and not acted on (argument -> why)."""

WARNED_DEFAULT_ARG_VALUES = {"email_on_failure", "email_on_retry"}
"""Arguments whose warning is only worth giving when set to a true value."""


def warning_lines(dag: Any) -> tuple[str, ...]:
    """One line per Airflow argument the DAG uses that flowctl accepts and does not act on."""
    reasons = {**TASK_IGNORED, **DAG_IGNORED, **DAG_RECORDED, **OPERATOR_IGNORED}
    lines = []
    for argument, places in sorted(getattr(dag, "warnings", {}).items()):
        tasks = [p for p in places if p not in ("DAG", "default_args")]
        where = [p for p in places if p in ("DAG", "default_args")]
        if tasks:
            shown = ", ".join(tasks[:3]) + (f" and {len(tasks) - 3} more" if len(tasks) > 3 else "")
            where.append(f"task{'s' if len(tasks) > 1 else ''} {shown}")
        lines.append(f"{argument} ({'; '.join(where)}): accepted and ignored: {reasons.get(argument, 'not applied')}"
                     if "recorded" not in reasons.get(argument, "") else
                     f"{argument} ({'; '.join(where)}): {reasons[argument]}")
    return tuple(lines)
