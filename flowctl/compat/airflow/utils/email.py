"""airflow.utils.email: importable, so a DAG file whose failure callback sends mail loads.

flowctl talks to no mail server; calling `send_email` fails with one line saying so and
where flowctl's notices go instead (contract section 6), rather than pretending it sent."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NoReturn

from airflow._refused import refuse


def send_email(to: str | Iterable[str], subject: str, html_content: str = "", files: list[str] | None = None,
               dryrun: bool = False, cc: str | Iterable[str] | None = None, bcc: str | Iterable[str] | None = None,
               mime_subtype: str = "mixed", mime_charset: str = "utf-8", conn_id: str | None = None,
               custom_headers: dict[str, Any] | None = None, **kwargs: Any) -> NoReturn:
    """Airflow's signature; refuses when called."""
    recipients = to if isinstance(to, str) else ", ".join(to)
    refuse("send_email", f"flowctl sends no e-mail (to {recipients}: {subject}); failed tasks are announced "
           "through flowctl's notice channels: set FLOWCTL_NOTIFY_WEBHOOK, FLOWCTL_NOTIFY_COMMAND or "
           "[notify] in flowctl.toml, or use EmailOperator, which delivers through them")


send_email_smtp = send_email

__all__ = ['send_email', 'send_email_smtp']
