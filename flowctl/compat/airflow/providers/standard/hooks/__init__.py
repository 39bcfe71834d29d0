"""Standard provider hooks."""
