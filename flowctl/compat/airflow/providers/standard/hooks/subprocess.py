"""airflow.providers.standard.hooks.subprocess"""

from __future__ import annotations

from airflow.hooks.subprocess import SubprocessHook, SubprocessResult  # noqa: F401

__all__ = ['SubprocessHook', 'SubprocessResult']
