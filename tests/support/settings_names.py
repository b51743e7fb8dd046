"""The environment variables RefNet's settings read, derived from the settings themselves."""

from __future__ import annotations

from pydantic import BaseModel

from refnet.core.config import SECRET_FIELDS, Settings


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


def setting_variables() -> set[str]:
    """Every setting's variable, and the NAME_FILE of every secret."""
    return variables(Settings) | {f"{name.upper()}_FILE" for name in SECRET_FIELDS}
