"""airflow.sdk.bases.operator"""

from __future__ import annotations

from flowctl.authoring.dag import chain, chain_linear, cross_downstream  # noqa: F401
from flowctl.authoring.operators import BaseOperator  # noqa: F401

__all__ = ['BaseOperator', 'chain', 'chain_linear', 'cross_downstream']
