"""The certificates family (see README)."""
