"""airflow.models: DAG, BaseOperator, Variable, Param, Connection and the run models DAG code touches."""

from __future__ import annotations

from airflow.models.baseoperator import BaseOperator, chain, cross_downstream  # noqa: F401
from airflow.models.connection import Connection  # noqa: F401
from airflow.models.dag import DAG  # noqa: F401
from airflow.models.dagrun import DagRun  # noqa: F401
from airflow.models.param import Param, ParamsDict  # noqa: F401
from airflow.models.taskinstance import TaskInstance  # noqa: F401
from airflow.models.variable import Variable  # noqa: F401
from airflow.models.xcom import XCom  # noqa: F401
from airflow.models.xcom_arg import XComArg  # noqa: F401

__all__ = ["DAG", "BaseOperator", "Connection", "DagRun", "Param", "ParamsDict", "TaskInstance", "Variable",
           "XCom", "XComArg", "chain", "cross_downstream"]
