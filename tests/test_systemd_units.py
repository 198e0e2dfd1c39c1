"""The systemd units (deploy/systemd/): `systemd-analyze verify` accepts them, their
commands are figway's own, both services share one hardening, and the example env file
names every setting check-config checks and passes it once its secret is filled in."""

from __future__ import annotations

import re
import secrets
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from gateway.check_config import DEBUG_SWITCHES, checked_names
from gateway.cli import _parser, main
from tests.config_env import clean_env, refused
from tests.conftest import service_missing

__all__ = ["clean_env"]  # the fixture, autouse here too: no shell setting leaks in

UNITS_DIR = Path(__file__).resolve().parent.parent / "deploy" / "systemd"
UNITS = ("figway.service", "figway-worker.service", "figway.target")
SERVICES = UNITS[:2]
ENV_EXAMPLE = UNITS_DIR / "figway.env.example"
# Where the units expect the installed command (the README's install steps).
FIGWAY = "/opt/figway/venv/bin/figway"


def directives(unit: str) -> list[tuple[str, str, str]]:
    """(section, key, value) of every directive in a unit file, in order."""
    section, found = "", []
    for raw in (UNITS_DIR / unit).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        found.append((section, key.strip(), value.strip()))
    return found


def service(unit: str) -> dict[str, list[str]]:
    """The [Service] section: key -> its values (Exec* lines repeat)."""
    values: dict[str, list[str]] = {}
    for section, key, value in directives(unit):
        if section == "Service":
            values.setdefault(key, []).append(value)
    return values


def systemd_analyze() -> str:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        service_missing("systemd-analyze (to verify deploy/systemd/)")
    return analyze


@pytest.fixture
def installed(tmp_path: Path) -> Path:
    """Copies of the units pointing at a stand-in for the installed command: systemd-analyze
    refuses a unit whose Exec* command does not exist. Nothing else in them changes."""
    stub = tmp_path / "venv" / "bin" / "figway"
    stub.parent.mkdir(parents=True)
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    units = tmp_path / "units"
    units.mkdir()
    for name in UNITS:
        text = (UNITS_DIR / name).read_text()
        (units / name).write_text(text.replace(FIGWAY, str(stub)))
    return units


def analyze(units: Path, *args: str) -> tuple[int, str]:
    result = subprocess.run(
        [systemd_analyze(), *args],
        cwd=units,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def test_systemd_analyze_verifies_the_units(installed):
    status, output = analyze(installed, "verify", *(f"./{name}" for name in UNITS))
    # Warnings (an unknown key, a misplaced one) do not change the exit status: any line
    # about our units fails the test too.
    about_ours = [line for line in output.splitlines() if "figway" in line]
    assert status == 0 and not about_ours, output


@pytest.mark.parametrize("unit", SERVICES)
def test_hardening_keeps_the_exposure_low(installed, unit):
    # systemd's own score of what the service may do (0 is locked down, 10 is none of it);
    # 1.5 today: what is left open is mostly the network, which a server needs. The
    # threshold counts in tenths: 20 fails the test past 2.0.
    status, output = analyze(installed, "security", "--offline=yes", "--threshold=20", f"./{unit}")
    assert status == 0, output


@pytest.mark.parametrize("unit", SERVICES)
def test_every_command_is_a_figway_command(unit):
    commands = [
        shlex.split(value)
        for key, values in service(unit).items()
        if key.startswith("Exec")
        for value in values
    ]
    figway = [argv[1:] for argv in commands if argv[0] == FIGWAY]
    assert figway, unit
    for argv in figway:
        _parser().parse_args(argv)  # SystemExit on an option the command does not take
    assert ["check-config", "--production"] in figway  # an unsafe config never starts


@pytest.mark.parametrize("unit", SERVICES)
def test_services_run_as_figway_with_the_env_file_and_restart(unit):
    values = service(unit)
    assert values["User"] == ["figway"] and values["Group"] == ["figway"]
    assert values["EnvironmentFile"] == ["/etc/figway/figway.env"]
    assert values["Restart"] == ["on-failure"] and values["RestartSec"]
    assert values["TimeoutStopSec"] and values["KillMode"] == ["mixed"]
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateDevices"):
        assert values[key] == ["yes"], key
    assert values["ProtectSystem"] == ["strict"]
    assert values["CapabilityBoundingSet"] == [""]
    assert values["SystemCallFilter"] == ["@system-service"]


HARDENING = re.compile(
    r"^(Protect|Private|Restrict|NoNew|Capability|Ambient|SystemCall|Lock|"
    r"RemoveIPC|MemoryDeny|State|Logs|ReadWrite|UMask)"
)


def test_the_services_share_one_hardening():
    # written out in each unit (each stays readable, and `systemd-analyze security` scores
    # it alone): this keeps the two copies from drifting apart
    gateway, worker = (
        [(k, v) for s, k, v in directives(u) if s == "Service" and HARDENING.match(k)]
        for u in SERVICES
    )
    assert gateway == worker and len(gateway) > 20


def example_values() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    return values


def test_env_example_names_every_setting_check_config_checks():
    text = ENV_EXAMPLE.read_text()
    assigned = set(re.findall(r"^#?([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))
    settings = [name for name in checked_names() if name not in DEBUG_SWITCHES]
    assert set(settings) <= assigned, set(settings) - assigned
    for name in DEBUG_SWITCHES:  # named only to say never to set them
        assert name in text and name not in assigned


def test_env_example_keeps_to_what_systemd_and_dotenv_read_alike():
    # no quotes, no trailing comment, no `export`: both parsers then give the same value
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line and not line.startswith("#"):
            assert re.fullmatch(r"[A-Z][A-Z0-9_]*=[^\s\"'#]*", line), line


def test_env_example_passes_check_config_once_its_secret_is_filled(tmp_path, capsys):
    as_shipped = tmp_path / "shipped.env"
    shutil.copy(ENV_EXAMPLE, as_shipped)
    assert main(["check-config", "--production", "--env-file", str(as_shipped)]) == 1
    assert refused(capsys.readouterr().err) == ["SECRET_KEY"]  # the one blank to fill

    filled = tmp_path / "figway.env"
    key = secrets.token_urlsafe(48)
    filled.write_text(ENV_EXAMPLE.read_text().replace("\nSECRET_KEY=\n", f"\nSECRET_KEY={key}\n"))
    assert example_values()["SECRET_KEY"] == ""
    assert main(["check-config", "--production", "--env-file", str(filled)]) == 0
    assert capsys.readouterr().out.strip() == "configuration OK for production"
