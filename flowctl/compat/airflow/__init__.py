"""flowctl's `airflow` layer: `import airflow...` inside flowctl's DAG loader and task
processes resolves here, and each name maps onto flowctl's own API (it maps, it does not
fork: `airflow.operators.bash.BashOperator` *is* `flowctl.BashOperator`).

Only the loader puts this package on the import path (loader.import_dag_file), so a
DAG file that does not import airflow, and `flowctl --help`, pay nothing for it."""

from __future__ import annotations

from airflow import _moved
from airflow._lazy import submodule_getattr
from airflow.exceptions import AirflowException  # noqa: F401

from flowctl.authoring.dag import AirflowDAG as DAG  # noqa: F401

_moved.install()
_submodule = submodule_getattr(__name__)

#: names Airflow's own `airflow/__init__.py` gives lazily (2.4+: Dataset, XComArg; 3: Asset)
_TOP_LEVEL = {"Dataset": "airflow.datasets", "XComArg": "airflow.models.xcom_arg", "Asset": "airflow.sdk"}


def __getattr__(name: str) -> object:
    """`from airflow import Dataset`, and `airflow.utils.dates.days_ago(1)` after a
    bare `import airflow`, as in Airflow 2."""
    if name in _TOP_LEVEL:
        import importlib

        return getattr(importlib.import_module(_TOP_LEVEL[name]), name)
    return _submodule(name)

__version__ = "2.10.5"
"""The Airflow API level DAG files may assume (Airflow 3's airflow.sdk is here too)."""

__all__ = ['DAG', 'AirflowException', 'Dataset', 'XComArg', 'Asset', '__version__']
