"""Capacity arithmetic: quotas hold their models at full scale, pools hold their quotas, replicas fit a node."""

from __future__ import annotations

from components.core.capacity import ModelDemand, PoolSupply, TenantQuota, check_capacity
from tests.iam_eval import allows

POOLS = {"a100": PoolSupply("a100", gpus_per_node=8, max_nodes=2), "l4": PoolSupply("l4", 1, 4)}


def llama(**changes: object) -> ModelDemand:
    base = {
        "name": "llama",
        "tenant": "team-a",
        "pool": "a100",
        "gpus_per_replica": 2,
        "min_replicas": 1,
        "max_replicas": 3,
    }
    return ModelDemand(**{**base, **changes})  # type: ignore[arg-type]


def messages(models: list[ModelDemand], gpus: dict[str, int]) -> list[str]:
    """Problems with GPU quotas `gpus` (CPU and memory quotas ample)."""
    quotas = {t: TenantQuota(n, 10**6, 10**9) for t, n in gpus.items()}
    return [f"{p.path}: {p.message}" for p in check_capacity(models, quotas, POOLS)]


def test_the_issue_example_is_refused_with_its_numbers() -> None:
    assert messages([llama()], {"team-a": 4}) == [
        "tenants.team-a.quota.gpus: 4 GPUs cannot hold model llama (max 3 replicas x 2 GPUs)"
    ]


def test_a_quota_that_fits_exactly_passes() -> None:
    assert messages([llama()], {"team-a": 6}) == []


def test_rollout_surge_counts_against_the_quota() -> None:
    found = messages([llama(surge=True)], {"team-a": 6})
    assert found == [
        "tenants.team-a.quota.gpus: 6 GPUs cannot hold model llama (max 3 replicas x 2 GPUs + 2 surge): 8 GPUs"
    ]


def test_a_quota_sums_all_of_a_tenants_models() -> None:
    qwen = llama(name="qwen", gpus_per_replica=1, max_replicas=2)
    found = messages([llama(), qwen], {"team-a": 7})
    assert found == [
        "tenants.team-a.quota.gpus: 7 GPUs cannot hold models llama (max 3 replicas x 2 GPUs) "
        "and qwen (max 2 replicas x 1 GPU): 8 GPUs"
    ]


def test_a_pool_must_hold_every_tenant_placed_on_it() -> None:
    other = llama(name="mixtral", tenant="team-b", gpus_per_replica=4, max_replicas=3)
    found = messages([llama(), other], {"team-a": 6, "team-b": 12})
    assert found == [
        "gpuPools.a100.maxSize: 2 nodes x 8 GPUs = 16 GPUs cannot hold the 18 GPUs its models may scale to: "
        "llama (max 3 replicas x 2 GPUs) of team-a, mixtral (max 3 replicas x 4 GPUs) of team-b"
    ]


def test_a_quota_beyond_its_pools_is_refused() -> None:
    found = messages([llama(pool="l4", gpus_per_replica=1)], {"team-a": 10})
    assert found == [
        "tenants.team-a.quota.gpus: 10 GPUs, but the pools its models run on hold at most 4; "
        "the quota promises GPUs that cannot exist"
    ]


def test_a_replica_larger_than_a_node_is_refused() -> None:
    found = messages([llama(pool="l4", gpus_per_replica=2, max_replicas=1)], {"team-a": 2})
    assert (
        found[0]
        == "models.llama.tensorParallelSize: 2 GPUs per replica, but a node of pool l4 has 1; a replica must fit on one node"
    )


def test_the_iam_evaluator_honours_deny_and_conditions() -> None:
    policy = {
        "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"},
            {
                "Effect": "Deny",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ]
    }
    assert allows(policy, "s3:GetObject", "arn:aws:s3:::b/k", {"aws:SecureTransport": "true"})
    assert not allows(policy, "s3:GetObject", "arn:aws:s3:::b/k", {"aws:SecureTransport": "false"})
    assert not allows(policy, "s3:GetObject", "arn:aws:s3:::other/k", {"aws:SecureTransport": "true"})


def test_cpu_and_memory_quotas_hold_the_serving_pods_at_full_scale() -> None:
    model = llama(cpu_millicores=4000, memory_mib=32 * 1024, surge=True)  # 3 replicas + 1 surge
    tight = {"team-a": TenantQuota(gpus=8, cpu_millicores=15000, memory_mib=100 * 1024)}
    found = [f"{p.path}: {p.message}" for p in check_capacity([model], tight, POOLS)]
    assert found == [
        "tenants.team-a.quota.cpu: 15 CPUs cannot hold 16 CPUs of serving pods at maximum scale: llama (4 pods)",
        "tenants.team-a.quota.memory: 100Gi cannot hold 128Gi of serving pods at maximum scale: llama (4 pods)",
    ]
    ample = {"team-a": TenantQuota(gpus=8, cpu_millicores=16000, memory_mib=128 * 1024)}
    assert check_capacity([model], ample, POOLS) == []
