"""airflow.providers.smtp.operators.smtp: EmailOperator as a notice"""

from __future__ import annotations

from flowctl.authoring.email import EmailOperator  # noqa: F401

__all__ = ['EmailOperator']
