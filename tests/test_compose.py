"""docker-compose.yml runs the fleet the README describes: two gateway replicas sharing
only MariaDB and Redis, behind one published port (deploy/proxy/nginx.conf), each making
the live state from the manifest only when there is none. (Compose itself cannot run
here: no container daemon; this reads what it would run.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
PROXY = ROOT / "deploy" / "proxy" / "nginx.conf"
REPLICAS = ("gateway-a", "gateway-b")


def services() -> dict[str, Any]:
    return dict(YAML(typ="safe").load(COMPOSE.read_text())["services"])


def command(service: dict[str, Any]) -> str:
    parts = service["command"]
    return parts if isinstance(parts, str) else " ".join(parts)


def test_two_replicas_alike_sharing_only_the_database_and_redis():
    found = services()
    a, b = (found[name] for name in REPLICAS)
    assert command(a) == command(b)
    assert a["image"] == b["image"] == found["worker"]["image"]
    assert a["environment"] == b["environment"]
    env = a["environment"]
    assert env["DATABASE_URL"].startswith("mysql://") and env["REDIS_URL"].startswith("redis://")
    assert "FIGWAY_STATE_DATABASE_URL" not in env  # the state with the app's, shared
    # Neither is published: the proxy is the one way in (and so the forwarded address holds).
    assert "ports" not in a and "ports" not in b
    assert env["FORWARDED_ALLOW_IPS"] == "*"
    # The second migrates after the first is up, never beside it.
    assert b["depends_on"]["gateway-a"] == {"condition": "service_healthy"}


def test_each_replica_migrates_then_makes_the_live_state_only_if_missing_then_serves():
    steps = [s.strip() for s in command(services()["gateway-a"]).split("&&")]
    assert steps[0].endswith("figway db upgrade")
    assert steps[1].startswith("figway apply --if-missing")
    assert steps[2].startswith("exec figway serve --host 0.0.0.0 --port 8000")


def test_the_proxy_publishes_the_port_and_reaches_both_replicas():
    proxy = services()["proxy"]
    assert proxy["ports"] == ["8000:8000"]
    assert set(proxy["depends_on"]) == set(REPLICAS)
    mounted = {v.split(":")[0]: v.split(":")[1] for v in proxy["volumes"]}
    assert mounted["./deploy/proxy/nginx.conf"] == "/etc/nginx/conf.d/default.conf"
    conf = PROXY.read_text()
    upstream = re.search(r"upstream figway \{(.*?)\}", conf, re.S)
    assert upstream is not None
    servers = re.findall(r"^\s*server (\S+)", upstream.group(1), re.M)
    assert servers == [f"{name}:8000" for name in REPLICAS]
    assert "ip_hash;" in upstream.group(1)  # Socket.IO's polling stays on its replica
    assert "listen 8000;" in conf and "proxy_pass http://figway;" in conf
    for header in ("Host $http_host", "Upgrade $http_upgrade", "X-Forwarded-For"):
        assert f"proxy_set_header {header}" in conf
