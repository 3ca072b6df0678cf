"""What EKS Pod Identity presents to STS when it assumes a role for a pod, for tests/iam_eval.py.

EKS calls `sts:AssumeRole` (and `sts:TagSession`) as the service principal
pods.eks.amazonaws.com, in the role's account, with session tags naming the pod's
cluster, namespace and service account (EKS User Guide: pod-id-role, pod-id-abac).
"""

from __future__ import annotations

import json
from typing import Any

from tests.iam_eval import allows

PRINCIPAL = {"Service": "pods.eks.amazonaws.com"}


def request(
    cluster_arn: str, namespace: str, service_account: str, account: str | None = None
) -> dict[str, str]:
    """The request context of Pod Identity assuming a role for one pod."""
    return {
        "aws:SourceAccount": account or cluster_arn.split(":")[4],
        "aws:RequestTag/eks-cluster-arn": cluster_arn,
        "aws:RequestTag/eks-cluster-name": cluster_arn.rsplit("/", 1)[1],
        "aws:RequestTag/kubernetes-namespace": namespace,
        "aws:RequestTag/kubernetes-service-account": service_account,
        "aws:RequestTag/kubernetes-pod-name": f"{service_account}-0",
        "aws:RequestTag/kubernetes-pod-uid": "00000000-0000-0000-0000-000000000000",
    }


def may_assume(trust: str | dict[str, Any], context: dict[str, str]) -> bool:
    """May Pod Identity, with this request context, assume (and tag) a role with this trust policy?

    Only statements for the Pod Identity principal count; the role itself is the resource.
    """
    doc = json.loads(trust) if isinstance(trust, str) else trust
    statements = [{**s, "Resource": "*"} for s in doc["Statement"] if s.get("Principal") == PRINCIPAL]
    scoped = {"Statement": statements}
    return all(allows(scoped, action, "*", context) for action in ("sts:AssumeRole", "sts:TagSession"))


def scoped_to(trust: str | dict[str, Any], cluster_arn: str, namespace: str, service_account: str) -> bool:
    """True when exactly this cluster + namespace + service account may assume the role, and
    changing any one of them (or the account) is refused."""
    right = request(cluster_arn, namespace, service_account)
    wrong = [
        request(
            cluster_arn.replace(cluster_arn.rsplit("/", 1)[1], "other-cluster"), namespace, service_account
        ),
        request(cluster_arn, f"{namespace}-other", service_account),
        request(cluster_arn, "default", service_account),
        request(cluster_arn, namespace, f"{service_account}-other"),
        request(cluster_arn, namespace, "default"),
        request(cluster_arn, namespace, service_account, account="999999999999"),
        {k: v for k, v in right.items() if k != "aws:RequestTag/eks-cluster-arn"},  # session tags disabled
    ]
    return may_assume(trust, right) and not any(may_assume(trust, w) for w in wrong)
