"""What runs inside a task process: the runner, its template context, the current context."""
