"""Snapshot helpers: templates with asset hashes, S3 keys and CDK analytics masked."""

from __future__ import annotations

import json
import re
from typing import Any

ASSET_HASH = re.compile(r"[0-9a-f]{64}")
MASKED_KEYS = {"S3Key": "<S3Key>", "Analytics": "<Analytics>"}


def normalized(template: dict[str, Any]) -> Any:
    """``template`` with the values that change with unrelated code or CDK versions masked."""

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: MASKED_KEYS[k] if k in MASKED_KEYS else walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str):
            return ASSET_HASH.sub("<asset-hash>", value)
        return value

    masked = walk(template)
    # Round-trip so dict keys that embed a hash (e.g. asset parameters) are masked too.
    return json.loads(ASSET_HASH.sub("<asset-hash>", json.dumps(masked, sort_keys=True)))
