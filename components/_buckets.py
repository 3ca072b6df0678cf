"""Private, encrypted, TLS-only S3 buckets: the settings every bucket of the platform shares."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components import _aws
from components.core import iam

INCOMPLETE_UPLOAD_DAYS = 7  # multipart uploads of a crashed sync job cost storage until aborted
# Tag on the buckets that must use SSE-S3 rather than KMS, with the reason (the policy pack
# accepts SSE-S3 only where it is set).
SSE_S3_TAG = "llm-platform.io/sse-s3"


def sse_s3_tags(reason: str) -> dict[str, str]:
    return {SSE_S3_TAG: reason}


def harden(
    name: str,
    bucket: aws.s3.Bucket,
    parent: pulumi.Resource,
    *,
    policy: pulumi.Input[str],
    kms_key_arn: pulumi.Input[str] | None = None,
    noncurrent_version_days: pulumi.Input[int] | None = None,
    expire_days: pulumi.Input[int] | None = None,
) -> aws.s3.BucketPolicy:
    """Owner-enforced (no ACLs), public access blocked, encrypted (SSE-KMS with `kms_key_arn`,
    else SSE-S3), versioned when noncurrent versions are to expire, with `policy` attached."""
    child = pulumi.ResourceOptions(parent=parent)
    aws.s3.BucketOwnershipControls(
        name, bucket=bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}, opts=child
    )
    access_block = aws.s3.BucketPublicAccessBlock(
        name,
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=child,
    )
    encryption: aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgsDict = (
        {"sse_algorithm": "aws:kms", "kms_master_key_id": kms_key_arn}
        if kms_key_arn is not None
        else {"sse_algorithm": "AES256"}
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        name,
        bucket=bucket.id,
        rules=[
            {
                "apply_server_side_encryption_by_default": encryption,
                # one data key per bucket instead of one KMS call per object: cheaper, same protection
                "bucket_key_enabled": kms_key_arn is not None,
            }
        ],
        opts=child,
    )
    rules: list[aws.s3.BucketLifecycleConfigurationRuleArgsDict] = [
        {
            "id": "abort-incomplete-uploads",
            "status": "Enabled",
            "filter": {},
            "abort_incomplete_multipart_upload": {"days_after_initiation": INCOMPLETE_UPLOAD_DAYS},
        }
    ]
    lifecycle_after: list[pulumi.Resource] = []
    if noncurrent_version_days is not None:
        lifecycle_after.append(
            aws.s3.BucketVersioning(
                name, bucket=bucket.id, versioning_configuration={"status": "Enabled"}, opts=child
            )
        )
        rules.append(
            {
                "id": "expire-noncurrent-versions",
                "status": "Enabled",
                "filter": {},
                "noncurrent_version_expiration": {"noncurrent_days": noncurrent_version_days},
            }
        )
    if expire_days is not None:
        rules.append({"id": "expire", "status": "Enabled", "filter": {}, "expiration": {"days": expire_days}})
    # Versioning first, as the provider's documentation asks of versioned buckets: the two
    # are separate S3 calls on one bucket, and the noncurrent-version rule is about versions.
    aws.s3.BucketLifecycleConfiguration(
        name,
        bucket=bucket.id,
        rules=rules,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=lifecycle_after),
    )
    # After the public access block, so the policy is never evaluated on an open bucket.
    return aws.s3.BucketPolicy(
        name,
        bucket=bucket.id,
        policy=policy,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[access_block]),
    )


def access_log_bucket(
    name: str,
    *,
    source: aws.s3.Bucket,
    retention_days: int,
    parent: pulumi.Resource,
    force_destroy: bool,
    protect: bool,
) -> aws.s3.Bucket:
    """A bucket receiving `source`'s S3 server access logs for `retention_days`.

    S3 server access logging cannot write to SSE-KMS buckets, hence SSE-S3 here.
    """
    logs = aws.s3.Bucket(
        name,
        force_destroy=force_destroy,
        tags=sse_s3_tags("S3 server access logging cannot write to SSE-KMS buckets"),
        opts=pulumi.ResourceOptions(parent=parent, protect=protect, retain_on_delete=protect),
    )
    policy = pulumi.Output.all(logs.arn, source.arn, _aws.account_id(parent)).apply(
        lambda a: iam.access_log_bucket_policy(a[0], a[1], a[2])
    )
    harden(name, logs, parent, policy=policy, expire_days=retention_days)
    aws.s3.BucketLogging(
        name,
        bucket=source.id,
        target_bucket=logs.id,
        target_prefix=source.bucket.apply(lambda b: f"s3/{b}/"),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return logs
