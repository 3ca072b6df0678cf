"""IAM policy documents as plain JSON, so tests and parliament read exactly what AWS gets."""

from __future__ import annotations

import json
from typing import Any

Statement = dict[str, Any]


def document(*statements: Statement) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, sort_keys=True)


def allow(actions: list[str], resources: list[str] | str, **extra: Any) -> Statement:
    return {"Effect": "Allow", "Action": sorted(actions), "Resource": resources, **extra}


def service_trust(service: str) -> str:
    """Trust policy letting one AWS service principal assume the role."""
    return document({"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"})


def managed_policy_arn(partition: str, name: str) -> str:
    return f"arn:{partition}:iam::aws:policy/{name}"


def pod_identity_trust(cluster_arn: str) -> str:
    """Trust policy for EKS Pod Identity, limited to one cluster of one account.

    The conditions stop any other cluster (or account) that associates the role
    from assuming it (AWS's confused-deputy guidance for pods.eks.amazonaws.com).
    """
    account = cluster_arn.split(":")[4]
    return document(
        {
            "Effect": "Allow",
            "Principal": {"Service": "pods.eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account},
                "ArnEquals": {"aws:SourceArn": cluster_arn},
            },
        }
    )
