"""airflow.sdk.definitions.edges"""

from __future__ import annotations

from flowctl.authoring.dag import Label  # noqa: F401
from flowctl.authoring.dag import Label as EdgeModifier

__all__ = ['Label', 'EdgeModifier']
