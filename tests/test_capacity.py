"""Capacity arithmetic: quotas hold their models at full scale, pools hold their quotas, replicas fit a node."""

from __future__ import annotations

from dataclasses import replace

from components.core.capacity import (
    ModelDemand,
    PoolSupply,
    TenantQuota,
    check_capacity,
    pool_ends,
    rollout_surges,
)
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


# --- Karpenter pools: both ends of scale ----------------------------------------------------


def karpenter_pool(name: str, gpus_per_node: int, max_nodes: int) -> PoolSupply:
    return PoolSupply(name, gpus_per_node, max_nodes, start_nodes=0, autoscaled=True)


def test_a_karpenter_pool_runs_its_minimum_on_nodes_it_launches_up_to_its_maximum() -> None:
    # prod's l40s: what a managed group of 2 could not run, Karpenter launches (5 of 7 nodes)
    l40s = karpenter_pool("l40s", 1, 7)
    stable = llama(
        name="llama-8b", pool="l40s", gpus_per_replica=1, min_replicas=2, max_replicas=4, surge=True
    )
    canary = llama(
        name="llama-8b-canary", pool="l40s", gpus_per_replica=1, min_replicas=1, max_replicas=1, surge=True
    )
    quotas = {"team-a": TenantQuota(7, 10**6, 10**9)}
    assert check_capacity([stable, canary], quotas, {"l40s": l40s}) == []


def test_a_karpenter_pool_whose_maximum_cannot_hold_the_minimum_is_refused_with_its_numbers() -> None:
    stable = llama(
        name="llama-8b", pool="l40s", gpus_per_replica=1, min_replicas=3, max_replicas=3, surge=True
    )
    assert messages_on([stable], karpenter_pool("l40s", 1, 4)) == []  # 3 + 1 surge on 4 nodes
    tight = karpenter_pool("l40s", 1, 3)
    found = [
        f"{p.path}: {p.message}"
        for p in check_capacity([stable], {"team-a": TenantQuota(100, 10**6, 10**9)}, {"l40s": tight})
    ]
    assert (
        "gpuPools.l40s.maxSize: 3 nodes x 1 GPU cannot run what its models keep at minimum scale: "
        "llama-8b (3 x 1 + 1 surge), 4 GPUs on 4 nodes; Karpenter launches at most maxSize nodes, so raise "
        "maxSize to 4 or lower the models' minReplicas"
    ) in found


def test_the_maximum_counts_whole_replicas_per_node_not_only_gpus() -> None:
    # three 6-GPU replicas are 18 of 24 GPUs, but each needs a node of its own: 3 nodes, not 2.25
    pool = karpenter_pool("a100", 8, 2)
    found = messages_on([llama(gpus_per_replica=6, min_replicas=0, max_replicas=2)], pool)
    assert found == []
    found = messages_on(
        [llama(gpus_per_replica=6, min_replicas=0, max_replicas=3)], karpenter_pool("a100", 8, 3)
    )
    assert found == []
    [problem] = messages_on(
        [llama(gpus_per_replica=5, min_replicas=0, max_replicas=3)], PoolSupply("a100", 8, 2, autoscaled=True)
    )
    assert problem.startswith("gpuPools.a100.maxSize: 2 nodes x 8 GPUs = 16 GPUs cannot hold the 15 GPUs")
    assert "(whole replicas per node: 3 nodes)" in problem


def messages_on(models: list[ModelDemand], pool: PoolSupply) -> list[str]:
    quotas = {m.tenant: TenantQuota(10**3, 10**6, 10**9) for m in models}
    return [
        f"{p.path}: {p.message}"
        for p in check_capacity(models, quotas, {pool.name: pool})
        if p.path.startswith("gpuPools.")
    ]


def test_llama_70b_surges_on_the_free_half_of_its_node() -> None:
    # the issue: one 4-GPU replica on an 8-GPU node has 4 free, so a rollout starts the new
    # replica beside it instead of stopping the only one
    h100 = karpenter_pool("h100", 8, 3)
    seventy = llama(
        name="llama-70b", tenant="research", pool="h100", gpus_per_replica=4, min_replicas=1, max_replicas=4
    )
    quotas = {"research": TenantQuota(20, 10**6, 10**9)}
    assert rollout_surges([seventy], quotas, {"h100": h100}) == {"llama-70b"}
    ends = pool_ends(h100, [replace(seventy, surge=True)])
    assert (ends.min_gpus, ends.min_nodes, ends.max_gpus, ends.max_nodes) == (8, 1, 20, 3)


def test_no_surge_where_the_extra_pod_finds_no_gpu_at_maximum_scale() -> None:
    seventy = llama(
        name="llama-70b", tenant="research", pool="h100", gpus_per_replica=4, min_replicas=1, max_replicas=4
    )
    # 4 x 4 GPUs fill 2 nodes: a fifth pod at full scale would wait for a GPU that cannot exist
    two_nodes = {"h100": karpenter_pool("h100", 8, 2)}
    assert rollout_surges([seventy], {"research": TenantQuota(20, 10**6, 10**9)}, two_nodes) == set()
    # room in the pool, none in the quota: the surge pod would be refused by the ResourceQuota
    three_nodes = {"h100": karpenter_pool("h100", 8, 3)}
    assert rollout_surges([seventy], {"research": TenantQuota(16, 10**6, 10**9)}, three_nodes) == set()


def test_a_managed_pool_surges_only_into_the_nodes_it_starts_with() -> None:
    one = llama(name="a", gpus_per_replica=4, min_replicas=1, max_replicas=1)
    quotas = {"team-a": TenantQuota(100, 10**6, 10**9)}
    assert rollout_surges([one], quotas, {"a100": PoolSupply("a100", 8, 2, start_nodes=1)}) == {"a"}
    full = llama(name="a", gpus_per_replica=8, min_replicas=1, max_replicas=1)
    assert rollout_surges([full], quotas, {"a100": PoolSupply("a100", 8, 2, start_nodes=1)}) == set()
    assert rollout_surges([full], quotas, {"a100": karpenter_pool("a100", 8, 2)}) == {"a"}


def test_surges_are_shared_out_largest_replica_first_whatever_the_config_order() -> None:
    # one free 8-GPU node at full scale: the 8-GPU model's surge takes it, the 1-GPU one waits
    big = llama(name="z-big", gpus_per_replica=8, min_replicas=1, max_replicas=1)
    small = llama(name="a-small", gpus_per_replica=1, min_replicas=1, max_replicas=8)
    quotas = {"team-a": TenantQuota(100, 10**6, 10**9)}
    pools = {"a100": karpenter_pool("a100", 8, 3)}
    assert (
        rollout_surges([small, big], quotas, pools)
        == rollout_surges([big, small], quotas, pools)
        == {"z-big"}
    )
