"""`.env.example` lists every setting, and its values load."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from refnet.core.config import SECRET_FIELDS, Settings

EXAMPLE = Path(__file__).resolve().parents[3] / ".env.example"


def documented_names() -> set[str]:
    names = re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", EXAMPLE.read_text(), flags=re.MULTILINE)
    return set(names)


def variables(model: type[BaseModel], prefix: str = "") -> set[str]:
    """The environment variable of every field, nested sections joined with `__`."""
    names = set()
    for name, field in model.model_fields.items():
        alias = field.validation_alias
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names |= variables(annotation, f"{prefix}{name.upper()}__")
        else:
            names.add(str(alias) if isinstance(alias, str) else f"{prefix}{name.upper()}")
    return names


def setting_names() -> set[str]:
    return variables(Settings) | {f"{n.upper()}_FILE" for n in SECRET_FIELDS}


def test_every_setting_is_documented() -> None:
    assert setting_names() <= documented_names()


def test_nothing_undocumented_is_listed() -> None:
    assert documented_names() <= setting_names()


def test_the_example_values_load(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(EXAMPLE.read_text())
    settings = Settings()
    assert settings.crawl.max_papers == 500
    assert settings.is_embedded
