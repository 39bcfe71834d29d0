"""airflow.sdk: Airflow 3's authoring API, mapped onto flowctl's."""

from __future__ import annotations

from typing import Any

from airflow._assets import Asset, AssetAlias, AssetAll, AssetAny, Metadata  # noqa: F401
from airflow.decorators import dag, setup, teardown  # noqa: F401
from airflow.hooks.base import BaseHook  # noqa: F401
from airflow.utils.trigger_rule import TriggerRule  # noqa: F401

from flowctl.authoring.dag import AirflowDAG as DAG  # noqa: F401
from flowctl.authoring.dag import (  # noqa: F401
    Label,  # noqa: F401
    TaskGroup,
    chain,
    chain_linear,
    cross_downstream,
)
from flowctl.authoring.dag import Label as EdgeModifier  # noqa: F401
from flowctl.authoring.decorators import task, task_group  # noqa: F401
from flowctl.authoring.operators import BaseOperator, XComArg  # noqa: F401
from flowctl.authoring.params import Param, ParamsDict  # noqa: F401
from flowctl.authoring.sensors import BaseSensorOperator, PokeReturnValue  # noqa: F401
from flowctl.connections import Connection  # noqa: F401
from flowctl.runtime.context import get_current_context  # noqa: F401
from flowctl.variables import Variable  # noqa: F401

Context = dict[str, Any]


def asset(*args: Any, **kwargs: Any) -> Any:
    """Airflow 3's `@asset` (a DAG of one task per asset): refused with its reason."""
    from airflow._refused import refuse

    refuse("@asset", "asset-centric DAGs are not supported yet; write a DAG whose task has "
                     "outlets=[Asset(...)], which flowctl runs")

__all__ = ['DAG', 'dag', 'task', 'task_group', 'TaskGroup', 'Label', 'EdgeModifier', 'chain', 'chain_linear', 'cross_downstream', 'BaseOperator', 'BaseSensorOperator', 'PokeReturnValue', 'XComArg', 'Param', 'ParamsDict', 'Variable', 'Connection', 'BaseHook', 'get_current_context', 'Asset', 'AssetAlias', 'AssetAll', 'AssetAny', 'Metadata', 'Context', 'TriggerRule', 'setup', 'teardown', 'asset']
