"""Structured JSON logs and CloudWatch embedded-metric lines on stdout.

A few dozen lines instead of aws-lambda-powertools, which the Lambda runtime does not include
(see docs/snapshots.md): every line is one JSON object that CloudWatch Logs Insights can query,
and metric lines use the embedded metric format, so no ``cloudwatch:PutMetricData`` permission
is needed.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

METRIC_NAMESPACE = "kmskit/Snapshots"
METRIC_DIMENSION = "Replicator"


class JsonLogger:
    """``log.info("copy started", snapshot=..., region=...)`` prints one JSON line."""

    def __init__(self, stream: TextIO | None = None, **context: Any) -> None:
        self._stream = stream
        self.context = dict(context)
        self.lines: list[dict[str, Any]] | None = None

    def bind(self, **context: Any) -> JsonLogger:
        child = JsonLogger(self._stream, **{**self.context, **context})
        child.lines = self.lines
        return child

    def _emit(self, record: dict[str, Any]) -> None:
        if self.lines is not None:
            self.lines.append(record)
        stream = self._stream or sys.stdout
        stream.write(json.dumps(record, default=str, sort_keys=True) + "\n")

    def log(self, level: str, message: str, **fields: Any) -> None:
        self._emit(
            {
                "level": level,
                "message": message,
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                **self.context,
                **fields,
            }
        )

    def info(self, message: str, **fields: Any) -> None:
        self.log("INFO", message, **fields)

    def warning(self, message: str, **fields: Any) -> None:
        self.log("WARNING", message, **fields)

    def error(self, message: str, **fields: Any) -> None:
        self.log("ERROR", message, **fields)

    def metric(self, name: str, replicator: str, value: float = 1.0) -> None:
        """One CloudWatch metric in ``kmskit/Snapshots`` with dimension ``Replicator``."""
        self._emit(
            {
                "_aws": {
                    "Timestamp": int(time.time() * 1000),
                    "CloudWatchMetrics": [
                        {
                            "Namespace": METRIC_NAMESPACE,
                            "Dimensions": [[METRIC_DIMENSION]],
                            "Metrics": [{"Name": name, "Unit": "Count"}],
                        }
                    ],
                },
                METRIC_DIMENSION: replicator,
                name: value,
            }
        )
