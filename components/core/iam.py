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


# The session tags EKS Pod Identity puts on every AssumeRole it makes for a pod (EKS User
# Guide, "Create IAM role with trust policy required by EKS Pod Identity" and "Grant Pods
# access to AWS resources based on tags"). They are the documented way to scope a role to
# its pods; EKS documents no aws:SourceArn for this principal, so a condition on it does not
# scope anything and may refuse every pod.
CLUSTER_TAG = "aws:RequestTag/eks-cluster-arn"
NAMESPACE_TAG = "aws:RequestTag/kubernetes-namespace"
SERVICE_ACCOUNT_TAG = "aws:RequestTag/kubernetes-service-account"

# Where each EKS add-on whose controller holds an AWS managed policy runs: the add-on's
# namespace and the service account its Pod Identity association names.
ADDON_SERVICE_ACCOUNTS: dict[str, tuple[str, str]] = {
    "AmazonEKS_CNI_Policy": ("kube-system", "aws-node"),
    "service-role/AmazonEBSCSIDriverPolicy": ("kube-system", "ebs-csi-controller-sa"),
    "service-role/AmazonEFSCSIDriverPolicy": ("kube-system", "efs-csi-controller-sa"),
}


def pod_identity_trust(cluster_arn: str, namespace: str, service_account: str) -> str:
    """Trust policy for EKS Pod Identity: one service account, of one namespace, of one cluster.

    EKS Pod Identity assumes the role with `sts:AssumeRole` and tags the session
    (`sts:TagSession`) with the pod's cluster ARN, namespace and service account;
    the conditions require exactly ours, so neither another cluster that associates
    the role nor another service account of this cluster can assume it. The account
    condition is AWS's confused-deputy guard for service principals.
    """
    account = cluster_arn.split(":")[4]
    return document(
        {
            "Sid": "EksPodIdentity",
            "Effect": "Allow",
            "Principal": {"Service": "pods.eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Condition": {
                "StringEquals": {
                    "aws:SourceAccount": account,
                    CLUSTER_TAG: cluster_arn,
                    NAMESPACE_TAG: namespace,
                    SERVICE_ACCOUNT_TAG: service_account,
                },
            },
        }
    )


def deny_insecure_transport(*resources: str) -> Statement:
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": list(resources),
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def bucket_tls_only(bucket_arn: str) -> str:
    return document(deny_insecure_transport(bucket_arn, f"{bucket_arn}/*"))


def access_log_bucket_policy(log_bucket_arn: str, source_bucket_arn: str, account: str) -> str:
    """S3 server access logging may write here, for one source bucket of one account."""
    return document(
        {
            "Sid": "S3ServerAccessLogs",
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"{log_bucket_arn}/*",
            "Condition": {
                "ArnLike": {"aws:SourceArn": source_bucket_arn},
                "StringEquals": {"aws:SourceAccount": account},
            },
        },
        deny_insecure_transport(log_bucket_arn, f"{log_bucket_arn}/*"),
    )


def efs_tls_only(file_system_arn: str) -> str:
    """Clients may mount and write through a mount target, and only over TLS."""
    return document(
        {
            "Sid": "MountThroughMountTargets",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
            "Resource": file_system_arn,
            "Condition": {"Bool": {"elasticfilesystem:AccessedViaMountTarget": "true"}},
        },
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "*",
            "Resource": file_system_arn,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    )


def _model_statements(bucket_arn: str, prefix: str) -> list[Statement]:
    return [
        {
            "Sid": "ReadModelFiles",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": f"{bucket_arn}/{prefix}*",
        },
        {
            "Sid": "ListModelFiles",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": bucket_arn,
            "Condition": {"StringLike": {"s3:prefix": [prefix, f"{prefix}*"]}},
        },
    ]


def _via_s3() -> dict[str, Any]:
    """The key may be used only by S3 on the caller's behalf, never directly."""
    return {"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}}


def model_read_policy(bucket_arn: str, key_arn: str, prefix: str) -> str:
    """Read one model's files under `prefix` of the bucket, and nothing else."""
    return document(
        *_model_statements(bucket_arn, prefix),
        {
            "Sid": "DecryptModelFiles",
            "Effect": "Allow",
            "Action": ["kms:Decrypt"],
            "Resource": key_arn,
            "Condition": _via_s3(),
        },
    )


def model_sync_policy(bucket_arn: str, key_arn: str, prefix: str) -> str:
    """Read and write one model's files under `prefix` (the sync job mirrors downloads there)."""
    return document(
        *_model_statements(bucket_arn, prefix),
        {
            "Sid": "WriteModelFiles",
            "Effect": "Allow",
            "Action": sorted(["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]),
            "Resource": f"{bucket_arn}/{prefix}*",
        },
        {
            "Sid": "EncryptModelFiles",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": key_arn,
            "Condition": _via_s3(),
        },
    )


def log_store_policy(bucket_arn: str, key_arn: str) -> str:
    """What Loki does with its bucket: list, read, write and delete (compaction, retention)."""
    return document(
        {"Sid": "ListLogs", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": bucket_arn},
        {
            "Sid": "ReadWriteLogs",
            "Effect": "Allow",
            "Action": sorted(["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]),
            "Resource": f"{bucket_arn}/*",
        },
        {
            "Sid": "EncryptLogs",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": key_arn,
            "Condition": _via_s3(),
        },
    )
