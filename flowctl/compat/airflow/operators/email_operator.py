"""airflow.operators.email_operator (Airflow 1)"""

from __future__ import annotations

from flowctl.authoring.email import EmailOperator  # noqa: F401

__all__ = ['EmailOperator']
