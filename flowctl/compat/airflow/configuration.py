"""airflow.configuration: `conf.get(...)` answers as Airflow 2 does, from the environment or defaults.

The order is Airflow's: `AIRFLOW__SECTION__KEY` (also under the option's deprecated
name), then the default: flowctl's own value where it has one (the DAG folder, the log
folder under the flowctl home), else Airflow's. A deprecated option reads its new one
(`[core] base_log_folder` is `[logging] base_log_folder`), as Airflow's
`deprecated_options` table says. An unknown option is the `fallback=`, or an error
naming the section and key."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

_LOG_FORMAT = "[%(asctime)s] {%(filename)s:%(lineno)d} %(levelname)s - %(message)s"


def _home() -> str:
    from flowctl.variables import current_home

    return str(current_home() or os.path.abspath(".flowctl"))


def _dags_folder() -> str:
    return os.environ.get("FLOWCTL_DAGS_FOLDER", "dags")


_DEFAULTS: dict[tuple[str, str], str | Callable[[], str]] = {
    ("core", "dags_folder"): _dags_folder,
    ("core", "plugins_folder"): lambda: os.path.join(os.path.dirname(os.path.abspath(_dags_folder())), "plugins"),
    ("core", "default_timezone"): lambda: os.environ.get("FLOWCTL_TIMEZONE", "utc"),
    ("core", "executor"): "LocalExecutor",
    ("core", "parallelism"): "32",
    ("core", "max_active_tasks_per_dag"): "16",
    ("core", "max_active_runs_per_dag"): "16",
    ("core", "dags_are_paused_at_creation"): "True",
    ("core", "load_examples"): "False",
    ("core", "dag_file_processor_timeout"): "50",
    ("core", "dagbag_import_timeout"): "30.0",
    ("core", "dag_discovery_safe_mode"): "True",
    ("core", "dag_ignore_file_syntax"): "regexp",
    ("core", "default_task_retries"): "0",
    ("core", "default_task_retry_delay"): "300",
    ("core", "default_task_weight_rule"): "downstream",
    ("core", "default_pool_task_slot_count"): "128",
    ("core", "killed_task_cleanup_time"): "60",
    ("core", "hostname_callable"): "airflow.utils.net.getfqdn",
    ("core", "unit_test_mode"): "False",
    ("core", "security"): "",
    ("core", "fernet_key"): "",
    ("core", "hide_sensitive_var_conn_fields"): "True",
    ("core", "sensitive_var_conn_names"): "",
    ("logging", "base_log_folder"): lambda: os.path.join(_home(), "logs"),
    ("logging", "logging_level"): "INFO",
    ("logging", "fab_logging_level"): "WARNING",
    ("logging", "remote_logging"): "False",
    ("logging", "remote_log_conn_id"): "",
    ("logging", "remote_base_log_folder"): "",
    ("logging", "encrypt_s3_logs"): "False",
    ("logging", "colored_console_log"): "True",
    ("logging", "log_format"): _LOG_FORMAT,
    ("logging", "simple_log_format"): "%(asctime)s %(levelname)s - %(message)s",
    ("scheduler", "catchup_by_default"): "False",
    ("scheduler", "dag_dir_list_interval"): "300",
    ("scheduler", "min_file_process_interval"): "30",
    ("scheduler", "parsing_processes"): "2",
    ("scheduler", "scheduler_heartbeat_sec"): "5",
    ("scheduler", "max_dagruns_to_create_per_loop"): "10",
    ("operators", "default_deferrable"): "False",
    ("operators", "default_owner"): "airflow",
    ("operators", "default_queue"): "default",
    ("operators", "default_cpus"): "1",
    ("operators", "default_ram"): "512",
    ("operators", "default_disk"): "512",
    ("operators", "default_gpus"): "0",
    ("operators", "allow_illegal_arguments"): "False",
    ("webserver", "base_url"): "http://localhost:8080",
    ("webserver", "web_server_port"): "8080",
    ("webserver", "default_ui_timezone"): "UTC",
    ("email", "email_backend"): "airflow.utils.email.send_email_smtp",
    ("email", "default_email_on_retry"): "True",
    ("email", "default_email_on_failure"): "True",
    ("smtp", "smtp_host"): "localhost",
    ("smtp", "smtp_starttls"): "True",
    ("smtp", "smtp_ssl"): "False",
    ("smtp", "smtp_port"): "25",
    ("smtp", "smtp_mail_from"): "airflow@example.com",
    ("smtp", "smtp_timeout"): "30",
    ("smtp", "smtp_retry_limit"): "5",
}
"""Airflow 2.10's defaults for the options DAG files read, flowctl's value where it has one."""

_DEPRECATED: dict[tuple[str, str], tuple[str, str]] = {
    ("celery", "worker_precheck"): ("core", "worker_precheck"),
    **{("logging", key): ("core", key) for key in (
        "base_log_folder", "remote_logging", "remote_log_conn_id", "remote_base_log_folder", "encrypt_s3_logs",
        "logging_level", "fab_logging_level", "logging_config_class", "colored_console_log", "colored_log_format",
        "colored_formatter_class", "log_format", "simple_log_format", "task_log_prefix_template",
        "log_filename_template", "log_processor_filename_template", "dag_processor_manager_log_location",
        "task_log_reader", "interleave_timestamp_parser")},
    ("metrics", "metrics_allow_list"): ("metrics", "statsd_allow_list"),
    ("metrics", "metrics_block_list"): ("metrics", "statsd_block_list"),
    **{("metrics", key): ("scheduler", key) for key in (
        "statsd_on", "statsd_host", "statsd_port", "statsd_prefix", "stat_name_handler", "statsd_datadog_enabled",
        "statsd_datadog_tags", "statsd_datadog_metrics_tags", "statsd_custom_client_path")},
    ("scheduler", "parsing_processes"): ("scheduler", "max_threads"),
    ("scheduler", "scheduler_idle_sleep_time"): ("scheduler", "processor_poll_interval"),
    ("operators", "default_queue"): ("celery", "default_queue"),
    ("core", "hide_sensitive_var_conn_fields"): ("admin", "hide_sensitive_variable_fields"),
    ("core", "sensitive_var_conn_names"): ("admin", "sensitive_variable_fields"),
    ("core", "default_pool_task_slot_count"): ("core", "non_pooled_task_slot_count"),
    ("core", "max_active_tasks_per_dag"): ("core", "dag_concurrency"),
    ("logging", "worker_log_server_port"): ("celery", "worker_log_server_port"),
    ("api", "access_control_allow_origins"): ("api", "access_control_allow_origin"),
    ("api", "auth_backends"): ("api", "auth_backend"),
    **{("database", key): ("core", key) for key in (
        "sql_alchemy_conn", "sql_engine_encoding", "sql_engine_collation_for_ids", "sql_alchemy_pool_enabled",
        "sql_alchemy_pool_size", "sql_alchemy_max_overflow", "sql_alchemy_pool_recycle", "sql_alchemy_pool_pre_ping",
        "sql_alchemy_schema", "sql_alchemy_connect_args", "load_default_connections", "max_db_retries")},
    ("scheduler", "parsing_cleanup_interval"): ("scheduler", "deactivate_stale_dags_interval"),
}
"""Airflow's `deprecated_options`: (new section, new key) -> (old section, old key)."""

