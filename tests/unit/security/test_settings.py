"""Settings of the API's perimeter and sign-in: lists, rate limits, secrets, production."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy.engine import make_url

from refnet.core.config import RATE_WITHOUT_KEY, Settings, describe_settings_errors
from refnet.core.errors import InvalidInput
from refnet.security.tokens import Keyring, development_secret, key_id, load_jwt_secrets

STRONG = "k9Vq2Wm7Rt1Yb6Nc3Ld8Hx4Jz0Pa5Se-strong-signing-secret"
PREVIOUS = "Zq81vXw3Lr5Tn0Pb7Kc2Ve5Gn2Bq9Xr4-previous-signing-secret"


def refusal(monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as caught:
        Settings()
    return describe_settings_errors(caught.value)


def test_defaults_are_safe_for_a_laptop() -> None:
    settings = Settings()
    assert settings.api.cors_origins == []
    assert "*" not in settings.api.trusted_hosts and "localhost" in settings.api.trusted_hosts
    assert settings.api.trusted_proxies == []
    assert settings.api.max_body_bytes == 1_048_576
    assert settings.api.metrics_networks == ["127.0.0.0/8", "::1/128"]
    assert settings.auth.access_token_minutes == 15 and settings.auth.refresh_token_days == 7
    assert (settings.auth.issuer, settings.auth.audience) == ("refnet", "refnet-api")
    assert settings.rate_limit.login == "10/minute"
    assert [str(i) for i in settings.rate_limit.items("crawl")] == ["10 per 1 minute"]


@pytest.mark.parametrize(
    "written",
    [
        "https://a.example.org, https://b.example.org",
        '["https://a.example.org", "https://b.example.org"]',
    ],
)
def test_lists_are_comma_separated_or_json(monkeypatch: pytest.MonkeyPatch, written: str) -> None:
    monkeypatch.setenv("API__CORS_ORIGINS", written)
    assert Settings().api.cors_origins == ["https://a.example.org", "https://b.example.org"]


def test_networks_are_checked_and_normalized(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API__TRUSTED_PROXIES", "10.1.2.3/8,192.168.0.7, fd00::/8")
    assert Settings().api.trusted_proxies == ["10.0.0.0/8", "192.168.0.7/32", "fd00::/8"]
    message = refusal(monkeypatch, API__METRICS_NETWORKS="127.0.0.0/8,localhost")
    assert "API__METRICS_NETWORKS" in message and "'localhost' is not an IP address" in message


def test_a_bad_json_list_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    message = refusal(monkeypatch, API__TRUSTED_HOSTS='["a.example.org",')
    assert "API__TRUSTED_HOSTS is not a JSON list" in message


@pytest.mark.parametrize("value", ["fast", "10/fortnight", "0/minute", ""])
def test_a_bad_rate_limit_is_named_with_an_example(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    message = refusal(monkeypatch, RATE_LIMIT__CRAWL=value)
    assert "RATE_LIMIT__CRAWL" in message and '"100/minute"' in message


def test_several_rate_limits_in_one_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATE_LIMIT__READ", "10/second;1000/hour")
    assert [i.amount for i in Settings().rate_limit.items("read")] == [10, 1000]


def test_secrets_come_from_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {
        "JWT_SECRET": STRONG,
        "JWT_PREVIOUS_SECRETS": f"{PREVIOUS}\nanother-old-secret-0123456789abcdefgh\n",
        "DATABASE_PASSWORD": "pg-Qw7Er4Ty1Ui8Op5As2Df9",
        "REFNET_BOOTSTRAP_ADMIN_PASSWORD": "first-admin-password-1234",
    }
    for name, content in files.items():
        (tmp_path / name).write_text(content + "\n")
        monkeypatch.setenv(f"{name}_FILE", str(tmp_path / name))
    settings = Settings()
    assert settings.jwt_secret is not None and settings.jwt_secret.get_secret_value() == STRONG
    previous = [s.get_secret_value() for s in settings.jwt_previous_secrets]
    assert previous == [PREVIOUS, "another-old-secret-0123456789abcdefgh"]
    assert settings.refnet_bootstrap_admin_password is not None
    assert (
        settings.refnet_bootstrap_admin_password.get_secret_value() == "first-admin-password-1234"
    )
    text = repr(settings) + str(settings.model_dump())
    for content in files.values():
        assert content.split("\n")[0] not in text


def test_previous_secrets_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_PREVIOUS_SECRETS", f"{PREVIOUS}, {STRONG}")
    assert [s.get_secret_value() for s in Settings().jwt_previous_secrets] == [PREVIOUS, STRONG]


def test_database_password_is_merged_into_a_url_without_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://refnet@db:5432/refnet?sslmode=require")
    monkeypatch.setenv("DATABASE_PASSWORD", "p@ss/w:rd 1")
    url = make_url(Settings().effective_database_url)
    assert url.password == "p@ss/w:rd 1"
    assert (url.username, url.host, url.port, url.database) == ("refnet", "db", 5432, "refnet")
    assert url.query == {"sslmode": "require"}
    monkeypatch.setenv("DATABASE_URL", "postgresql://refnet:inline@db/refnet")
    assert Settings().effective_database_url == "postgresql+psycopg://refnet:inline@db/refnet"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"JWT_SECRET": "changethis"}, "JWT_SECRET is a placeholder or shorter than 32"),
        ({"JWT_SECRET": "only-twenty-chars-xx"}, "JWT_SECRET is a placeholder or shorter than 32"),
        ({"JWT_SECRET": "changeme-changeme-changeme-changeme"}, "JWT_SECRET is a placeholder"),
        ({"JWT_SECRET": "a" * 40}, "JWT_SECRET is a placeholder"),
        (
            {"JWT_SECRET": STRONG, "JWT_PREVIOUS_SECRETS": f"{PREVIOUS},short"},
            "JWT_PREVIOUS_SECRETS",
        ),
        ({"JWT_SECRET": STRONG, "DATABASE_PASSWORD": "password"}, "DATABASE_PASSWORD"),
        (
            {"JWT_SECRET": STRONG, "DATABASE_URL": "postgresql://refnet:changethis@db/refnet"},
            "DATABASE_URL carries a placeholder password",
        ),
        ({"JWT_SECRET": STRONG, "API__CORS_ORIGINS": "*"}, "API__CORS_ORIGINS must list names"),
        ({"JWT_SECRET": STRONG, "API__TRUSTED_HOSTS": "api.example.org,*"}, "API__TRUSTED_HOSTS"),
    ],
)
def test_production_refuses_weak_secrets_and_wildcards_by_name(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], named: str
) -> None:
    message = refusal(monkeypatch, ENVIRONMENT="production", **env)
    assert named in message
    for value in env.values():
        if value not in ("*", "api.example.org,*", STRONG):
            assert value not in message


def test_development_accepts_what_production_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_SECRET", "dev")
    monkeypatch.setenv("API__CORS_ORIGINS", "*")
    assert Settings().api.cors_origins == ["*"]


def test_production_with_real_values_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("JWT_SECRET", STRONG)
    monkeypatch.setenv("JWT_PREVIOUS_SECRETS", PREVIOUS)
    monkeypatch.setenv("API__TRUSTED_HOSTS", "refnet.example.org")
    keyring = Keyring.from_settings(Settings())
    assert keyring.signing_kid == key_id(STRONG)
    assert set(keyring.key_ids) == {key_id(STRONG), key_id(PREVIOUS)}


def test_production_without_jwt_secret_refuses_to_sign(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    settings = Settings()
    with pytest.raises(InvalidInput, match="JWT_SECRET is not set; ENVIRONMENT=production"):
        Keyring.from_settings(settings)
    assert not (settings.data_dir / "jwt-secret").exists()


def test_development_generates_one_private_secret_and_keeps_it(tmp_path: Path) -> None:
    settings = Settings()
    signing, previous = load_jwt_secrets(settings)
    path = tmp_path / "data" / "jwt-secret"
    assert path.read_text().strip() == signing and len(signing) >= 32 and previous == []
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_jwt_secrets(Settings())[0] == signing  # the next process reads the same one
    assert [p.name for p in path.parent.iterdir()] == ["jwt-secret"]  # no temporary left


def test_processes_starting_together_agree_on_the_secret(tmp_path: Path) -> None:
    path = tmp_path / "shared" / "jwt-secret"
    results: list[str] = []
    barrier = threading.Barrier(8)

    def start() -> None:
        barrier.wait()
        results.append(development_secret(path))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8 and len(set(results)) == 1
    assert path.read_text().strip() == results[0]


def test_an_empty_secret_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "jwt-secret"
    path.write_text("")
    os.chmod(path, 0o600)
    with pytest.raises(InvalidInput, match="is empty; delete it, or set JWT_SECRET"):
        development_secret(path)


def test_an_empty_key_file_means_no_key_even_in_production(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("JWT_SECRET", STRONG)
    for name in ("SEMANTIC_SCHOLAR_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.setenv(f"{name}_FILE", str(empty))
    settings = Settings()
    assert settings.semantic_scholar_api_key is None
    assert settings.anthropic_api_key is None
    assert settings.openai_api_key is None
    assert settings.semantic_scholar_rate_per_second == RATE_WITHOUT_KEY


def test_no_secret_shows_in_the_settings_printed_or_dumped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    values = {
        "JWT_SECRET": STRONG,
        "JWT_PREVIOUS_SECRETS": PREVIOUS,
        "DATABASE_PASSWORD": "pg-Qw7Er4Ty1Ui8Op5As2Df9",
        "REFNET_BOOTSTRAP_ADMIN_PASSWORD": "first-admin-password-1234",
        "SEMANTIC_SCHOLAR_API_KEY": "s2key-Zq81vXw3Lr5Tn0Pb7Kc2",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    shown = repr(settings) + str(settings) + settings.model_dump_json()
    for value in values.values():
        assert value not in shown
