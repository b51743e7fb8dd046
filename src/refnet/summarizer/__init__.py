"""Summaries of open-access PDFs: fetching, text extraction and summary providers."""
