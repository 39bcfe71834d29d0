"""smtp operators."""
