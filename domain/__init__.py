"""Domain layer: SQLAlchemy models and pure logic. No Celery, FastAPI or Redis imports here."""
