"""ORM models; importing this package registers every table on `Base.metadata`."""

from refnet.db.models.auth import AuditEvent, AuthSession, RefreshToken, User
from refnet.db.models.crawl import (
    CrawlJob,
    FrontierEntry,
    FrontierState,
    JobKind,
    JobStatus,
    WatchedSeed,
)
from refnet.db.models.operations import FailureStatus, HealthFinding, ScheduleRun, TaskFailure
from refnet.db.models.paper import (
    COLLECTED_STATES,
    Author,
    Citation,
    CrawlState,
    Paper,
    PaperAuthor,
)
from refnet.db.models.summary import InputKind, PdfDocument, PdfStatus, Summary, SummaryStatus
from refnet.db.models.tasks import RequestKind, RequestStatus, TaskRequest
from refnet.db.models.vault import VaultFile, VaultFileKind

__all__ = [
    "COLLECTED_STATES",
    "AuditEvent",
    "AuthSession",
    "Author",
    "Citation",
    "CrawlJob",
    "CrawlState",
    "FailureStatus",
    "FrontierEntry",
    "FrontierState",
    "HealthFinding",
    "InputKind",
    "JobKind",
    "JobStatus",
    "Paper",
    "PaperAuthor",
    "PdfDocument",
    "PdfStatus",
    "RefreshToken",
    "RequestKind",
    "RequestStatus",
    "ScheduleRun",
    "Summary",
    "SummaryStatus",
    "TaskFailure",
    "TaskRequest",
    "User",
    "VaultFile",
    "VaultFileKind",
    "WatchedSeed",
]
