"""The generation of the paper data: a counter in Redis that moves forward after every commit
that changed what the API shows of papers (their rows, edges, authors, summaries, notes, PDFs
and watched seeds), whichever process made it: worker, API or command line.

The API's response cache (`refnet.api.response_cache`) files each answer under the generation
read before the answer was computed, and looks answers up under the current one, so an answer
computed before a commit is never served after it. The counter moves after the commit: a read
that raced the commit can only have filed newer data under the older generation.

Without Redis there is no counter and no response cache. When Redis cannot be reached at a
commit, the counter does not move and cached answers live out their expiry (short: see
`API__RESPONSE_CACHE_SECONDS`); the commit itself is never undone.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from hashlib import blake2b
from typing import Any

import redis
from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from refnet.core.config import get_settings

log = logging.getLogger(__name__)

PAPER_TABLES = frozenset(
    {
        "papers",
        "citations",
        "authors",
        "paper_authors",
        "summaries",
        "vault_files",
        "pdf_documents",
        "watched_seeds",
    }
)
_CHANGED = "refnet.paper_data_changed"  # in a session's info: commit moves the generation
_SESSION_INFO = "refnet.session_info"  # in a connection's info: its session's info


def key_prefix(database_url: str) -> str:
    """The Redis key prefix of one database's paper data (several installations may share a
    Redis)."""
    url = make_url(database_url).render_as_string(hide_password=False)
    return f"refnet:paper-data:{blake2b(url.encode(), digest_size=8).hexdigest()}"


def generation_key(database_url: str) -> str:
    return f"{key_prefix(database_url)}:generation"


# The table a data-changing statement writes, as RefNet's statements name it (ORM flushes,
# Core DML and SQL text alike). A read never says INSERT INTO, DELETE FROM or UPDATE t SET.
_WRITES = re.compile(
    r"\b(?:INSERT\s+INTO|DELETE\s+FROM)\s+\"?(\w+)|\bUPDATE\s+\"?(\w+)\"?\s+(?:AS\s+\w+\s+)?SET\b",
    re.IGNORECASE,
)


@event.listens_for(Session, "after_begin")
def _link_connection(session: Session, _transaction: Any, connection: Connection) -> None:
    connection.info[_SESSION_INFO] = session.info


@event.listens_for(Engine, "after_cursor_execute")
def _note_writes(connection: Connection, _cursor: Any, statement: str, *_: Any) -> None:
    session_info = connection.info.get(_SESSION_INFO)
    if session_info is None or session_info.get(_CHANGED):
        return  # no session to tell, or it knows already: no statement text to read
    for match in _WRITES.finditer(statement):
        if (match[1] or match[2]).lower() in PAPER_TABLES:
            session_info[_CHANGED] = True
            return


@event.listens_for(Session, "after_commit")
def _advance_after_commit(session: Session) -> None:
    if session.info.pop(_CHANGED, False):
        bind = session.get_bind()
        advance(bind.engine.url.render_as_string(hide_password=False))


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_CHANGED, None)


def advance(database_url: str) -> None:
    """Move the generation forward (with Redis configured); a failure is logged, not raised."""
    redis_url = get_settings().redis_url
    if not redis_url:
        return
    try:
        _client(redis_url).incr(generation_key(database_url))
    except redis.RedisError as exc:
        log.warning("paper data changed but the cache generation could not move: %s", exc)


@lru_cache(maxsize=4)
def _client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)
