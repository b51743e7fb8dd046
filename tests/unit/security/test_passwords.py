"""Password hashing, the password policy, and roles."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from argon2 import PasswordHasher

from refnet.core.errors import InvalidInput
from refnet.security.passwords import (
    check_policy,
    hash_password,
    needs_rehash,
    verify_password,
    waste_verification,
)
from refnet.security.roles import Role

GOOD = "violet-anchor-47-drifting"


def test_hash_is_argon2id_salted_and_verifies() -> None:
    first, second = hash_password(GOOD), hash_password(GOOD)
    assert first.startswith("$argon2id$") and first != second  # a fresh salt each time
    assert GOOD not in first
    assert verify_password(first, GOOD)
    assert not verify_password(first, GOOD + "x")
    assert not verify_password(first, "")


def test_a_malformed_hash_verifies_nothing() -> None:
    assert not verify_password("not-a-hash", GOOD)
    assert not verify_password("", GOOD)


def test_hashes_made_with_weaker_parameters_ask_to_be_redone() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(GOOD)
    assert verify_password(weak, GOOD)
    assert needs_rehash(weak)
    assert not needs_rehash(hash_password(GOOD))


def test_wasted_verification_takes_as_long_as_a_real_one() -> None:
    stored = hash_password(GOOD)
    waste_verification()  # the dummy hash is made once, on first use

    def best_of(action: Callable[[], object], runs: int = 3) -> float:
        timings = []
        for _ in range(runs):
            started = time.perf_counter()
            action()
            timings.append(time.perf_counter() - started)
        return min(timings)

    real = best_of(lambda: verify_password(stored, "wrong-password-here"))
    wasted = best_of(waste_verification)
    assert 0.33 < wasted / real < 3.0  # an unknown user costs as much as a wrong password


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short-1", "too short (7 characters)"),
        ("a" * 20, "one character repeated"),
        ("alice-the-researcher", "contains the user name"),
        ("Password1234", "most common passwords"),
        ("password1234!!", "most common passwords"),
        ("123456789012", "most common passwords"),
        ("x" * 1025 + "yz", "longer than 1024"),
    ],
)
def test_policy_refuses_weak_passwords_saying_what_is_required(password: str, problem: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_policy(password, username="alice", min_length=12)
    message = str(caught.value)
    assert problem in message
    assert "at least 12 characters" in message
    assert password not in message


def test_policy_accepts_a_long_unrelated_password() -> None:
    check_policy(GOOD, username="alice", min_length=12)
    check_policy("correct horse battery staple", username="alice", min_length=12)


def test_policy_follows_the_configured_length() -> None:
    check_policy("sixteen-chars-ok", username="bob", min_length=16)
    with pytest.raises(InvalidInput, match="at least 20 characters"):
        check_policy("sixteen-chars-ok", username="bob", min_length=20)


def test_roles_include_the_ones_below() -> None:
    assert Role.ADMIN.includes(Role.OPERATOR) and Role.ADMIN.includes(Role.READER)
    assert Role.OPERATOR.includes(Role.READER) and Role.OPERATOR.includes(Role.OPERATOR)
    assert not Role.READER.includes(Role.OPERATOR)
    assert not Role.OPERATOR.includes(Role.ADMIN)


def test_unknown_role_is_refused_with_the_choices() -> None:
    assert Role.parse(" Operator ") is Role.OPERATOR
    with pytest.raises(InvalidInput, match="use one of reader, operator, admin"):
        Role.parse("root")
