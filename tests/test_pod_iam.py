"""Pod IAM in the offline plans: every Pod Identity role may be assumed by exactly the one
service account, of the one namespace, of the one cluster it is associated with.

EKS Pod Identity identifies the pod to STS by session tags (eks-cluster-arn,
kubernetes-namespace, kubernetes-service-account: EKS User Guide, pod-id-role and
pod-id-abac); trust policies are evaluated with tests/iam_eval.py against the request
EKS makes (tests/pod_identity.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from components.core import iam
from tests.pod_identity import may_assume, request, scoped_to

STACKS = ["dev", "prod"]
CLUSTER_ARN = "arn:aws:eks:us-east-1:123456789012:cluster/llm-test"
# EKS add-ons run in kube-system; their Pod Identity association names only the service account.
ADDON_NAMESPACE = "kube-system"


def _plan(planned: Callable[[str], Path], stack: str) -> tuple[list[dict[str, Any]], str]:
    out = planned(stack)
    records = json.loads((out / "resources.json").read_text())
    cluster_arn = json.loads((out / "outputs.json").read_text())["cluster"]["arn"]
    return records, cluster_arn


def _pod_roles(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Roles whose trust policy names the Pod Identity principal, by resource name."""
    roles = {}
    for r in records:
        if r["type"] == "aws:iam/role:Role":
            trust = json.loads(r["props"]["assumeRolePolicy"])
            if any(s.get("Principal") == {"Service": "pods.eks.amazonaws.com"} for s in trust["Statement"]):
                roles[r["name"]] = trust
    return roles


def _associations(records: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(role ARN, namespace, service account) of every Pod Identity association in the plan."""
    found = []
    for r in records:
        if r["type"] == "aws:eks/podIdentityAssociation:PodIdentityAssociation":
            p = r["props"]
            found.append((p["roleArn"], p["namespace"], p["serviceAccount"]))
        if r["type"] == "aws:eks/addon:Addon":
            for a in r["props"].get("podIdentityAssociations") or []:
                found.append((a["roleArn"], ADDON_NAMESPACE, a["serviceAccount"]))
    return found


def _role_of(arn: str, roles: dict[str, Any]) -> str:
    (name,) = [
        n for n in roles if re.fullmatch(rf"arn:aws:iam::\d{{12}}:role/{re.escape(n)}-[0-9a-f]{{7}}", arn)
    ]
    return name


@pytest.mark.parametrize("stack", STACKS)
def test_every_pod_role_is_assumable_only_by_its_own_service_account(
    planned: Callable[[str], Path], stack: str
) -> None:
    records, cluster_arn = _plan(planned, stack)
    roles = _pod_roles(records)
    associations = _associations(records)
    bound = {_role_of(arn, roles): (namespace, account) for arn, namespace, account in associations}
    # One association per role, and no Pod Identity role nobody is associated with.
    assert len(bound) == len(associations) and set(bound) == set(roles)
    for name, (namespace, account) in bound.items():
        assert scoped_to(roles[name], cluster_arn, namespace, account), name
        # A pod of another role's service account gets nothing from this one.
        for other, (other_ns, other_account) in bound.items():
            if other != name:
                assert not may_assume(roles[name], request(cluster_arn, other_ns, other_account)), (
                    name,
                    other,
                )


@pytest.mark.parametrize("stack", STACKS)
def test_all_platform_pod_roles_are_covered(planned: Callable[[str], Path], stack: str) -> None:
    """VPC CNI, EBS and EFS CSI, load balancer controller, model readers and sync (and Loki
    where the stack runs it) all run on Pod Identity roles the test above checks."""
    records, _ = _plan(planned, stack)
    accounts = {account for _, _, account in _associations(records)}
    assert {"aws-node", "ebs-csi-controller-sa", "efs-csi-controller-sa"} <= accounts
    assert any(a.endswith("-lbc") for a in accounts)
    assert any(a.endswith("-model") for a in accounts) and any(a.endswith("-sync") for a in accounts)
    if any(r["type"] == "llmplatform:index:Logs" for r in records):
        assert "loki" in accounts


def test_trust_is_scoped_by_pod_identity_session_tags_and_account() -> None:
    trust = json.loads(iam.pod_identity_trust(CLUSTER_ARN, "team-a", "llama-model"))
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert sorted(statement["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    assert statement["Condition"] == {
        "StringEquals": {
            "aws:SourceAccount": "123456789012",
            "aws:RequestTag/eks-cluster-arn": CLUSTER_ARN,
            "aws:RequestTag/kubernetes-namespace": "team-a",
            "aws:RequestTag/kubernetes-service-account": "llama-model",
        }
    }
    assert scoped_to(trust, CLUSTER_ARN, "team-a", "llama-model")


def test_a_source_arn_condition_would_lock_pods_out() -> None:
    """EKS documents no aws:SourceArn for Pod Identity: a trust requiring it refuses the real
    request, which is why the cluster is pinned by its session tag instead."""
    trust = json.loads(iam.pod_identity_trust(CLUSTER_ARN, "team-a", "llama-model"))
    trust["Statement"][0]["Condition"]["ArnEquals"] = {"aws:SourceArn": CLUSTER_ARN}
    assert not may_assume(trust, request(CLUSTER_ARN, "team-a", "llama-model"))


def test_every_addon_role_names_the_service_account_of_its_add_on() -> None:
    assert iam.ADDON_SERVICE_ACCOUNTS == {
        "AmazonEKS_CNI_Policy": ("kube-system", "aws-node"),
        "service-role/AmazonEBSCSIDriverPolicy": ("kube-system", "ebs-csi-controller-sa"),
        "service-role/AmazonEFSCSIDriverPolicy": ("kube-system", "efs-csi-controller-sa"),
    }
