"""The settings object: names, defaults, the development secret, derived engine URLs."""

from __future__ import annotations

import stat

import pytest
from pydantic import ValidationError

from shared.config import Settings, SettingsError
from shared.db.engine import async_url, sync_url

ENV_NAMES = [
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "MEDIA_ROOT",
    "METADATA_BASE_URL",
    "FIGWAY_ADMIN_PASSWORD",
    "FIGWAY_MANIFEST",
    "FIGWAY_ENV",
    "FIGWAY_VAR_DIR",
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"FIGWAY_{name}", raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults_live_under_var(tmp_path):
    settings = Settings(_env_file=None)
    assert settings.database_url == "sqlite:///var/figway.db"
    assert settings.media_dir.as_posix() == "var/media"
    assert settings.redis_url is None
    assert settings.manifest.name == "migration_status.yaml"


def test_development_secret_is_generated_once_and_kept(tmp_path):
    first = Settings(_env_file=None).signing_keys[0]
    second = Settings(_env_file=None).signing_keys[0]
    assert first == second and len(first) >= 32
    path = tmp_path / "var" / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_production_requires_secret_key(monkeypatch):
    monkeypatch.setenv("FIGWAY_ENV", "production")
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        Settings(_env_file=None)
    monkeypatch.setenv("SECRET_KEY", "k" * 40)
    assert Settings(_env_file=None).signing_keys == ["k" * 40]


def test_contract_env_names_are_read(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "mysql://u:p@db:3306/figway")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/0")
    monkeypatch.setenv("MEDIA_ROOT", str(tmp_path / "m"))
    monkeypatch.setenv("METADATA_BASE_URL", "http://provider.test")
    monkeypatch.setenv("FIGWAY_ADMIN_PASSWORD", "hunter2hunter2")
    monkeypatch.setenv("FIGWAY_MANIFEST", "other.yaml")
    monkeypatch.setenv("SECRET_KEY", "s" * 40)
    monkeypatch.setenv("SECRET_KEY_FALLBACKS", '["old-key"]')
    settings = Settings(_env_file=None)
    assert settings.database_url == "mysql://u:p@db:3306/figway"
    assert settings.redis_url == "redis://cache:6379/0"
    assert settings.media_dir == tmp_path / "m"
    assert settings.metadata_base_url == "http://provider.test"
    assert settings.admin_password is not None
    assert settings.admin_password.get_secret_value() == "hunter2hunter2"
    assert settings.manifest.name == "other.yaml"
    assert settings.signing_keys == ["s" * 40, "old-key"]


def test_prefixed_names_work_too(monkeypatch):
    monkeypatch.setenv("FIGWAY_DATABASE_URL", "sqlite:///x.db")
    assert Settings(_env_file=None).database_url == "sqlite:///x.db"


@pytest.mark.parametrize(
    ("url", "sync", "async_"),
    [
        ("sqlite:///var/a.db", "sqlite:///var/a.db", "sqlite+figway_aiosqlite:///var/a.db"),
        (
            "mysql://root@h:3306/d",
            "mysql+pymysql://root@h:3306/d?charset=utf8mb4",
            "mysql+figway_asyncmy://root@h:3306/d?charset=utf8mb4",
        ),
        (
            "mariadb+asyncmy://root@h/d",
            "mysql+pymysql://root@h/d?charset=utf8mb4",
            "mysql+figway_asyncmy://root@h/d?charset=utf8mb4",
        ),
    ],
)
def test_one_url_gives_both_engines(url, sync, async_):
    assert sync_url(url).render_as_string() == sync
    assert async_url(url).render_as_string() == async_


def test_unsupported_database_is_refused():
    with pytest.raises(ValueError, match="unsupported database"):
        sync_url("oracle://x/y")


@pytest.mark.parametrize(
    ("value", "hosts"),
    [
        ("figway.example, localhost", ["figway.example", "localhost"]),
        ('["figway.example", ".figway.example"]', ["figway.example", ".figway.example"]),
        ("[::1]", ["[::1]"]),  # an IPv6 literal alone looks like JSON, and is none
        ("*", ["*"]),
    ],
)
def test_trusted_hosts_are_a_comma_list_or_json(monkeypatch, tmp_path, value, hosts):
    monkeypatch.setenv("FIGWAY_TRUSTED_HOSTS", value)
    assert Settings(_env_file=None, var_dir=tmp_path).trusted_hosts == hosts


def test_a_trusted_host_that_is_no_host_name_stops_the_start(monkeypatch, tmp_path):
    monkeypatch.setenv("FIGWAY_TRUSTED_HOSTS", "localhost,http://figway.example/")
    with pytest.raises(ValidationError, match="not a host name"):
        Settings(_env_file=None, var_dir=tmp_path)
