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


# --- minimum scale: the nodes a managed node group starts with (nothing adds any) ------------


def at_minimum(models: list[ModelDemand], pool: PoolSupply) -> list[str]:
    quotas = {m.tenant: TenantQuota(10**3, 10**6, 10**9) for m in models}
    return [
        f"{p.path}: {p.message}"
        for p in check_capacity(models, quotas, {pool.name: pool})
        if ".minSize" in p.path or ".desiredSize" in p.path
    ]


def test_prods_first_deploy_left_a_replica_pending_and_the_plan_now_says_so() -> None:
    # the review's finding: l40s started with 2 one-GPU nodes; llama-8b keeps 2 replicas,
    # its canary 1, and each surges one replica while it rolls out
    l40s = PoolSupply("l40s", gpus_per_node=1, max_nodes=7, start_nodes=2)
    stable = llama(
        name="llama-8b", pool="l40s", gpus_per_replica=1, min_replicas=2, max_replicas=4, surge=True
    )
    canary = llama(
        name="llama-8b-canary", pool="l40s", gpus_per_replica=1, min_replicas=1, max_replicas=1, surge=True
    )
    assert at_minimum([stable, canary], l40s) == [
        "gpuPools.l40s.minSize: 2 nodes x 1 GPU cannot run what its models keep at minimum scale: "
        "llama-8b (2 x 1 + 1 surge), llama-8b-canary (1 x 1 + 1 surge), 5 GPUs on 5 nodes; nothing adds "
        "nodes to a managed node group, so set minSize to 5 or lower the models' minReplicas"
    ]
    assert at_minimum([stable, canary], PoolSupply("l40s", 1, 7, start_nodes=5)) == []


def test_a_half_full_node_cannot_take_a_replica_that_needs_more_than_its_free_gpus() -> None:
    # three 4-GPU replicas are 12 of 16 GPUs, but no 8-GPU node holds one and a half of them
    h100 = PoolSupply("a100", gpus_per_node=8, max_nodes=2, start_nodes=1)
    models = [llama(gpus_per_replica=4, min_replicas=1), llama(name="b", gpus_per_replica=4, min_replicas=2)]
    [problem] = at_minimum(models, h100)
    assert "12 GPUs on 2 nodes" in problem and "set minSize to 2" in problem
    assert at_minimum(models, PoolSupply("a100", 8, 2, start_nodes=2)) == []
    # 6-GPU replicas leave 2 GPUs of every node unused: two need two nodes
    assert "on 2 nodes" in at_minimum([llama(gpus_per_replica=6, min_replicas=2)], h100)[0]


def test_a_model_scaled_to_zero_needs_no_node_and_no_surge() -> None:
    dev_l4 = PoolSupply("l4", gpus_per_node=1, max_nodes=3, start_nodes=0)
    assert at_minimum([llama(pool="l4", gpus_per_replica=1, min_replicas=0, surge=True)], dev_l4) == []


def test_a_rollout_without_surge_needs_no_spare_gpu() -> None:
    # maxSurge 0: a rollout stops one replica before it starts the next
    pool = PoolSupply("a100", gpus_per_node=8, max_nodes=2, start_nodes=1)
    assert at_minimum([llama(gpus_per_replica=4, min_replicas=2)], pool) == []
    assert "set minSize to 2" in at_minimum([llama(gpus_per_replica=4, min_replicas=2, surge=True)], pool)[0]


def test_the_start_size_key_is_named_as_configured() -> None:
    pool = PoolSupply("l4", gpus_per_node=1, max_nodes=3, start_nodes=1, start_key="desiredSize")
    [problem] = at_minimum([llama(pool="l4", gpus_per_replica=1, min_replicas=2)], pool)
    assert (
        problem.startswith("gpuPools.l4.desiredSize: 1 nodes x 1 GPU") and "set desiredSize to 2" in problem
    )
