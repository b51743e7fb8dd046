"""Database failures that pass by themselves leave a unit of work as TransientError (retried);
configuration mistakes do not."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from refnet.core.errors import TransientError
from refnet.db.session import get_engine, session_scope


@pytest.fixture
def table(pg_url: str) -> str:
    with get_engine(pg_url).begin() as connection:
        connection.execute(sa.text("DROP TABLE IF EXISTS lock_test"))
        connection.execute(sa.text("CREATE TABLE lock_test (id int PRIMARY KEY, n int)"))
        connection.execute(sa.text("INSERT INTO lock_test VALUES (1, 0), (2, 0)"))
    return pg_url


def test_a_deadlock_is_a_transient_error(table: str) -> None:
    both_hold_one = threading.Barrier(2)
    failures: list[BaseException] = []

    def update(first: int, second: int) -> None:
        try:
            with session_scope(table) as session:
                session.execute(
                    sa.text("UPDATE lock_test SET n = n + 1 WHERE id = :id"), {"id": first}
                )
                both_hold_one.wait(5)
                session.execute(
                    sa.text("UPDATE lock_test SET n = n + 1 WHERE id = :id"), {"id": second}
                )
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=update, args=pair) for pair in ((1, 2), (2, 1))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert len(failures) == 1  # PostgreSQL broke the cycle by failing one transaction
    assert isinstance(failures[0], TransientError)
    assert "deadlock detected" in str(failures[0])
    with get_engine(table).connect() as connection:  # the loser's work was rolled back
        assert connection.scalar(sa.text("SELECT sum(n) FROM lock_test")) == 2


def test_a_connection_dropped_mid_transaction_is_a_transient_error(table: str) -> None:
    def work_on_a_dropped_connection() -> None:
        with session_scope(table) as session:
            pid = session.scalar(sa.text("SELECT pg_backend_pid()"))
            with get_engine(table).connect() as admin:
                admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                admin.commit()
            session.execute(sa.text("UPDATE lock_test SET n = 5"))

    with pytest.raises(TransientError, match="database unavailable or busy"):
        work_on_a_dropped_connection()
    with session_scope(table) as session:  # the next unit of work gets a fresh connection
        assert session.scalar(sa.text("SELECT max(n) FROM lock_test")) == 0


def select_one(url: str) -> None:
    with session_scope(url) as session:
        session.execute(sa.text("SELECT 1"))


def test_an_unreachable_server_is_transient_but_a_wrong_database_is_not() -> None:
    with pytest.raises(TransientError):
        select_one("postgresql+psycopg://postgres@127.0.0.1:1/refnet")
    with pytest.raises(sa_exc.OperationalError, match="does not exist"):
        select_one("postgresql+psycopg://postgres@127.0.0.1:5432/no_such_db")