_RENAMED = {old: new for new, old in _DEPRECATED.items()}
_MISSING = object()


def _env(section: str, key: str) -> str | None:
    return os.environ.get(f"AIRFLOW__{section.upper()}__{key.upper()}")


class AirflowConfigParser:
    def get(self, section: str, key: str, fallback: Any = _MISSING, **_: Any) -> Any:
        asked = (section.lower(), key.lower())
        current = _RENAMED.get(asked, asked)
        old = _DEPRECATED.get(current)
        for name in (current, old):
            value = _env(*name) if name else None
            if value is not None:
                return value
        default = _DEFAULTS.get(current, _MISSING)
        if default is not _MISSING:
            return default() if callable(default) else default
        if fallback is not _MISSING:
            return fallback
        from airflow.exceptions import AirflowConfigException

        raise AirflowConfigException(f"section/key [{asked[0]}/{asked[1]}] not found in config")

    def getboolean(self, section: str, key: str, fallback: Any = _MISSING, **kw: Any) -> bool:
        value = self.get(section, key, fallback=fallback, **kw)
        return value if isinstance(value, bool) else str(value).strip().lower() in ("t", "true", "1", "yes", "on")

    def getint(self, section: str, key: str, fallback: Any = _MISSING, **kw: Any) -> int:
        return int(self.get(section, key, fallback=fallback, **kw))

    def getfloat(self, section: str, key: str, fallback: Any = _MISSING, **kw: Any) -> float:
        return float(self.get(section, key, fallback=fallback, **kw))

    def has_option(self, section: str, key: str) -> bool:
        return self.get(section, key, fallback=None) is not None


conf = AirflowConfigParser()

__all__ = ['conf', 'AirflowConfigParser']
