"""The runtime lock gives a user's install (and the image) RefNet's runtime only; the
development lock adds the tools at the very same versions of everything else."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s;]+)", re.M)


def pins(name: str) -> dict[str, str]:
    text = (ROOT / name).read_text()
    return {package.lower(): version for package, version in PIN.findall(text)}


def requirement_names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=\[ ;]", item, maxsplit=1)[0].lower() for item in requirements}


def project() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]  # type: ignore[no-any-return]


def test_the_runtime_lock_has_no_development_tools() -> None:
    development = requirement_names(project()["optional-dependencies"]["dev"])  # type: ignore[index]
    assert development, "pyproject lists no development dependencies"
    assert not development & set(pins("requirements.lock"))


def test_the_runtime_lock_pins_every_runtime_dependency() -> None:
    runtime = requirement_names(project()["dependencies"])  # type: ignore[arg-type]
    assert runtime <= set(pins("requirements.lock"))


def test_the_development_lock_adds_tools_without_moving_any_runtime_version() -> None:
    runtime, development = pins("requirements.lock"), pins("requirements-dev.lock")
    assert {name: development.get(name) for name in runtime} == runtime
    assert {"pytest", "mypy", "ruff"} <= set(development)
