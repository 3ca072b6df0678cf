"""The llm-platform policy pack: `pulumi preview --policy-pack policy` runs it.

The policies are in policies.py; tests/ checks each against resources from this
project's offline plans.
"""

from policies import POLICIES
from pulumi_policy import PolicyPack

PolicyPack(name="llm-platform", policies=POLICIES)
