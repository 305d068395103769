"""Alembic environment: runs on the connection handed over by service.storage.db.migrate."""

from alembic import context

from service.storage.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - alembic CLI use needs a URL
    from sqlalchemy import create_engine

    connection = create_engine(context.config.get_main_option("sqlalchemy.url")).connect()

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
