"""flowctl: Airflow-style workflows on one laptop.

The authoring API is exported lazily (PEP 562), so `flowctl --help` does not
pay for importing it.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "DAG": "flowctl.models",
    "dag": "flowctl.models",
    "chain": "flowctl.models",
    "TaskGroup": "flowctl.models",
    "task": "flowctl.decorators",
    "BaseOperator": "flowctl.operators",
    "PythonOperator": "flowctl.operators",
    "BashOperator": "flowctl.operators",
    "EmptyOperator": "flowctl.operators",
    "BranchPythonOperator": "flowctl.operators",
    "ShortCircuitOperator": "flowctl.operators",
    "PythonSensor": "flowctl.sensors",
    "FileSensor": "flowctl.sensors",
    "TimeDeltaSensor": "flowctl.sensors",
    "TriggerRule": "flowctl.trigger_rules",
    "get_current_context": "flowctl.context",
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
