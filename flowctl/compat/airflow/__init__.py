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
__getattr__ = submodule_getattr(__name__)
"""`airflow.utils.dates.days_ago(1)` after a bare `import airflow`, as in Airflow 2."""

__version__ = "2.10.5"
"""The Airflow API level DAG files may assume (Airflow 3's airflow.sdk is here too)."""

__all__ = ['DAG', 'AirflowException', '__version__']
