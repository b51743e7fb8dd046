"""Fixtures of the security tests: a sign-in service and a way to add users, on SQLite and
PostgreSQL (the `database_url` fixture runs each test on both)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from refnet.security.accounts import UserView, create_user
from refnet.security.roles import Role
from refnet.security.sessions import Sessions
from tests.integration.security.support import ADMIN, PASSWORD, make_sessions


@pytest.fixture
def sessions(database_url: str) -> Sessions:
    return make_sessions(database_url)


@pytest.fixture
def add_user(database_url: str) -> Callable[..., UserView]:
    def add(name: str, role: Role = Role.READER, password: str = PASSWORD) -> UserView:
        return create_user(
            database_url=database_url, username=name, password=password, role=role, actor=ADMIN
        )

    return add
