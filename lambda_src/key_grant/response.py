"""The answer to a CloudFormation custom resource event, PUT to its pre-signed ``ResponseURL``.

The standard library only (``urllib``): the ``cfnresponse`` module exists only for inline code,
and the Lambda runtime's urllib3 is botocore's, not ours to rely on.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

SUCCESS = "SUCCESS"
FAILED = "FAILED"
# CloudFormation takes at most 4096 bytes of response body (crpg-ref-responses.html). The reason
# is cut to 1500 characters, and further where their JSON escapes (six bytes for a non-ASCII
# character) would take the body past that.
MAX_BODY_BYTES = 4096
MAX_REASON_LENGTH = 1500
SEND_ATTEMPTS = 3
SEND_TIMEOUT_SECONDS = 5  # for the connection, and again for the reply
# The longest sending an answer can take: each attempt's connect and read timeouts, and the
# waits between attempts (1 s, 2 s, ...).
LONGEST_SEND_SECONDS = SEND_ATTEMPTS * 2 * SEND_TIMEOUT_SECONDS + sum(range(1, SEND_ATTEMPTS))
# CloudFormation's pre-signed S3 URLs are https; nothing else is opened.
ALLOWED_SCHEMES = ("https",)


@dataclass(frozen=True)
class Answer:
    """What the provider tells CloudFormation about one event."""

    status: str
    physical_resource_id: str
    reason: str = ""
    data: Mapping[str, str] = field(default_factory=dict)
    # Where in ``reason`` its free text is (``reason[start:end]``: KMS's message), cut first,
    # from its middle, when the reason is too long, so that what follows it (the commands of an
    # update without an answer) is sent whole. (0, 0): none.
    free: tuple[int, int] = field(default=(0, 0), compare=False)

    def body(self, event: Mapping[str, Any], log_stream: str) -> bytes:
        """The JSON document CloudFormation expects for ``event``, at most
        :data:`MAX_BODY_BYTES` long (the reason is cut to fit: its free text first, from the
        middle, to ``...``; then, if that is not enough, at the end, ending in ``...``)."""
        reason = self.reason or f"See CloudWatch log stream {log_stream}"
        document = {
            "Status": self.status,
            "Reason": "",
            "PhysicalResourceId": self.physical_resource_id,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "NoEcho": False,
            "Data": dict(self.data),
        }
        room = MAX_BODY_BYTES - len(json.dumps(document).encode())
        document["Reason"] = _cut(reason, room, self.free)
        return json.dumps(document).encode()


def _cut(reason: str, room: int, free: tuple[int, int] = (0, 0)) -> str:
    """``reason`` whole if it has at most :data:`MAX_REASON_LENGTH` characters and its JSON
    string takes at most ``room`` bytes. Else with its ``free`` part (``reason[start:end]``)
    cut to its start, ``...`` and its end, as much of each as fits with the rest whole; and
    where the rest alone does not fit, as much of the start of ``reason`` as fits, and ``...``."""
    if _fits(reason, MAX_REASON_LENGTH, room):
        return reason
    start, end = free
    before, text, after = reason[:start], reason[start:end], reason[end:]
    fixed = before + "..." + after
    if text and _fits(fixed, MAX_REASON_LENGTH, room):
        characters = MAX_REASON_LENGTH - len(fixed)
        space = room - _size(fixed)
        head = _start(text, (characters + 1) // 2, (space + 1) // 2)
        characters -= len(head)
        space -= _size(head)
        tail = _start(text[len(head) :][::-1], characters, space)[::-1]
        return before + head + "..." + tail + after
    return _start(reason, MAX_REASON_LENGTH - len("..."), room - len("...")) + "..."


def _fits(text: str, characters: int, room: int) -> bool:
    return len(text) <= characters and _size(text) <= room


def _size(text: str) -> int:
    """The bytes ``text`` takes in a JSON string (a non-ASCII character's escape: six, or
    twelve beyond the BMP)."""
    return len(json.dumps(text)) - 2


def _start(text: str, characters: int, room: int) -> str:
    """As much of the start of ``text`` as has at most ``characters`` characters and takes at
    most ``room`` bytes in a JSON string."""
    kept: list[str] = []
    used = 0
    for character in text[: max(characters, 0)]:
        used += _size(character)
        if used > room:
            break
        kept.append(character)
    return "".join(kept)


def send(
    url: str,
    body: bytes,
    *,
    sleep: Callable[[float], None] = time.sleep,
    opener: Callable[..., Any] = urllib.request.urlopen,
) -> None:
    """PUT ``body`` to the pre-signed ``url``, up to :data:`SEND_ATTEMPTS` times.

    Raises the last error when every attempt fails: the Lambda service then invokes the
    function again with the same event (CloudFormation invokes it asynchronously), and the
    provider's calls are idempotent, so the retry answers with the same result.
    """
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ALLOWED_SCHEMES:
        raise ValueError(f"ResponseURL must be an https URL. Received scheme: {scheme!r}")
    # No Content-Type: the URL is signed for an empty one (urllib would add a form type).
    request = urllib.request.Request(  # noqa: S310 (the scheme is checked above)
        url,
        data=body,
        method="PUT",
        headers={"Content-Type": "", "Content-Length": str(len(body))},
    )
    for attempt in range(1, SEND_ATTEMPTS + 1):
        try:
            with opener(request, timeout=SEND_TIMEOUT_SECONDS) as reply:
                reply.read()
            return
        except urllib.error.HTTPError as error:
            if error.code < 500 or attempt == SEND_ATTEMPTS:
                raise
        except (urllib.error.URLError, TimeoutError, ConnectionError):
            if attempt == SEND_ATTEMPTS:
                raise
        sleep(float(attempt))
