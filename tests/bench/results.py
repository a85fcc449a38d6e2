"""What one tool did at one K and latency, and the summaries the report prints."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Result:
    """A tool at one K and latency: `runs` first applies, each followed by one no-op re-apply."""

    tool: str
    label: str
    k: int
    latency_ms: float
    resources: int  # of the runbook's, those this tool manages
    first_seconds: list[float] = field(default_factory=list)
    reapply_seconds: list[float] = field(default_factory=list)
    first_peak_mb: float = 0.0
    reapply_peak_mb: float = 0.0
    reapply_cpu_seconds: float = 0.0  # the tool's own CPU on the last re-apply
    reapply_moto_cpu_seconds: float = 0.0  # moto's (behind the proxy) meanwhile
    requests: int = 0  # on the last re-apply, as moto recorded them
    writes: int = 0
    write_ops: dict[str, int] = field(default_factory=dict)
    reapply_changed: int = 0  # as the tool itself reported
    skipped: str = ""  # why it was not run, if it was not

    @property
    def reapply_median(self) -> float:
        return statistics.median(self.reapply_seconds)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def seconds(values: list[float]) -> str:
    """min / median, as the tables show them."""
    if not values:
        return "-"
    return f"{min(values):.2f} / {statistics.median(values):.2f}"
