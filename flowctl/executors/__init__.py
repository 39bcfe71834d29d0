"""Executors carry out task tries: `local` (fork servers on this machine) and `dask`."""

from typing import Any


def make_executor(settings: Any) -> Any:
    """The executor the settings ask for."""
    if settings.executor == "local":
        from flowctl.executors.local import LocalExecutor

        return LocalExecutor()
    from flowctl.errors import UsageError

    raise UsageError(
        f"executor {settings.executor!r} is not available in this version of flowctl; "
        "use the local executor (FLOWCTL_EXECUTOR=local, the default)"
    )
