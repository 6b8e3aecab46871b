"""The video family (see README)."""
