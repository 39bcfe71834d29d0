"""airflow.operators.dagrun_operator (Airflow 1)"""

from __future__ import annotations

from flowctl.authoring.crossdag import (  # noqa: F401
    XCOM_DAG_ID,
    XCOM_LOGICAL_DATE_ISO,
    XCOM_RUN_ID,
    TriggerDagRunOperator,  # noqa: F401
)

__all__ = ['TriggerDagRunOperator']
