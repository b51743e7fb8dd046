"""`.env.example` lists every setting, and its values load."""

from __future__ import annotations

import re
from pathlib import Path

from refnet.core.config import Settings
from tests.support.settings_names import setting_variables

EXAMPLE = Path(__file__).resolve().parents[3] / ".env.example"


def documented_names() -> set[str]:
    names = re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", EXAMPLE.read_text(), flags=re.MULTILINE)
    return set(names)


def test_every_setting_is_documented() -> None:
    assert setting_variables() <= documented_names()


def test_nothing_undocumented_is_listed() -> None:
    assert documented_names() <= setting_variables()


def test_the_example_values_load(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(EXAMPLE.read_text())
    settings = Settings()
    assert settings.crawl.max_papers == 500
    assert settings.is_embedded
