"""Standard provider utilities."""
