"""RefNet: citation networks from Semantic Scholar, kept as an Obsidian vault."""

__version__ = "0.1.0"
