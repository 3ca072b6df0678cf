"""How long a traffic spike waits for a new replica, term by term.

From "the queue is growing" to "a new replica takes traffic" is a sum of
terms, each set by a setting of the stack or by a figure about the world
(how fast a GPU node boots, how fast EFS or S3 deliver bytes). This module
adds them up for two spikes: one served by warm headroom (a placeholder pod
already holds a GPU with the image pulled) and one that needs a new node.
Every assumed figure is an ASSUMPTION below, with its source in
docs/performance.md; every setting comes from the caller, so the table in
summary.md is the stack's own arithmetic, not a claim.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

GIB = 1024**3

ImageCache = Literal["pull", "snapshot"]
WeightsMedium = Literal["efs", "s3Stream", "hostPath"]


@dataclass(frozen=True)
class Assumptions:
    """Figures the stack cannot set, each sourced in docs/performance.md."""

    hpa_sync_seconds: int = 15
    """The HPA controller's sync period; fixed at 15 s on EKS."""
    node_launch_seconds: int = 90
    """Karpenter: GPU instance launch, boot, kubelet and device plugin (45-90 s)."""
    image_pull_seconds: dict[ImageCache, int] | None = None
    """The serving image (10-12 GB) on a node that does not have it."""
    schedule_seconds: int = 5
    """Preempting a placeholder (grace 0), binding, creating the sandbox."""
    medium_gib_per_second: dict[WeightsMedium, float] | None = None
    """Sustained read throughput per pod of each weights medium."""
    engine_cold_seconds: int = 60
    """torch.compile and CUDA-graph capture with an empty compile cache."""
    engine_cached_seconds: int = 20
    """The same with the artefacts in VLLM_CACHE_ROOT: loading, not compiling."""

    def pull_seconds(self, cache: ImageCache) -> int:
        table = self.image_pull_seconds or {"pull": 95, "snapshot": 15}
        return table[cache]

    def gib_per_second(self, medium: WeightsMedium) -> float:
        table = self.medium_gib_per_second or {"efs": 1.5, "s3Stream": 3.5, "hostPath": 1.0}
        return table[medium]


ASSUMPTIONS = Assumptions()


@dataclass(frozen=True)
class ServeSettings:
    """What the stack configures for one model, and the weights it moves."""

    model: str
    weights_gib: float
    weights_medium: WeightsMedium
    scrape_interval_seconds: int
    """How often Prometheus scrapes the model's pods."""
    keda_polling_seconds: int
    """How often KEDA runs the queue query."""
    compile_cache_shared: bool
    """VLLM_CACHE_ROOT on a volume every replica of this model and vLLM version shares."""
    image_cache: ImageCache
    """How a new node gets the serving image: pull it, or restore a snapshot holding it."""
    startup_probe_period_seconds: int
    """A started engine is seen by the startup probe within one period."""
    lb_health_interval_seconds: int
    lb_healthy_threshold: int
    """The load balancer calls a new target healthy after threshold x interval."""


@dataclass(frozen=True)
class Term:
    name: str
    seconds: int
    why: str


@dataclass(frozen=True)
class Path:
    """One way a spike gets served: its terms and their sum."""

    scenario: Literal["headroom", "new node"]
    terms: tuple[Term, ...]

    @property
    def total_seconds(self) -> int:
        return sum(t.seconds for t in self.terms)


def time_to_serve(s: ServeSettings, headroom: bool, a: Assumptions = ASSUMPTIONS) -> Path:
    """The worst case of each term: a spike that lands just after a scrape."""
    detect = s.scrape_interval_seconds + s.keda_polling_seconds + a.hpa_sync_seconds
    terms = [
        Term(
            "detect",
            detect,
            f"scrape {s.scrape_interval_seconds} s + KEDA poll {s.keda_polling_seconds} s"
            f" + HPA sync {a.hpa_sync_seconds} s",
        )
    ]
    if headroom:
        terms.append(Term("node", 0, "a placeholder holds the GPUs; it is preempted"))
        terms.append(Term("image", 0, "the placeholder runs the serving image, so it is on the node"))
    else:
        terms.append(Term("node", a.node_launch_seconds, "Karpenter launches a GPU node"))
        terms.append(Term("image", a.pull_seconds(s.image_cache), f"image on a new node by {s.image_cache}"))
    terms.append(Term("schedule", a.schedule_seconds, "bind the pod, create its sandbox"))
    rate = a.gib_per_second(s.weights_medium)
    terms.append(
        Term(
            "weights",
            math.ceil(s.weights_gib / rate),
            f"{s.weights_gib:.0f} GiB from {s.weights_medium} at {rate:g} GiB/s",
        )
    )
    if s.compile_cache_shared:
        terms.append(Term("engine", a.engine_cached_seconds, "compile cache shared: artefacts loaded"))
    else:
        terms.append(Term("engine", a.engine_cold_seconds, "every replica compiles and captures graphs"))
    ready = s.startup_probe_period_seconds
    lb = s.lb_health_interval_seconds * s.lb_healthy_threshold
    terms.append(
        Term(
            "ready",
            ready + lb,
            f"startup probe within {ready} s, then {s.lb_healthy_threshold} load-balancer checks"
            f" {s.lb_health_interval_seconds} s apart",
        )
    )
    return Path("headroom" if headroom else "new node", tuple(terms))
