"""The database schema's history as Alembic migrations, applied on start for SQLite and PostgreSQL alike
(see schema.py); ``slmops db upgrade`` applies them on demand."""
