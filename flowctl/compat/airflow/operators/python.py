"""airflow.operators.python"""

from __future__ import annotations

from flowctl.authoring.operators import BranchPythonOperator, PythonOperator, ShortCircuitOperator  # noqa: F401
from flowctl.authoring.python_envs import (  # noqa: F401
    BranchExternalPythonOperator,
    BranchPythonVirtualenvOperator,
    ExternalPythonOperator,
    PythonVirtualenvOperator,
    is_venv_installed,
)
from flowctl.runtime.context import get_current_context  # noqa: F401

__all__ = ['PythonOperator', 'BranchPythonOperator', 'ShortCircuitOperator', 'PythonVirtualenvOperator', 'ExternalPythonOperator', 'BranchPythonVirtualenvOperator', 'BranchExternalPythonOperator', 'get_current_context', 'is_venv_installed']
