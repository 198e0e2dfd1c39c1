"""The loop-lag figure the jobs benchmark reads: recorded by the gateway, read per round."""

from __future__ import annotations

import asyncio
import re
import time

from bench.jobs import LAG_METRIC, _Lag
from gateway.metrics import GatewayMetrics


def _buckets(metrics: GatewayMetrics) -> dict[float, float]:
    text = metrics.render().decode()
    found = re.findall(rf'^{LAG_METRIC}_bucket{{le="([^"]+)"}} (\S+)$', text, re.M)
    return {float(le): float(count) for le, count in found}


def _block(seconds: float) -> None:
    # What a blocking call in a handler does to the loop: nothing else runs meanwhile.
    time.sleep(seconds)


def test_a_blocked_loop_shows_as_lag_and_only_in_its_round() -> None:
    metrics = GatewayMetrics()
    readings: list[dict[float, float]] = []

    async def main() -> None:
        monitor = metrics.loop_lag_monitor()
        monitor.start()
        try:
            await asyncio.sleep(0.1)
            readings.append(_buckets(metrics))
            await asyncio.sleep(0.1)
            readings.append(_buckets(metrics))
            _block(0.3)
            await asyncio.sleep(0.1)
            readings.append(_buckets(metrics))
        finally:
            await monitor.stop()

    asyncio.run(main())
    quiet = _Lag.between(readings[0], readings[1])
    blocked = _Lag.between(readings[1], readings[2])
    assert quiet.samples >= 2
    assert quiet.max_ms <= 100
    # 0.3 s late, minus at most one 20 ms interval already under way: the 0.5 s bucket.
    assert blocked.max_ms == 500
    assert blocked.samples >= 1


def test_lag_bounds_from_bucket_differences() -> None:
    before = {0.001: 10.0, 0.01: 10.0, 0.1: 10.0, float("inf"): 10.0}
    after = {0.001: 108.0, 0.01: 109.0, 0.1: 110.0, float("inf"): 110.0}
    lag = _Lag.between(before, after)
    assert (lag.samples, lag.p99_ms, lag.max_ms) == (100, 10.0, 100.0)
    assert _Lag.cell(float("inf")) == "> 10 s"
    assert _Lag.cell(2.0) == "<= 2"
