"""airflow.exceptions: what task code raises to skip or fail, and what DAG code catches."""

from __future__ import annotations

from flowctl.authoring.sensors import SensorTimeout
from flowctl.errors import TaskFailed, TaskSkipped


class AirflowException(Exception):  # noqa: N818 - Airflow's name
    status_code = 500


class AirflowSkipException(TaskSkipped, AirflowException):
    """Ends the task as skipped."""


class AirflowFailException(TaskFailed, AirflowException):
    """Fails the task at once, without its retries."""

    no_retry = True


class AirflowSensorTimeout(SensorTimeout, AirflowException):
    no_retry = True


class AirflowTaskTimeout(AirflowException):
    pass


class AirflowTaskTerminated(AirflowException):
    pass


class AirflowNotFoundException(AirflowException):
    status_code = 404


class AirflowBadRequest(AirflowException):
    status_code = 400


class AirflowConfigException(AirflowException):
    pass


class AirflowRescheduleException(AirflowException):
    pass


class AirflowDagCycleException(AirflowException):
    pass


class DuplicateTaskIdFound(AirflowException):
    pass


class TaskNotFound(AirflowException):
    pass


class DagNotFound(AirflowException):
    pass


class DagRunAlreadyExists(AirflowException):
    pass


class XComNotFound(AirflowException):
    pass


class ParamValidationError(AirflowException):
    pass


class TaskDeferred(AirflowException):
    pass


class AirflowProviderDeprecationWarning(DeprecationWarning):
    pass


class RemovedInAirflow3Warning(DeprecationWarning):
    pass

__all__ = ['AirflowException', 'AirflowSkipException', 'AirflowFailException', 'AirflowSensorTimeout', 'AirflowTaskTimeout', 'AirflowTaskTerminated', 'AirflowNotFoundException', 'AirflowBadRequest', 'AirflowConfigException', 'AirflowRescheduleException', 'AirflowDagCycleException', 'DuplicateTaskIdFound', 'TaskNotFound', 'DagNotFound', 'DagRunAlreadyExists', 'XComNotFound', 'ParamValidationError', 'TaskDeferred', 'AirflowProviderDeprecationWarning', 'RemovedInAirflow3Warning']
