"""Region names the tests share."""

from __future__ import annotations

# The opt-in Regions AWS had opened by 2026: "Regions launched after March 20, 2019 are disabled
# by default and referred to as opt-in Regions" (AWS Account Management Reference Guide, "Enable
# or disable AWS Regions in your account"). aws-cdk-lib 2.275 and botocore 1.44 know them all.
OPT_IN = (
    "af-south-1", "ap-east-1", "ap-east-2", "ap-south-2", "ap-southeast-3", "ap-southeast-4",
    "ap-southeast-5", "ap-southeast-6", "ap-southeast-7", "ca-west-1", "eu-central-2",
    "eu-south-1", "eu-south-2", "il-central-1", "me-central-1", "me-south-1", "mx-central-1",
)  # fmt: skip
