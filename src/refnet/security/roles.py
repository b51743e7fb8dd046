"""Roles, each including the ones below it: reader < operator < admin."""

from __future__ import annotations

from enum import StrEnum

from refnet.core.errors import InvalidInput


class Role(StrEnum):
    READER = "reader"  # reads papers, jobs, seeds
    OPERATOR = "operator"  # + triggers crawls, summaries, vault updates; watches seeds
    ADMIN = "admin"  # + users, audit log

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def includes(self, other: Role) -> bool:
        """Whether this role may do what `other` may."""
        return self.rank >= Role(other).rank

    @classmethod
    def parse(cls, value: str) -> Role:
        """The role named `value` (any case); InvalidInput listing the roles otherwise."""
        try:
            return cls(value.strip().lower())
        except ValueError:
            names = ", ".join(role.value for role in cls)
            raise InvalidInput(f"unknown role {value!r}; use one of {names}") from None


_RANKS = {Role.READER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}
