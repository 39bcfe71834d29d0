"""airflow.configuration: `conf.get(...)` answers with Airflow's defaults, or the fallback."""

from __future__ import annotations

import os
from typing import Any

_DEFAULTS: dict[tuple[str, str], str] = {
    ("core", "dags_folder"): os.environ.get("FLOWCTL_DAGS_FOLDER", "dags"),
    ("core", "default_timezone"): "utc",
    ("core", "max_active_tasks_per_dag"): "16",
    ("core", "max_active_runs_per_dag"): "16",
    ("core", "dag_file_processor_timeout"): "50",
    ("scheduler", "catchup_by_default"): "False",
    ("operators", "default_deferrable"): "False",
    ("operators", "default_owner"): "airflow",
    ("webserver", "base_url"): "http://localhost:8080",
}
_MISSING = object()


class AirflowConfigParser:
    def get(self, section: str, key: str, fallback: Any = _MISSING, **_: Any) -> Any:
        env = os.environ.get(f"AIRFLOW__{section.upper()}__{key.upper()}")
        if env is not None:
            return env
        value = _DEFAULTS.get((section.lower(), key.lower()), _MISSING)
        if value is _MISSING:
            if fallback is _MISSING:
                from airflow.exceptions import AirflowConfigException

                raise AirflowConfigException(f"section/key [{section}/{key}] not found in config")
            return fallback
        return value

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
