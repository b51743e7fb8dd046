"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "authors",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("s2_author_id", sa.String(length=64), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authors")),
        sa.UniqueConstraint("key", name=op.f("uq_authors_key")),
    )
    op.create_table(
        "crawl_jobs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column(
            "seeds",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "seed_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "params",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("papers_collected", sa.Integer(), nullable=False),
        sa.Column("papers_expanded", sa.Integer(), nullable=False),
        sa.Column("edges_stored", sa.Integer(), nullable=False),
        sa.Column("requests_made", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crawl_jobs")),
    )
    with op.batch_alter_table("crawl_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_crawl_jobs_status"), ["status"], unique=False)

    op.create_table(
        "papers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("s2_id", sa.String(length=64), nullable=False),
        sa.Column("corpus_id", sa.BigInteger(), nullable=True),
        sa.Column("doi", sa.String(length=255), nullable=True),
        sa.Column("arxiv_id", sa.String(length=64), nullable=True),
        sa.Column(
            "external_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("abstract", sa.Text(), nullable=True),
        sa.Column("tldr", sa.Text(), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("publication_date", sa.Date(), nullable=True),
        sa.Column("venue", sa.Text(), nullable=True),
        sa.Column("journal", sa.Text(), nullable=True),
        sa.Column(
            "publication_types",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "fields_of_study",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("citation_count", sa.Integer(), nullable=True),
        sa.Column("reference_count", sa.Integer(), nullable=True),
        sa.Column("influential_citation_count", sa.Integer(), nullable=True),
        sa.Column("open_access_pdf_url", sa.Text(), nullable=True),
        sa.Column("open_access_status", sa.String(length=32), nullable=True),
        sa.Column("open_access_license", sa.String(length=64), nullable=True),
        sa.Column("bibtex", sa.Text(), nullable=True),
        sa.Column("crawl_state", sa.String(length=16), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=True),
        sa.Column("priority", sa.Float(), nullable=True),
        sa.Column("metadata_fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expanded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_papers")),
        sa.UniqueConstraint("arxiv_id", name=op.f("uq_papers_arxiv_id")),
        sa.UniqueConstraint("doi", name=op.f("uq_papers_doi")),
        sa.UniqueConstraint("s2_id", name=op.f("uq_papers_s2_id")),
    )
    with op.batch_alter_table("papers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_papers_corpus_id"), ["corpus_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_papers_crawl_state"), ["crawl_state"], unique=False)
        batch_op.create_index(batch_op.f("ix_papers_year"), ["year"], unique=False)

    op.create_table(
        "citations",
        sa.Column(
            "citing_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("cited_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("is_influential", sa.Boolean(), nullable=True),
        sa.Column(
            "intents",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "contexts",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cited_id"],
            ["papers.id"],
            name=op.f("fk_citations_cited_id_papers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["citing_id"],
            ["papers.id"],
            name=op.f("fk_citations_citing_id_papers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("citing_id", "cited_id", name=op.f("pk_citations")),
    )
    with op.batch_alter_table("citations", schema=None) as batch_op:
        batch_op.create_index("ix_citations_cited_id", ["cited_id"], unique=False)

    op.create_table(
        "crawl_frontier",
        sa.Column("job_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("paper_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("is_seed", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["crawl_jobs.id"],
            name=op.f("fk_crawl_frontier_job_id_crawl_jobs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["paper_id"],
            ["papers.id"],
            name=op.f("fk_crawl_frontier_paper_id_papers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", "paper_id", name=op.f("pk_crawl_frontier")),
    )
    with op.batch_alter_table("crawl_frontier", schema=None) as batch_op:
        batch_op.create_index("ix_crawl_frontier_job_id_state", ["job_id", "state"], unique=False)

    op.create_table(
        "paper_authors",
        sa.Column("paper_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column(
            "author_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["authors.id"], name=op.f("fk_paper_authors_author_id_authors")
        ),
        sa.ForeignKeyConstraint(
            ["paper_id"],
            ["papers.id"],
            name=op.f("fk_paper_authors_paper_id_papers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("paper_id", "position", name=op.f("pk_paper_authors")),
    )
    with op.batch_alter_table("paper_authors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_paper_authors_author_id"), ["author_id"], unique=False)

    op.create_table(
        "watched_seeds",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("paper_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "params",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("last_crawled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["paper_id"],
            ["papers.id"],
            name=op.f("fk_watched_seeds_paper_id_papers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watched_seeds")),
        sa.UniqueConstraint("paper_id", name=op.f("uq_watched_seeds_paper_id")),
    )


def downgrade() -> None:
    op.drop_table("watched_seeds")
    with op.batch_alter_table("paper_authors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_paper_authors_author_id"))

    op.drop_table("paper_authors")
    with op.batch_alter_table("crawl_frontier", schema=None) as batch_op:
        batch_op.drop_index("ix_crawl_frontier_job_id_state")

    op.drop_table("crawl_frontier")
    with op.batch_alter_table("citations", schema=None) as batch_op:
        batch_op.drop_index("ix_citations_cited_id")

    op.drop_table("citations")
    with op.batch_alter_table("papers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_papers_year"))
        batch_op.drop_index(batch_op.f("ix_papers_crawl_state"))
        batch_op.drop_index(batch_op.f("ix_papers_corpus_id"))

    op.drop_table("papers")
    with op.batch_alter_table("crawl_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crawl_jobs_status"))

    op.drop_table("crawl_jobs")
    op.drop_table("authors")
