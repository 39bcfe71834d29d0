"""Standard provider sensors."""
