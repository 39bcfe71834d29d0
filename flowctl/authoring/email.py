"""`EmailOperator`: a message sent through flowctl's notice channels.

flowctl has no mail server to talk to; the message goes where failure notices
go (webhook, command, desktop; contract section 6) as an event `email` with
`to`, `subject` and `message`. With no channel configured the task says so in
its log and succeeds: the message was delivered to every channel there is.
"""

from __future__ import annotations

from typing import Any

from flowctl.authoring.operators import BaseOperator


class EmailOperator(BaseOperator):
    """Airflow's EmailOperator: `to`, `subject`, `html_content` (templated)."""

    template_fields = ("to", "subject", "html_content", "files")
    template_ext = (".html",)
    ui_color = "#e6faf9"

    def __init__(self, task_id: str, to: str | list[str], subject: str, html_content: str = "",
                 files: list[str] | None = None, cc: str | list[str] | None = None,
                 bcc: str | list[str] | None = None, mime_subtype: str = "mixed", mime_charset: str = "utf-8",
                 conn_id: str | None = None, custom_headers: dict[str, Any] | None = None,
                 from_email: str | None = None, **kwargs: Any) -> None:
        self.to = to
        self.subject = subject
        self.html_content = html_content
        self.files = list(files or [])
        self.cc = cc
        self.bcc = bcc
        self.from_email = from_email
        super().__init__(task_id=task_id, **kwargs)

    def code_text(self) -> str:
        return f"{self.to}\n{self.subject}\n{self.html_content}"

    def execute(self, context: dict[str, Any]) -> None:
        import re

        from flowctl.config import notify_settings
        from flowctl.notify import any_channel, make_event, notify

        recipients = ", ".join([self.to] if isinstance(self.to, str) else list(self.to))
        text = " ".join(re.sub(r"<[^>]+>", " ", str(self.html_content)).split())
        ti = context.get("ti")
        settings = notify_settings()
        event = make_event(
            "email", dag_id=getattr(ti, "dag_id", None), run_id=context.get("run_id"),
            task_id=getattr(ti, "task_id", None), try_number=getattr(ti, "try_number", None),
            logical_date=context.get("logical_date"), to=recipients, subject=str(self.subject),
            message=f"To {recipients}: {self.subject}" + (f": {text}" if text else ""),
        )
        if not any_channel(settings):
            print(f"No notice channel is configured; the e-mail to {recipients} ({self.subject}) "
                  "was not sent anywhere", flush=True)
            return
        print(f"Sending the e-mail to {recipients} ({self.subject}) as a notice", flush=True)
        notify(settings, event, log=lambda line: print(line, flush=True))
