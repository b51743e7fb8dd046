"""Request and response bodies: the API's contract, as `/openapi.json` publishes it.

Request bodies refuse fields they do not know (a typo or an attempt to set `role` where it is not
accepted is a 422, never silently ignored) and text with NUL characters.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Text = Annotated[str, AfterValidator(no_nul)]
ShortText = Annotated[str, Field(min_length=1, max_length=2000), AfterValidator(no_nul)]


class Body(BaseModel):
    # Strict: `"full": 0` or `"disabled": "no"` is a mistake to report, not a value to guess.
    model_config = ConfigDict(extra="forbid", strict=True)


# --- auth ---------------------------------------------------------------------------------------
class LoginBody(Body):
    username: Annotated[str, Field(min_length=1, max_length=64), AfterValidator(no_nul)]
    password: Annotated[str, Field(min_length=1, max_length=1024), AfterValidator(no_nul)]


class RefreshBody(Body):
    refresh_token: Annotated[str, Field(min_length=1, max_length=4096), AfterValidator(no_nul)]


class LogoutBody(Body):
    refresh_token: (
        Annotated[str, Field(min_length=1, max_length=4096), AfterValidator(no_nul)] | None
    ) = None


class TokenPairOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int = Field(description="Seconds the access token stays valid.")


class MeOut(BaseModel):
    id: int
    username: str
    role: str
    access_expires_at: datetime


# --- papers -------------------------------------------------------------------------------------
class PaperOut(BaseModel):
    id: int
    s2_id: str
    title: str | None
    year: int | None
    venue: str | None
    citation_count: int | None
    reference_count: int | None
    fields_of_study: list[str]
    state: str
    doi: str | None
    arxiv: str | None
    added_at: datetime


class NeighbourOut(PaperOut):
    is_influential: bool | None = None


class PaperPageOut(BaseModel):
    total: int
    items: list[PaperOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page (keyset); null on the last page."
    )


class NeighbourPageOut(BaseModel):
    total: int
    items: list[NeighbourOut]


class AuthorOut(BaseModel):
    name: str
    s2_author_id: str | None = None


class SummaryOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    text: str | None = None
    tldr: str | None = None
    key_points: list[str] | None = None
    keywords: list[str] | None = None


class PaperDetailOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: int
    s2_id: str
    title: str | None
    year: int | None
    state: str
    authors: list[AuthorOut]
    summary: SummaryOut | None
    note_path: str | None


class GraphNodeOut(BaseModel):
    id: int
    s2_id: str
    title: str | None
    year: int | None
    citation_count: int | None
    depth: int


class GraphEdgeOut(BaseModel):
    source: int = Field(description="The citing paper's id.")
    target: int = Field(description="The cited paper's id.")


class GraphOut(BaseModel):
    nodes: list[GraphNodeOut]
    edges: list[GraphEdgeOut]
    truncated: bool


class SearchHitOut(BaseModel):
    id: int
    s2_id: str
    title: str | None
    year: int | None
    citation_count: int | None
    rank: float
    snippet: str = Field(description="HTML-escaped passage, matches in <mark>…</mark>.")
    title_highlighted: str
    collected: bool


class SearchPageOut(BaseModel):
    total: int
    total_is_exact: bool
    items: list[SearchHitOut]


# --- pipeline -----------------------------------------------------------------------------------
class CrawlBody(Body):
    paper_url: ShortText | None = None
    paper_id: ShortText | None = None
    depth: int | None = Field(default=None, ge=0, le=5)
    max_papers: int | None = Field(default=None, ge=1, le=100_000)


class SummarizeBody(Body):
    paper_id: ShortText | list[ShortText] = Field(
        description="One paper or up to 500, in any id form the crawl accepts."
    )


class GenerateBody(Body):
    full: bool = Field(default=False, description="Rewrite every note, not just changed ones.")


class JobOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: int
    kind: str
    status: str
    seeds: list[str]
    error: str | None
    progress: dict[str, int]
    created_at: datetime
    updated_at: datetime


class JobPageOut(BaseModel):
    total: int
    items: list[JobOut]


class AcceptedOut(BaseModel):
    id: int
    kind: str
    status: str
    existing: bool = Field(description="True when the same work was already queued.")
    location: str


class TaskRequestOut(BaseModel):
    id: int
    kind: str
    status: str
    params: dict[str, Any]
    error: str | None
    created_at: datetime
    updated_at: datetime


class QueueOut(BaseModel):
    name: str
    depth: int | None = Field(description="Tasks waiting; null when the broker cannot say.")
    workers: int | None = Field(description="Live workers consuming it; null if unknown.")


class QueueStatusOut(BaseModel):
    mode: str = Field(description="`workers` with a broker, `embedded` when tasks run in the API.")
    queues: list[QueueOut]


class SeedBody(Body):
    paper_id: ShortText


class SeedOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: int
    paper_id: int
    s2_id: str
    title: str | None
    active: bool
    created_at: datetime


# --- admin --------------------------------------------------------------------------------------
class UserCreateBody(Body):
    username: Annotated[str, Field(min_length=1, max_length=64), AfterValidator(no_nul)]
    password: Annotated[str, Field(min_length=1, max_length=1024), AfterValidator(no_nul)]
    role: str = Field(description="reader, operator or admin.")


class UserPatchBody(Body):
    role: str | None = None
    disabled: bool | None = None


class PasswordBody(Body):
    password: Annotated[str, Field(min_length=1, max_length=1024), AfterValidator(no_nul)]


class UserOut(BaseModel):
    id: int
    username: str
    role: str
    disabled: bool
    created_at: datetime
    updated_at: datetime


class AuditEventOut(BaseModel):
    id: int
    at: datetime
    user_id: int | None
    username: str | None
    action: str
    outcome: str
    client_ip: str | None
    request_id: str | None
    details: dict[str, Any]


class AuditPageOut(BaseModel):
    total: int
    items: list[AuditEventOut]


class HealthOut(BaseModel):
    status: str


class ReadyOut(BaseModel):
    status: str
    checks: dict[str, str]
