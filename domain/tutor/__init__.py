"""The tutor family (see README)."""
