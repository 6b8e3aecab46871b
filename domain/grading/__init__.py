"""The grading family (see README)."""
