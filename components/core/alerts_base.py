"""What an alert rule is, and the thresholds the rules take from config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Thresholds:
    error_rate_percent: float = 5
    p99_latency_seconds: float = 60
    p99_time_to_first_token_seconds: float = 10
    queue_depth: int = 50
    kv_cache_usage_percent: float = 90
    preemptions_per_second: float = 1
    gpu_utilization_high_percent: float = 95
    gpu_utilization_low_percent: float = 30
    gpu_temperature_celsius: float = 85
    restarts_per_hour: int = 5
    pending_minutes: int = 15
    traffic_jump_percent: float = 50
    traffic_jump_min_requests_per_second: float = 1


@dataclass(frozen=True)
class Rule:
    alert: str
    expr: str
    for_: str
    severity: str
    summary: str
    description: str
    labels: tuple[tuple[str, str], ...] = ()
    """Static labels besides the severity (the model of a per-model rule)."""

    def as_prometheus(self) -> dict[str, Any]:
        rule: dict[str, Any] = {"alert": self.alert, "expr": self.expr}
        if self.for_ != "0m":
            rule["for"] = self.for_
        rule["labels"] = {**dict(self.labels), "severity": self.severity}
        rule["annotations"] = {"summary": self.summary, "description": self.description}
        return rule
