"""Patterns of AWS names that the CLI and the snapshot Lambda both check (the Lambda's asset holds
this module): 12-digit account IDs and Region names of every partition."""

from __future__ import annotations

import re

# \Z, not $: "$" also matches before a final newline ("111111111111\n" is no account ID).
ACCOUNT_ID = re.compile(r"^[0-9]{12}\Z")
# Every partition's Region names: us-east-1, us-gov-west-1, us-isob-east-1, eusc-de-east-1.
REGION = re.compile(r"^[a-z]{2,4}(-[a-z]+){1,2}-[0-9]{1,2}\Z")
