"""airflow.operators.bash"""

from __future__ import annotations

from flowctl.authoring.operators import BashOperator  # noqa: F401

__all__ = ['BashOperator']
