"""What RefNet wrote into the vault, so it only rewrites its own files, and only when changed."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from refnet.db.base import Base, utcnow


class VaultFileKind(enum.StrEnum):
    NOTE = "note"  # one paper
    INDEX = "index"  # map of content
    MAP = "map"  # one seed's map note
    CANVAS = "canvas"  # one seed's JSON Canvas


class VaultFile(Base):
    __tablename__ = "vault_files"
    __table_args__ = (
        Index("ix_vault_files_kind_status_updated_at", "kind", "status", "updated_at"),
    )

    # Path relative to the vault root, with forward slashes.
    path: Mapped[str] = mapped_column(String(512), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    paper_id: Mapped[int | None] = mapped_column(
        ForeignKey("papers.id", ondelete="SET NULL"), index=True
    )
    content_hash: Mapped[str | None] = mapped_column(String(64))  # of what RefNet last wrote
    status: Mapped[str] = mapped_column(String(16), default="written")  # written | failed
    error: Mapped[str | None] = mapped_column(Text)
    written_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
