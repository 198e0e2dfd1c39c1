"""Phase 1: the admin figures and the app's log."""

from __future__ import annotations

from parity.demo.scenario import Scenario

SYSTEM = "GET /api/admin/system"
LOGS = "GET /api/admin/logs"
# Each side reports its own media directory, and the disk and the process move between
# the two calls; the tool versions must agree.
MOVING = (
    "disk.path",
    "disk.used",
    "disk.free",
    "process.rss_bytes",
    "process.threads",
    "process.cpu_seconds",
    "process.uptime_seconds",
)

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(SYSTEM, "admin", "/api/admin/system", role="admin", volatile=MOVING),
    Scenario(SYSTEM, "bearer", "/api/admin/system", role="admin", auth="bearer", volatile=MOVING),
    Scenario(SYSTEM, "manager", "/api/admin/system", role="manager"),
    Scenario(SYSTEM, "anonymous", "/api/admin/system"),
    Scenario(LOGS, "default", "/api/admin/logs", role="admin"),
    Scenario(LOGS, "five lines", "/api/admin/logs?lines=5", role="admin"),
    Scenario(LOGS, "repeated lines: the first", "/api/admin/logs?lines=5&lines=x", role="admin"),
    Scenario(LOGS, "zero lines", "/api/admin/logs?lines=0", role="admin"),
    Scenario(LOGS, "too many lines", "/api/admin/logs?lines=1001", role="admin"),
    Scenario(LOGS, "not a number", "/api/admin/logs?lines=ten", role="admin"),
    Scenario(LOGS, "a file path", "/api/admin/logs?file=/etc/passwd", role="admin"),
    Scenario(LOGS, "manager", "/api/admin/logs", role="manager"),
    Scenario(LOGS, "anonymous", "/api/admin/logs"),
)
