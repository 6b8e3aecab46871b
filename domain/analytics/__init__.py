"""The analytics family (see README)."""
