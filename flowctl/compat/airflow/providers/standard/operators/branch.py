"""airflow.providers.standard.operators.branch"""

from __future__ import annotations

from flowctl.authoring.operators import BaseBranchOperator  # noqa: F401
from flowctl.authoring.operators import BranchMixin as BranchMixIn

__all__ = ['BaseBranchOperator', 'BranchMixIn']
