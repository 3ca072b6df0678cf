"""Who delivers ALB access logs in each AWS region, and the bucket policy that lets them write.

Regions opened before August 2022 deliver as a regional Elastic Load Balancing
account; newer regions as the log delivery service principal (AWS, "Enable access
logs for your Application Load Balancer", step 2). The accounts below are AWS's
table, as also carried by the AWS provider's `aws_elb_service_account` data source.
"""

from __future__ import annotations

from components.core import iam

LOG_DELIVERY_SERVICE = "logdelivery.elasticloadbalancing.amazonaws.com"

ELB_LOG_ACCOUNTS: dict[str, str] = {
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
    "af-south-1": "098369216593",
    "ap-east-1": "754344448648",
    "ap-southeast-3": "589379963580",
    "ap-south-1": "718504428378",
    "ap-northeast-3": "383597477331",
    "ap-northeast-2": "600734575887",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "ap-northeast-1": "582318560864",
    "ca-central-1": "985666609251",
    "eu-central-1": "054676820928",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-south-1": "635631232127",
    "eu-west-3": "009996457667",
    "eu-north-1": "897822967062",
    "me-south-1": "076674570225",
    "sa-east-1": "507241528517",
    "us-gov-west-1": "048591011584",
    "us-gov-east-1": "190560391635",
    "cn-north-1": "638102146993",
    "cn-northwest-1": "037604701340",
}


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def log_delivery_principals(region: str, partition: str) -> list[dict[str, str]]:
    """The principals that write a load balancer's access logs in `region`.

    In the commercial partition the service principal, plus the regional account where
    one exists (granting both keeps either way of delivery working, as before). A region
    of another partition missing from the table is refused: the service principal is
    documented for the commercial partition only.
    """
    principals: list[dict[str, str]] = []
    if partition_of(region) == "aws":
        principals.append({"Service": LOG_DELIVERY_SERVICE})
    elif region not in ELB_LOG_ACCOUNTS:
        raise ValueError(
            f"ALB access logs: no Elastic Load Balancing log account is known for {region}; "
            "add it to components.core.elb_logs.ELB_LOG_ACCOUNTS"
        )
    if region in ELB_LOG_ACCOUNTS:
        principals.append({"AWS": f"arn:{partition}:iam::{ELB_LOG_ACCOUNTS[region]}:root"})
    return principals


def access_log_policy(bucket_arn: str, prefix: str, account: str, region: str, partition: str) -> str:
    """ALB access log delivery may write under <prefix>/AWSLogs/<account>/ and nowhere else."""
    resource = f"{bucket_arn}/{prefix}/AWSLogs/{account}/*"
    return iam.document(
        *(
            {
                "Sid": f"AlbAccessLogs{i}",
                "Effect": "Allow",
                "Principal": p,
                "Action": "s3:PutObject",
                "Resource": resource,
            }
            for i, p in enumerate(log_delivery_principals(region, partition))
        ),
        iam.deny_insecure_transport(bucket_arn, f"{bucket_arn}/*"),
    )
