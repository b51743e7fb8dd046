"""Passwords: argon2id hashes, the policy a new password must meet, and equal timing.

`waste_verification` spends the time of one verification, so a login for a user that does not
exist takes as long as one with a wrong password and response times reveal no user names.
"""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from refnet.core.errors import InvalidInput

# argon2-cffi's defaults are argon2id with RFC 9106's low-memory profile (64 MiB, t=3, p=4).
_HASHER = PasswordHasher()
MAX_PASSWORD_LENGTH = 1024  # hashing cost grows with length; nobody types more
# Passwords that lead every leaked-password list, and the stems people pad to a length.
_COMMON = """
password passw0rd p@ssw0rd p@ssword password1 password12 password123 password1234
123456 1234567 12345678 123456789 1234567890 12345678910 123456789012 0123456789
qwerty qwertyuiop qwerty123 qwertyuiop123 asdfghjkl zxcvbnm 1q2w3e4r 1q2w3e4r5t6y
qazwsxedc iloveyou letmein welcome welcome1 admin administrator admin123 root toor
changeme changethis secret monkey dragon football baseball sunshine princess master
shadow superman trustno1 abc123 abcdef abcdefgh abcdefghijkl starwars whatever
correcthorsebatterystaple refnet refnet123 default guest test test123 temp temp123
"""
COMMON_PASSWORDS = frozenset(_COMMON.split())
_PADDING = "0123456789!@#$%^&*()-_=+.,?~ "


def hash_password(password: str) -> str:
    """An argon2id hash (PHC string: algorithm, parameters, salt and hash)."""
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether `password` matches; False for a malformed hash as well."""
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with other parameters than today's (then store a new one)."""
    try:
        return _HASHER.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _HASHER.hash("refnet-dummy-password-for-equal-timing")


def waste_verification() -> None:
    """Verify a password against a dummy hash: as long as a real verification takes."""
    verify_password(_dummy_hash(), "not-the-dummy-password")


def check_policy(password: str, *, username: str, min_length: int) -> None:
    """InvalidInput saying what is wrong and what is required, unless `password` is
    acceptable."""
    requirement = (
        f"use at least {min_length} characters (a few unrelated words make a good one); "
        "not the user name, not a common password, not one character repeated"
    )
    lowered = password.lower()
    if len(password) < min_length:
        problem = f"the password is too short ({len(password)} characters)"
    elif len(password) > MAX_PASSWORD_LENGTH:
        problem = f"the password is longer than {MAX_PASSWORD_LENGTH} characters"
    elif len(set(password)) == 1:
        problem = "the password is one character repeated"
    elif username and username.lower() in lowered:
        problem = "the password contains the user name"
    elif lowered in COMMON_PASSWORDS or lowered.strip(_PADDING) in COMMON_PASSWORDS:
        problem = "the password is one of the most common passwords"
    else:
        return
    raise InvalidInput(f"{problem}; {requirement}")
