"""AuditLog: the locked bucket every request record of the AI gateway is kept in."""

from collections.abc import Sequence
from typing import Required, TypedDict

import pulumi
import pulumi_aws as aws

from components import _aws, _buckets
from components.core import audit


class AuditLogArgs(TypedDict, total=False):
    retention_days: Required[int]
    """Days each record stays locked (S3 Object Lock, compliance mode), then expires."""
    auditor_principal_arns: Required[Sequence[str]]
    """IAM principals that may assume the auditor role (with MFA), the only reader of the records."""
    force_destroy: bool
    """Let the bucket be deleted with its records (dev only; locked records still cannot be)."""
    protect: bool
    """Protect the bucket and its key from deletion."""


class AuditLog(pulumi.ComponentResource):
    """A KMS-encrypted S3 bucket with Object Lock in compliance mode (a default retention of
    `retention_days`: no one, the account root included, deletes or overwrites a record before),
    readable only by an auditor role, written only by the log agent (see Logs.audit)."""

    bucket_name: pulumi.Output[str]
    """The audit bucket."""
    bucket_arn: pulumi.Output[str]
    """Its ARN (for the writer's policy)."""
    kms_key_arn: pulumi.Output[str]
    """The key the records are encrypted with."""
    auditor_role_arn: pulumi.Output[str]
    """The role auditors assume to read the records."""

    def __init__(self, name: str, args: AuditLogArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llmplatform:index:AuditLog", name, None, opts)
        protect = args.get("protect", False)
        child = pulumi.ResourceOptions(parent=self)
        key = _aws.kms_key(f"{name}-audit", f"Request audit of {name}", self, protect)
        bucket = aws.s3.Bucket(
            f"{name}-audit",
            object_lock_enabled=True,  # only at creation; it turns versioning on for good
            force_destroy=args.get("force_destroy", False),
            opts=pulumi.ResourceOptions(parent=self, protect=protect, retain_on_delete=protect),
        )
        aws.s3.BucketObjectLockConfiguration(
            f"{name}-audit",
            bucket=bucket.id,
            rule={"default_retention": {"mode": "COMPLIANCE", "days": args["retention_days"]}},
            opts=child,
        )
        auditor = aws.iam.Role(
            f"{name}-auditor",
            description="Reads the request audit records, nothing else",
            assume_role_policy=audit.auditor_trust(list(args["auditor_principal_arns"])),
            max_session_duration=3600,
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-auditor",
            role=auditor.id,
            policy=pulumi.Output.all(bucket.arn, key.arn).apply(
                lambda a: audit.audit_reader_policy(a[0], a[1])
            ),
            opts=child,
        )
        _buckets.harden(
            f"{name}-audit",
            bucket,
            self,
            policy=pulumi.Output.all(bucket.arn, auditor.arn).apply(
                lambda a: audit.audit_bucket_policy(a[0], a[1])
            ),
            kms_key_arn=key.arn,
            # Records leave once their lock has run out (a day's margin for clocks).
            expire_days=args["retention_days"] + 1,
        )
        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.kms_key_arn = key.arn
        self.auditor_role_arn = auditor.arn
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "bucket_arn": self.bucket_arn,
                "kms_key_arn": self.kms_key_arn,
                "auditor_role_arn": self.auditor_role_arn,
            }
        )
