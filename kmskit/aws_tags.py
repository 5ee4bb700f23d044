"""AWS's rules for user-defined tags, in one place for every tag the toolkit checks: the example
app's configuration (``tags``, ``replication.selection_tag``: stacks/config.py), the snapshot
constructs' ``selection_tag`` and ``copy_tags``, the snapshot Lambda's configuration and
``kmskit snapshot copy --tag`` (``kmskit.snapshots.model.copy_tags_problem``; the Lambda's asset
holds this module).

Each caller adds its own rules (copies refuse values RDS refuses and leave room for the
toolkit's own tags) and words its errors naming its own field; what is here is what AWS allows on
any resource, and the prefixes no user tag may take. Values may be empty everywhere: EC2 ("A tag
value can be an empty string, but not null", EC2 tag restrictions) and RDS (``Tag.Value``:
minimum length 0, pattern ``[...]*``) both accept them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

# Tag keys and values as AWS allows them (IAM's Tag pattern; EC2 and RDS alike): letters, digits,
# spaces and _ . : / = + - @, keys 1-128 characters, values up to 256 (\Z, not $: "$" also matches
# before a final newline).
TAG_KEY = re.compile(r"^[\w .:/=+\-@]{1,128}\Z")
TAG_VALUE = re.compile(r"^[\w .:/=+\-@]{0,256}\Z")
# No user tag key starts with these, in any case: AWS reserves 'aws:' (and refuses 'AWS:' too),
# and 'kmskit:' is the toolkit's own (its snapshot copies are found, shared and deleted by them).
RESERVED_TAG_PREFIXES = ("aws:", "kmskit:")
# User-defined tags AWS allows on one resource (EC2 snapshots and RDS snapshots included; tags
# starting 'aws:', such as CloudFormation's aws:cloudformation:stack-name, do not count).
MAX_TAGS_PER_RESOURCE = 50

KeyProblem = Literal["pattern", "reserved", "case"]


def tag_key_problem(key: object, seen: Mapping[str, str]) -> KeyProblem | None:
    """What is wrong with the tag key ``key`` beside the keys ``seen`` before it (lowercase key
    -> key as written), or None: ``"pattern"`` (not a string AWS accepts as a key),
    ``"reserved"`` (starts with one of :data:`RESERVED_TAG_PREFIXES`, in any case) or
    ``"case"`` (differs from ``seen[key.lower()]`` only in case: IAM and some services compare
    tag keys without case and refuse both on one resource). The caller words the error and
    adds ``key`` to ``seen``."""
    if not (isinstance(key, str) and TAG_KEY.match(key)):
        return "pattern"
    if key.lower().startswith(RESERVED_TAG_PREFIXES):
        return "reserved"
    if key.lower() in seen:
        return "case"
    return None


def valid_tag_value(value: object) -> bool:
    """Whether ``value`` is a tag value AWS accepts (a string of up to 256 characters of
    :data:`TAG_VALUE`'s set; empty included)."""
    return isinstance(value, str) and TAG_VALUE.match(value) is not None
