"""`refnet …`: the command line. Every service process is also a command of it."""

import gc

from refnet.cli import backup, crawl, operations, pipeline, probe, serve, users  # noqa: F401  (registers the commands)
from refnet.cli.common import app

# What the imports built lives as long as the process: keep it out of every garbage collection.
gc.freeze()

__all__ = ["app"]
