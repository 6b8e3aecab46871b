"""Thin Celery tasks, one module per job family. Names: ``tasks.<module>.<name>``."""
