"""Checks of the models' config: what each model refers to, whether it fits its GPUs and can
scale, and what its canary and runtime may change. Problems that would otherwise surface only
in production (a pod that never loads, an autoscaler that never wakes) fail the plan."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

from components.core.sizing import ARCHITECTURES
from components.core.triton import TOKEN68
from infra.config.derived import SizingError, deployments_of, sizing_of
from infra.config.problem import Problem
from infra.config.stack import StackConfig
from infra.config.workloads import ModelConfig
from infra.plan.secrets import REDACTED


def models_problems(cfg: StackConfig) -> Iterator[Problem]:
    for name, model in cfg.models.items():
        path = f"models.{name}"
        if model.tenant not in cfg.tenants:
            yield Problem(
                f"{path}.tenant",
                f"{model.tenant!r} is not a tenant; add it under llm-platform:tenants "
                f"(tenants now: {', '.join(cfg.tenants) or 'none'})",
            )
        if model.pool not in cfg.gpu_pools:
            yield Problem(
                f"{path}.pool",
                f"{model.pool!r} is not a GPU pool; pools: {', '.join(cfg.gpu_pools)}",
            )
        if model.min_replicas > model.max_replicas:
            yield Problem(
                f"{path}.minReplicas", f"{model.min_replicas} is above maxReplicas {model.max_replicas}"
            )
        sources = [s for s in (model.source.hugging_face, model.source.s3) if s is not None]
        if len(sources) != 1:
            yield Problem(f"{path}.source", "set exactly one of huggingFace or s3")
        elif model.weights == "s3Stream" and model.source.s3 is None:
            yield Problem(
                f"{path}.weights",
                "s3Stream streams weights already in the model bucket; it needs source.s3 "
                "(sync a Hugging Face model with weights: efs, or upload it and use source.s3)",
            )


HUB_COMMIT = re.compile(r"[0-9a-f]{40}")


def serving_problems(cfg: StackConfig) -> Iterator[Problem]:
    if cfg.models and cfg.ingress is None:
        yield Problem("ingress", "is required to serve models: set domain and certificateArn")
    if cfg.models and cfg.monitoring is None:
        yield Problem(
            "monitoring",
            "is required to serve models: the autoscalers read vLLM's queue from Prometheus "
            "(set at least grafanaAdminPassword)",
        )
    for name, model in cfg.models.items():
        path = f"models.{name}"
        if isinstance(model.architecture, str) and model.architecture not in ARCHITECTURES:
            yield Problem(
                f"{path}.architecture",
                f"{model.architecture!r} is not a known architecture ({', '.join(ARCHITECTURES)}); "
                "give its numbers instead (parameters, layers, attentionHeads, kvHeads, headDim)",
            )
            continue
        if model.tenant not in cfg.tenants or model.pool not in cfg.gpu_pools:
            continue  # reported by models_problems
        try:
            sizing_of(cfg, name)
            if model.canary is not None and model.canary.gpu_memory_utilization is not None:
                sizing_of(cfg, name, model.canary.gpu_memory_utilization)
        except SizingError as exc:
            yield Problem(exc.path, str(exc))
        scaling = model.autoscaling
        if model.min_replicas == 0 and scaling.working_hours is None:
            yield Problem(
                f"{path}.minReplicas",
                "0 needs autoscaling.workingHours: the queue metric comes from vLLM itself, "
                "so nothing would ever scale the model up from zero replicas",
            )
        if scaling.fallback_replicas is not None and scaling.fallback_replicas > model.max_replicas:
            yield Problem(
                f"{path}.autoscaling.fallbackReplicas",
                f"{scaling.fallback_replicas} is above maxReplicas {model.max_replicas}",
            )
        yield from _canary(path, model)
        yield from _triton(path, model)
    for (namespace, deployment), n in Counter(deployments_of(cfg)).items():
        if n > 1:
            yield Problem(
                f"models.{deployment}",
                f"two autoscalers would scale Deployment {namespace}/{deployment} (a model and another "
                "model's canary share the name); rename one",
            )


def _canary(path: str, model: ModelConfig) -> Iterator[Problem]:
    canary = model.canary
    if canary is None:
        return
    if canary.min_replicas > canary.max_replicas:
        yield Problem(
            f"{path}.canary.minReplicas", f"{canary.min_replicas} is above maxReplicas {canary.max_replicas}"
        )
    if canary.revision is not None:
        if model.weights == "s3Stream" and model.source.s3 is None:
            return
        if model.source.hugging_face is not None and not HUB_COMMIT.fullmatch(canary.revision):
            yield Problem(f"{path}.canary.revision", f"{canary.revision!r} is not a 40-character commit hash")
    changes = (canary.image_tag, canary.revision, canary.max_num_seqs, canary.gpu_memory_utilization)
    if all(c is None for c in changes):
        yield Problem(
            f"{path}.canary",
            "changes nothing: set imageTag, revision, maxNumSeqs or gpuMemoryUtilization",
        )


def _triton(path: str, model: ModelConfig) -> Iterator[Problem]:
    """What Triton's vLLM backend cannot do that vLLM's server can; each would fail only in
    production (the pod would start and never load the model, or refuse every caller)."""
    if model.runtime != "triton":
        return
    if model.weights == "s3Stream":
        yield Problem(
            f"{path}.weights",
            "s3Stream needs vLLM's Run:ai streamer, which Triton's bundled vLLM is not known to ship; "
            "use weights: efs with runtime: triton (or runtime: vllm to stream)",
        )
    if model.canary is not None and model.canary.image_tag is not None:
        yield Problem(
            f"{path}.canary.imageTag",
            "is a vLLM release tag; a Triton model's canary may change revision, maxNumSeqs or "
            "gpuMemoryUtilization, not the image",
        )
    key = model.api_key.get_secret_value()
    if key != REDACTED and not re.fullmatch(TOKEN68, key):
        yield Problem(
            f"{path}.apiKey",
            "must be a bearer token (letters, digits and - . _ ~ + / with trailing =) for the "
            "proxy in front of Triton; generate one with `openssl rand -hex 32`",
        )
