"""airflow.operators.python_operator (Airflow 1)"""

from __future__ import annotations

from flowctl.authoring.operators import BranchPythonOperator, PythonOperator, ShortCircuitOperator  # noqa: F401
from flowctl.authoring.python_envs import PythonVirtualenvOperator  # noqa: F401

__all__ = ['PythonOperator', 'BranchPythonOperator', 'ShortCircuitOperator', 'PythonVirtualenvOperator']
