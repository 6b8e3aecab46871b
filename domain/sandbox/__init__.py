"""The sandbox family (see README)."""
