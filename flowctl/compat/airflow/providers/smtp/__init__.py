"""The smtp provider: only its EmailOperator, as a flowctl notice."""
