"""Standard provider decorators (`@task.*` lives on `task`)."""
