"""No secret ever reaches an error message or a log line, whatever else is wrong.

Real secrets are planted in the environment (and in a secrets file), then the command is run
with one mistake after another; everything it prints is searched for every secret.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REFNET = Path(sys.executable).parent / "refnet"
SECRETS = {
    "SEMANTIC_SCHOLAR_API_KEY": "s2key-Zq81vXw3Lr5Tn0Pb7Kc2",
    "ANTHROPIC_API_KEY": "sk-ant-api03-Hk4Jx9Vq2Wm7Rt1Yb6Nc3Ld8",
    "OPENAI_API_KEY": "sk-proj-Ve5Gn2Bq9Xr4Tk7Wm1Hp6Js3",
}
DB_PASSWORD = "pg-Qw7Er4Ty1Ui8Op5As2Df9"


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **{k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")},
        **SECRETS,
        "COLUMNS": "200",
        **env,
    }
    return subprocess.run(
        [str(REFNET), *args], cwd=tmp_path, env=environment, capture_output=True, text=True
    )


def assert_no_secret(result: subprocess.CompletedProcess[str]) -> None:
    output = result.stdout + result.stderr
    for name, secret in {**SECRETS, "database password": DB_PASSWORD}.items():
        for fragment in (secret, secret[-8:], secret[:12]):
            assert fragment not in output, f"{name} leaked: {output}"


@pytest.mark.parametrize(
    ("mistake", "expected"),
    [
        ({"ENVIRONMENT": "production", "OPENAI_API_KEY": "changeme"}, "OPENAI_API_KEY"),
        ({"ENVIRONMENT": "production", "ANTHROPIC_API_KEY": "short"}, "ANTHROPIC_API_KEY"),
        ({"CRAWL__MAX_DEPTH": "99"}, "CRAWL__MAX_DEPTH"),
        ({"DB__POOL_SIZE": "0"}, "DB__POOL_SIZE"),
        ({"DB__API_CONNECTIONS": "many"}, "DB__API_CONNECTIONS"),
        ({"WORKERS__CRAWLER": "{concurrency: 2"}, "WORKERS (or one of WORKERS__*): not valid JSON"),
        ({"PDF__ALLOWLIST": '["127.0.0.1"'}, "PDF__ALLOWLIST is not a JSON list"),
        ({"SEMANTIC_SCHOLAR_RATE": "fast"}, "SEMANTIC_SCHOLAR_RATE"),
        ({"SUMMARIZER__PROVIDER": "gpt-5"}, "SUMMARIZER__PROVIDER"),
        ({"ENVIRONMENT": "staging"}, "ENVIRONMENT"),
        ({"DATABASE_URL": f"mysql://refnet:{DB_PASSWORD}@db/refnet"}, "PostgreSQL"),
        ({"DATABASE_URL": f"refnet:{DB_PASSWORD}@db/refnet"}, "DATABASE_URL"),
    ],
)
def test_a_bad_setting_is_named_without_showing_any_secret(
    tmp_path: Path, mistake: dict[str, str], expected: str
) -> None:
    result = run(tmp_path, "stats", **mistake)

    assert result.returncode == 2, result.stderr
    assert "invalid configuration" in result.stderr and expected in result.stderr
    assert "Traceback" not in result.stderr
    assert_no_secret(result)


def test_an_unreachable_database_is_reported_without_its_password(tmp_path: Path) -> None:
    url = f"postgresql://refnet:{DB_PASSWORD}@127.0.0.1:1/refnet"
    result = run(tmp_path, "stats", DATABASE_URL=url)

    assert result.returncode == 75, result.stderr  # try again later
    assert "database unavailable" in result.stderr
    assert_no_secret(result)


def test_an_unreadable_secrets_file_names_the_file_not_the_other_secrets(tmp_path: Path) -> None:
    result = run(tmp_path, "stats", OPENAI_API_KEY_FILE=str(tmp_path / "missing"))

    assert result.returncode == 2
    assert "OPENAI_API_KEY_FILE" in result.stderr
    assert_no_secret(result)


def test_secrets_from_files_stay_out_of_verbose_logs(tmp_path: Path) -> None:
    key_file = tmp_path / "s2_key"
    key_file.write_text(SECRETS["SEMANTIC_SCHOLAR_API_KEY"] + "\n")
    result = run(
        tmp_path,
        "crawl",
        "--source",
        "sample",
        "--depth",
        "0",
        "--verbose",
        "ARXIV:2005.11401",
        SEMANTIC_SCHOLAR_API_KEY_FILE=str(key_file),
        SUMMARIZER__FETCH_PDFS="false",
    )

    assert result.returncode == 0, result.stderr
    assert '"level": "info"' in result.stderr  # --verbose logs did reach the output
    assert_no_secret(result)
