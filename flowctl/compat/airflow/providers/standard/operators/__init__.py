"""Standard provider operators."""
