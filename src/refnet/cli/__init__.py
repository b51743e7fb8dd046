"""`refnet …`: the command line. Every service process is also a command of it."""

from refnet.cli import crawl, pipeline  # noqa: F401  (registers the commands)
from refnet.cli.common import app

__all__ = ["app"]
