"""`figway check-config`: every unsafe production setting refused by name, all at once; a
safe configuration accepted; --env-file read alone, as systemd's EnvironmentFile= is."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path

import pytest

from gateway.check_config import checked_names
from gateway.cli import main
from tests.config_env import clean_env, environment, refused

__all__ = ["clean_env"]  # autouse: no figway variable from the shell, no .env of the checkout

GOOD = {
    "FIGWAY_ENV": "production",
    "SECRET_KEY": secrets.token_urlsafe(48),
    "DATABASE_URL": "mysql://figway:pw@db.internal:3306/figway",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "FIGWAY_COOKIE_SECURE": "true",
    "FIGWAY_TRUSTED_HOSTS": "figway.example.com",
}

# (what to change in GOOD, the variable named in the refusal). None unsets the variable.
UNSAFE: list[tuple[dict[str, str | None], str]] = [
    ({"SECRET_KEY": None}, "SECRET_KEY"),
    ({"SECRET_KEY": ""}, "SECRET_KEY"),
    ({"SECRET_KEY": "short-key"}, "SECRET_KEY"),
    ({"SECRET_KEY_FALLBACKS": '["old"]'}, "SECRET_KEY_FALLBACKS"),
    ({"DATABASE_URL": None}, "DATABASE_URL"),
    ({"DATABASE_URL": "sqlite:////var/lib/figway/figway.db"}, "DATABASE_URL"),
    ({"REDIS_URL": None}, "REDIS_URL"),
    ({"FIGWAY_COOKIE_SECURE": "false"}, "FIGWAY_COOKIE_SECURE"),
    ({"FIGWAY_COOKIE_SECURE": None}, "FIGWAY_COOKIE_SECURE"),
    ({"FIGWAY_TRUSTED_HOSTS": ""}, "FIGWAY_TRUSTED_HOSTS"),
    ({"FIGWAY_ADMIN_TOKEN": "letmein"}, "FIGWAY_ADMIN_TOKEN"),
    ({"FIGWAY_ADMIN_PASSWORD": "admin"}, "FIGWAY_ADMIN_PASSWORD"),
    ({"FIGWAY_SCRYPT_N": "16"}, "FIGWAY_SCRYPT_N"),
    ({"FLASK_DEBUG": "1"}, "FLASK_DEBUG"),
    ({"PYTHONASYNCIODEBUG": "1"}, "PYTHONASYNCIODEBUG"),
    ({"PYTHONDEVMODE": "1"}, "PYTHONDEVMODE"),
]


def test_a_safe_production_configuration_is_accepted(monkeypatch, capsys):
    environment(monkeypatch, GOOD)
    assert main(["check-config"]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == "configuration OK for production" and err == ""


@pytest.mark.parametrize(("change", "name"), UNSAFE, ids=[f"{n}={c[n]}" for c, n in UNSAFE])
def test_each_unsafe_setting_is_refused_by_name(monkeypatch, capsys, change, name):
    environment(monkeypatch, {**GOOD, **change})
    assert main(["check-config"]) == 1
    out, err = capsys.readouterr()
    assert "refusing this production configuration, 1 problem(s)" in err
    assert refused(err) == [name]
    assert "configuration OK" not in out


def test_every_variable_checked_has_a_refusal_test():
    assert set(checked_names()) - {"FIGWAY_ENV"} == {name for _, name in UNSAFE}


def test_every_problem_is_listed_at_once(monkeypatch, capsys):
    environment(monkeypatch, {"FIGWAY_ENV": "production", "FLASK_DEBUG": "true"})
    assert main(["check-config"]) == 1
    assert refused(capsys.readouterr().err) == [
        "SECRET_KEY",
        "DATABASE_URL",
        "REDIS_URL",
        "FIGWAY_COOKIE_SECURE",
        "FLASK_DEBUG",
    ]


def test_flask_debug_off_spelled_out_is_no_debug(monkeypatch, capsys):
    environment(monkeypatch, {**GOOD, "FLASK_DEBUG": "0"})
    assert main(["check-config"]) == 0


def test_any_host_is_a_note_not_a_refusal(monkeypatch, capsys):
    # "*" is right behind a proxy that checks Host (the README's own advice).
    environment(monkeypatch, {**GOOD, "FIGWAY_TRUSTED_HOSTS": "*"})
    assert main(["check-config"]) == 0
    out = capsys.readouterr().out
    assert "note: FIGWAY_TRUSTED_HOSTS: '*'" in out
    assert out.rstrip().endswith("configuration OK for production")


def test_development_warns_and_passes_without_side_effects(monkeypatch, capsys, tmp_path):
    assert main(["check-config"]) == 0
    out, err = capsys.readouterr()
    warned = [line.split(":")[1].strip() for line in out.splitlines() if line.startswith("warning")]
    assert warned == ["SECRET_KEY", "DATABASE_URL", "REDIS_URL", "FIGWAY_COOKIE_SECURE"]
    assert "configuration OK for development; 4 setting(s)" in out and err == ""
    # no development key generated and stored, as reading the settings for serving would
    assert not (tmp_path / "var").exists()


def test_production_flag_refuses_another_env(monkeypatch, capsys):
    environment(monkeypatch, {**GOOD, "FIGWAY_ENV": "development"})
    assert main(["check-config"]) == 0
    assert main(["check-config", "--production"]) == 1
    assert refused(capsys.readouterr().err) == ["FIGWAY_ENV"]


def write_env(path: Path, values: Mapping[str, str | None]) -> Path:
    """A KEY=value file; None leaves the key out."""
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items() if v is not None))
    return path


def test_env_file_is_read_over_the_environment(monkeypatch, capsys, tmp_path):
    # The shell says development and insecure; the unit's file is what its process gets.
    environment(monkeypatch, {"FIGWAY_ENV": "development", "FIGWAY_COOKIE_SECURE": "false"})
    env_file = write_env(tmp_path / "figway.env", GOOD)
    assert main(["check-config", "--env-file", str(env_file)]) == 0
    assert capsys.readouterr().out.strip() == "configuration OK for production"


def test_env_file_alone_counts_not_the_shell(monkeypatch, capsys, tmp_path):
    # REDIS_URL in the shell only: the unit's process would not have it
    environment(monkeypatch, GOOD)
    env_file = write_env(tmp_path / "figway.env", {**GOOD, "REDIS_URL": None})
    assert main(["check-config", "--env-file", str(env_file)]) == 1
    assert refused(capsys.readouterr().err) == ["REDIS_URL"]


def test_env_file_problems_are_named(monkeypatch, capsys, tmp_path):
    environment(monkeypatch, GOOD)  # safe in the shell: the file's values must count
    unsafe = {**GOOD, "REDIS_URL": "", "FLASK_DEBUG": "1"}
    env_file = write_env(tmp_path / "figway.env", unsafe)
    assert main(["check-config", "--env-file", str(env_file)]) == 1
    assert refused(capsys.readouterr().err) == ["REDIS_URL", "FLASK_DEBUG"]


def test_missing_env_file_is_unreadable(capsys, tmp_path):
    assert main(["check-config", "--env-file", str(tmp_path / "nope.env")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_an_invalid_value_is_unreadable(monkeypatch, capsys):
    environment(monkeypatch, {**GOOD, "FIGWAY_DB_POOL_SIZE": "many"})
    assert main(["check-config"]) == 2
    err = capsys.readouterr().err
    assert "the settings cannot be read" in err and "FIGWAY_DB_POOL_SIZE" in err
