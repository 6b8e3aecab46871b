"""The notifications family (see README)."""
