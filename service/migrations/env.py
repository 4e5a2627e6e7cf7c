"""Alembic environment: runs migrations against the URL set by ``service.migrations_runner.alembic_config``."""

from alembic import context
from sqlalchemy import engine_from_config, pool

from lotse.db import SQLITE_PAGE_SIZE, Base
from service.migrations_runner import register_tables

config = context.config
register_tables()
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is None:
        connectable = engine_from_config(
            config.get_section(config.config_ini_section, {}),
            prefix="sqlalchemy.",
            poolclass=pool.NullPool,
        )
        with connectable.connect() as connection:
            _run(connection)
    else:
        _run(connectable)


def _run(connection) -> None:
    if connection.dialect.name == "sqlite":  # takes effect only on a new, empty file
        connection.exec_driver_sql(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")
        connection.commit()  # (the statement began a transaction of its own)
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
