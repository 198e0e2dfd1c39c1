"""`figway check-config`: read the settings as `figway serve` and `figway worker` would, and
refuse a production configuration that is unsafe, naming every setting to change at once.

The systemd units run it before they start (deploy/systemd/), so a unit with an unsafe
environment file fails to start with the reason in its journal instead of serving.

In production (FIGWAY_ENV=production, or `--production`) each problem is refused: exit 1.
In development and test the same findings are printed as warnings: exit 0. Settings that
cannot be read at all (an invalid value, an unreadable env file) exit 2, as `figway serve`
would refuse them too.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dotenv import dotenv_values
from pydantic import AliasChoices, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from shared.config import Settings, SettingsError

# Long enough that guessing it is out of reach; `secrets.token_urlsafe(48)` gives 64.
MIN_SECRET_CHARS = 32
MIN_ADMIN_PASSWORD_CHARS = 12
# Below the scrypt paper's interactive-login cost, a stolen hash is cheap to crack; the
# default is 2**15 and only tests lower it (to 2**4).
MIN_SCRYPT_N = 2**14
# Environment switches outside the settings object that turn on debug behaviour in the
# served process: Flask reads FLASK_DEBUG when the legacy app is created (app.debug, which
# propagates exceptions), Python the other two at start-up (asyncio's debug mode and
# logging of slow callbacks; the development mode's extra checks and warnings).
DEBUG_SWITCHES = ("FLASK_DEBUG", "PYTHONASYNCIODEBUG", "PYTHONDEVMODE")
# The settings fields checked below, by field name; the environment names come from them.
CHECKED_FIELDS = (
    "env",
    "secret_key",
    "secret_key_fallbacks",
    "database_url",
    "redis_url",
    "session_cookie_secure",
    "trusted_hosts",
    "admin_token",
    "admin_password",
    "password_scrypt_n",
)


def env_name(field: str) -> str:
    """The variable a field is read from (the README's name), from the field itself."""
    alias = Settings.model_fields[field].validation_alias
    assert isinstance(alias, AliasChoices), field
    first = alias.choices[0]
    assert isinstance(first, str)
    return first


def checked_names() -> list[str]:
    """Every environment variable check-config looks at."""
    return [env_name(f) for f in CHECKED_FIELDS] + list(DEBUG_SWITCHES)


@dataclass(frozen=True)
class Finding:
    setting: str  # the environment variable to change
    message: str  # what is wrong with it, and what to set instead

    def __str__(self) -> str:
        return f"{self.setting}: {self.message}"


class Unreadable(Exception):
    """The settings cannot be read (figway serve would not start either)."""


class _Checked(Settings):
    """The settings as the server reads them, except that a missing SECRET_KEY is left
    missing (None) to be reported by name with the rest, instead of stopping the read
    (production) or generating and storing a development key (a side effect a check must
    not have)."""

    model_config = SettingsConfigDict(title="Settings")  # the name errors give

    @model_validator(mode="after")
    def _fill_defaults(self) -> _Checked:  # replaces Settings' validator of that name
        missing = self.secret_key is None
        if missing:
            self.secret_key = SecretStr("")
        # At runtime the class attribute is the plain function pydantic wrapped.
        Settings._fill_defaults(self)  # type: ignore[operator]
        if missing:
            self.secret_key = None
        return self


class _CheckedFileOnly(_Checked):
    """With --env-file: the file's values alone, not the shell's environment, as systemd's
    EnvironmentFile= gives the unit's process the file and not what the shell had (a value
    set in the shell only must not make the check pass)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, dotenv_settings, file_secret_settings


def read(env_file: Path | None) -> tuple[Settings, dict[str, str]]:
    """The settings, and the environment the served process would have (for the debug
    switches, which are no settings). Raises Unreadable."""
    environ = dict(os.environ)
    kwargs: dict[str, Any] = {}
    reader: type[_Checked] = _Checked
    if env_file is not None:
        try:  # pydantic-settings skips a missing file silently; a check must not
            env_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise Unreadable(f"cannot read {env_file}: {exc}") from None
        environ = {k: v for k, v in dotenv_values(env_file).items() if v is not None}
        kwargs["_env_file"] = env_file
        reader = _CheckedFileOnly
    try:
        return reader(**kwargs), environ
    except (ValidationError, SettingsError, ValueError) as exc:
        raise Unreadable(str(exc)) from None


def findings(
    settings: Settings, environ: Mapping[str, str], *, production: bool = False
) -> list[Finding]:
    """What production must not run with: each finding names the variable to change."""
    found: list[Finding] = []

    def add(field: str, message: str) -> None:
        found.append(Finding(env_name(field), message))

    if production and settings.env != "production":
        add("env", f"is {settings.env!r}; set FIGWAY_ENV=production")
    key = settings.secret_key.get_secret_value() if settings.secret_key is not None else ""
    new_key = "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
    if not key:
        add("secret_key", f"missing: it signs session cookies and tokens; set it to `{new_key}`")
    elif len(key) < MIN_SECRET_CHARS:
        add(
            "secret_key",
            f"{len(key)} characters, shorter than {MIN_SECRET_CHARS}: cookies and tokens "
            f"signed with it can be forged; set it to `{new_key}`",
        )
    short = [
        k for k in settings.secret_key_fallbacks if len(k.get_secret_value()) < MIN_SECRET_CHARS
    ]
    if short:
        add(
            "secret_key_fallbacks",
            f"{len(short)} key(s) shorter than {MIN_SECRET_CHARS} characters, still accepted "
            "when reading cookies and tokens: drop them",
        )
    if settings.database_url.startswith("sqlite"):
        add(
            "database_url",
            f"SQLite ({settings.database_url}): one local file that the gateway's worker "
            "processes and the Celery worker would contend for; set "
            "DATABASE_URL=mysql://USER:PASSWORD@HOST:3306/figway (MariaDB)",
        )
    if not settings.redis_url:
        add(
            "redis_url",
            "unset: downloads would run as threads of the gateway processes (stopped by a "
            "restart) and `figway worker` refuses to start; set REDIS_URL=redis://HOST:6379/0",
        )
    if not settings.session_cookie_secure:
        add(
            "session_cookie_secure",
            "false: the session cookie would also travel over plain HTTP; serve behind TLS "
            "and set FIGWAY_COOKIE_SECURE=true",
        )
    if not settings.trusted_hosts:
        add(
            "trusted_hosts",
            "empty: every request would be refused (400); list the public name, "
            "e.g. FIGWAY_TRUSTED_HOSTS=figway.example.com",
        )
    token = settings.admin_token.get_secret_value() if settings.admin_token is not None else None
    if token is not None and len(token) < MIN_SECRET_CHARS:
        add(
            "admin_token",
            f"{len(token)} characters, shorter than {MIN_SECRET_CHARS}: it opens the admin "
            "API (/_figway/, ownership flips); use a random one, or unset it (the admin "
            "API then admits the app's admin users only)",
        )
    password = settings.admin_password
    if password is not None and len(password.get_secret_value()) < MIN_ADMIN_PASSWORD_CHARS:
        add(
            "admin_password",
            f"shorter than {MIN_ADMIN_PASSWORD_CHARS} characters: the password of the admin "
            "user `figway seed-demo` creates; use a longer one, or unset it (one is "
            "generated and printed once)",
        )
    if settings.password_scrypt_n < MIN_SCRYPT_N:
        add(
            "password_scrypt_n",
            f"{settings.password_scrypt_n}: new password hashes would be cheap to crack; "
            f"unset it (default {2**15}) or set at least {MIN_SCRYPT_N}",
        )
    for name in DEBUG_SWITCHES:
        if _switched_on(name, environ.get(name)):
            found.append(
                Finding(name, f"set ({environ[name]!r}): debug mode in production; unset it")
            )
    return found


def _switched_on(name: str, value: str | None) -> bool:
    if not value:
        return False
    if name == "FLASK_DEBUG":  # flask.helpers.get_debug_flag's rule
        return value.lower() not in {"0", "false", "no"}
    return True  # Python's switches: any non-empty value turns them on


def notes(settings: Settings) -> list[Finding]:
    """Worth knowing but not refused: these are right in some deployments."""
    if "*" in settings.trusted_hosts:
        return [
            Finding(
                env_name("trusted_hosts"),
                "'*' answers any Host header: right only when the proxy in front checks "
                "Host; otherwise list the public name",
            )
        ]
    return []


def run(args: argparse.Namespace) -> int:
    try:
        settings, environ = read(args.env_file)
    except Unreadable as exc:
        print(f"figway check-config: the settings cannot be read:\n{exc}", file=sys.stderr)
        return 2
    production = bool(args.production) or settings.env == "production"
    found = findings(settings, environ, production=args.production)
    for note in notes(settings):
        print(f"note: {note}")
    if not production:
        for finding in found:
            print(f"warning: {finding}")
        tail = f"; {len(found)} setting(s) above would be refused in production" if found else ""
        print(f"configuration OK for {settings.env}{tail}")
        return 0
    if found:
        print(
            f"figway check-config: refusing this production configuration, "
            f"{len(found)} problem(s):",
            file=sys.stderr,
        )
        for finding in found:
            print(f"  {finding}", file=sys.stderr)
        return 1
    print("configuration OK for production")
    return 0
