"""flowctl: Airflow-style workflows on one laptop.

The authoring API is exported lazily (PEP 562), so `flowctl --help` does not
pay for importing it.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "DAG": "flowctl.authoring.dag",
    "dag": "flowctl.authoring.dag",
    "chain": "flowctl.authoring.dag",
    "TaskGroup": "flowctl.authoring.dag",
    "task": "flowctl.authoring.decorators",
    "BaseOperator": "flowctl.authoring.operators",
    "PythonOperator": "flowctl.authoring.operators",
    "BashOperator": "flowctl.authoring.operators",
    "EmptyOperator": "flowctl.authoring.operators",
    "BranchPythonOperator": "flowctl.authoring.operators",
    "ShortCircuitOperator": "flowctl.authoring.operators",
    "PythonSensor": "flowctl.authoring.sensors",
    "FileSensor": "flowctl.authoring.sensors",
    "TimeDeltaSensor": "flowctl.authoring.sensors",
    "BaseSensorOperator": "flowctl.authoring.sensors",
    "BashSensor": "flowctl.authoring.sensors",
    "PokeReturnValue": "flowctl.authoring.sensors",
    "TimeSensor": "flowctl.authoring.calendar",
    "DateTimeSensor": "flowctl.authoring.calendar",
    "DayOfWeekSensor": "flowctl.authoring.calendar",
    "LatestOnlyOperator": "flowctl.authoring.calendar",
    "EmailOperator": "flowctl.authoring.email",
    "PythonVirtualenvOperator": "flowctl.authoring.python_envs",
    "ExternalPythonOperator": "flowctl.authoring.python_envs",
    "Label": "flowctl.authoring.dag",
    "task_group": "flowctl.authoring.decorators",
    "setup": "flowctl.authoring.decorators",
    "teardown": "flowctl.authoring.decorators",
    "Param": "flowctl.authoring.params",
    "Variable": "flowctl.variables",
    "Connection": "flowctl.connections",
    "BaseHook": "flowctl.connections",
    "TriggerRule": "flowctl.trigger_rules",
    "get_current_context": "flowctl.runtime.context",
    "TriggerDagRunOperator": "flowctl.authoring.crossdag",
    "ExternalTaskSensor": "flowctl.authoring.crossdag",
    "ExternalTaskMarker": "flowctl.authoring.crossdag",
    "Asset": "flowctl.authoring.assets",
    "AssetAlias": "flowctl.authoring.assets",
    "Dataset": "flowctl.authoring.assets",
    "Metadata": "flowctl.authoring.assets",
    "TaskFailed": "flowctl.errors",
    "TaskSkipped": "flowctl.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'flowctl' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
