"""Envelope-encrypted S3 objects: the object is one AWS Encryption SDK message, so the
ciphertext and the encrypted data key travel together and nothing else needs storing.

:func:`put_stream` streams the message to S3 while encrypting (a multipart upload above 16 MiB;
S3 shows the object only when the upload completes, and a failed upload is aborted).
:func:`get_stream` streams it back through decryption; when the connection drops it reads on
from where it stopped, from the same object only (its version ID, else ``If-Match`` its ETag).

The object's location is bound into the encryption context (``kmskit:s3-object =
s3://bucket/key``) and checked on get, so an object copied or moved to another key does not
decrypt as if it were the original (copy it with ``kmskit get`` + ``kmskit put`` instead). A
copy made as a copy (S3 replication into another Region's bucket, a backup restored elsewhere)
is read where it is with ``written_to``: the location the message must be bound to.
Server-side encryption (SSE-KMS with the bucket's key) can be asked for on top.
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.compat import HAS_CRT
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from botocore.handlers import VALID_BUCKET, VALID_S3_ARN

from kmskit._io import open_input
from kmskit._text import is_utf8
from kmskit.envelope import (
    MIB,
    Envelope,
    MessageInfo,
    Readable,
    Writable,
    check_context,
    file_progress,
    remaining_length,
    write_verified,
)
from kmskit.errors import (
    ConflictError,
    KmskitError,
    UsageError,
    WrongContextError,
    client_error_text,
    from_botocore_error,
    from_client_error,
    reworded,
)
from kmskit.progress import progress_bar

LOCATION_CONTEXT_KEY = "kmskit:s3-object"
PART_SIZE = 16 * MIB
"""Bytes per multipart-upload part, at least (S3 allows 5 MiB-5 GiB per part)."""
MAX_PARTS = 10_000
"""S3's limit of parts per multipart upload."""
PART_GROWTH_EVERY = 1_000
"""Input of unknown size (a pipe): parts grow by :data:`PART_SIZE` every this many parts, so
10,000 parts hold about 859 GiB (16 MiB parts alone would stop at 156 GiB)."""
MAX_KEY_BYTES = 1024
"""S3's limit on the length of an object key (UTF-8)."""
PUT_ID_METADATA = "kmskit-put-id"
"""Object metadata (``x-amz-meta-kmskit-put-id``) that an ``exclusive`` put gives the object: a
random ID of that call. botocore retries a request whose answer was lost (a timeout, a dropped
connection, a 5xx) although S3 may have carried it out; S3 then refuses the retry as the object
exists (412). The put compares this ID of the object there with its own: the same, the object is
this put's and the put succeeded."""
READ_RESUMES = 5
"""Times :func:`get_stream` reads on after the connection dropped mid-object."""
_DROPPED = (ResponseStreamingError, IncompleteReadError, ReadTimeoutError, ConnectionClosedError)


# A Multi-Region Access Point's ARN has no Region.
_MULTI_REGION_ACCESS_POINT = re.compile(r"^arn:[^:/]+:s3::")


def _split_bucket(path: str) -> tuple[str, str]:
    """The bucket and the key of ``path`` (a location without ``s3://``). The bucket may be an
    access point ARN, whose name follows a ':' or, as AWS prints the ARN, a '/'
    (``arn:aws:s3:REGION:ACCOUNT:accesspoint/NAME``)."""
    parts = path.split("/")
    if path.startswith("arn:"):
        # The shortest prefix that is an access point ARN (an Outposts one has 4 '/' parts).
        for end in range(1, len(parts) + 1):
            bucket = "/".join(parts[:end])
            if VALID_S3_ARN.search(bucket):
                return bucket, "/".join(parts[end:])
    return parts[0], "/".join(parts[1:])


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str

    @classmethod
    def parse(cls, uri: str) -> S3Location:
        """``s3://bucket/key`` (the key may contain slashes); UTF-8 text, as S3 keys are and as
        the encryption context that the location goes into must be (:meth:`bound`)."""
        if not uri.startswith("s3://"):
            raise UsageError(f"an S3 location must look like s3://bucket/key. Received: {uri!r}")
        if not is_utf8(uri):
            raise UsageError(f"an S3 location must be UTF-8 text. Received: {uri!r}")
        bucket, key = _split_bucket(uri[len("s3://") :])
        if not bucket or not key:
            raise UsageError(f"an S3 location must name a bucket and a key. Received: {uri!r}")
        # Checked here, before KMS is called: botocore would refuse the bucket (exit 1) and S3
        # the key (KeyTooLongError) only when the encrypted object is sent.
        if not VALID_BUCKET.search(bucket) and not VALID_S3_ARN.search(bucket):
            raise UsageError(
                "an S3 location must name a bucket S3 accepts (letters, digits, '.', '-' and "
                "'_'; or an access point ARN: s3://arn:aws:s3:REGION:ACCOUNT:accesspoint/NAME/"
                f"KEY). Received: {uri!r}"
            )
        if _MULTI_REGION_ACCESS_POINT.match(bucket) and not HAS_CRT:
            raise UsageError(
                "an S3 location may not name a Multi-Region Access Point: botocore signs its "
                "requests (SigV4A) only with the awscrt package, which kmskit does not install; "
                f"name the bucket or a Regional access point. Received: {uri!r}"
            )
        if key.endswith("/"):
            raise UsageError(
                "an S3 location must name an object, not a folder (a key ending in '/'). "
                f"Received: {uri!r}"
            )
        size = len(key.encode())
        if size > MAX_KEY_BYTES:
            raise UsageError(
                f"an S3 object key must be at most {MAX_KEY_BYTES} bytes of UTF-8. Received: "
                f"{size} bytes ({uri[:60]!r}...)"
            )
        return cls(bucket, key)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def bound(self, context: Mapping[str, str]) -> dict[str, str]:
        """``context`` plus the location pair."""
        if LOCATION_CONTEXT_KEY in context:
            raise UsageError(
                f"the encryption context key '{LOCATION_CONTEXT_KEY}' is set by kmskit. "
                f"Received: {LOCATION_CONTEXT_KEY}={context[LOCATION_CONTEXT_KEY]}"
            )
        # Empty values pass here, for get (decrypting); put's encryption refuses them.
        checked = check_context(context, required=False, empty_values=True)
        # The location first: decrypting checks the pairs in order, so a message bound to no
        # location is told so (and what to do) whatever other pairs it lacks.
        return {LOCATION_CONTEXT_KEY: self.uri, **checked}


def put_stream(
    envelope: Envelope,
    source: Readable,
    location: S3Location,
    context: Mapping[str, str],
    *,
    sse_kms_key: str | None = None,
    on_read: Callable[[int], object] | None = None,
    exclusive: bool = False,
) -> MessageInfo:
    """Encrypt ``source`` into the object at ``location``.

    Parts are sized so that a seekable ``source`` fits in S3's 10,000 parts; for a pipe they
    grow as the upload does (see :data:`PART_GROWTH_EVERY`). ``sse_kms_key``: S3 also encrypts
    the object at rest (SSE-KMS) with this key; default None (the bucket's default encryption).
    ``on_read`` is called with the size of each read from ``source``; default None.
    ``exclusive``: never replace an object at ``location`` (S3 ``If-None-Match: *`` on the
    ``PutObject`` or ``CompleteMultipartUpload`` that makes it): one that is there (found by a
    ``HeadObject`` before anything is read or encrypted, where it may be read), or appears
    meanwhile, is left as it is and :class:`ExclusivePutError` raised, naming the location, and
    so is a store that does not take that conditional write (``NotImplemented``); a conflicting
    write in progress at the same time (S3's 409 ``ConditionalRequestConflict``) is
    :class:`~kmskit.errors.ConflictError`: try again. Default False (replace it, as S3 does).
    See :data:`PUT_ID_METADATA` for a refusal of this call's own write (a retried attempt).
    """
    full_context = location.bound(context)
    s3 = _s3_client(envelope, f"write {location.uri}")
    extra: dict[str, Any] = {"ContentType": "application/octet-stream"}
    if sse_kms_key:
        extra.update(ServerSideEncryption="aws:kms", SSEKMSKeyId=sse_kms_key)
    size = remaining_length(source)
    if size is not None:
        # The message is the plaintext plus at most 40 bytes per frame, a header and a footer.
        size += (size // envelope.frame_length + 2) * 40 + MIB
    upload = _UploadSink(s3, location, extra, size, exclusive=exclusive)
    upload.refuse_existing()  # before KMS is called and the source read
    try:
        info = envelope.encrypt_stream(source, upload, full_context, on_read=on_read)
        upload.finish()
    except BaseException:
        upload.abort()
        raise
    return info


class ExclusivePutError(UsageError):
    """An ``exclusive`` put (:func:`put_stream`, :func:`put_file`) wrote nothing because it may
    not replace an object (exit 2): one is at the location, or the store does not take the
    conditional write that keeps the put from replacing one. The message says what a caller of
    the library passes to write anyway (``exclusive=False``); :attr:`command_line` is the same
    message with what the command line takes instead (``--force``)."""

    def __init__(self, text: str, command_line: str | None = None) -> None:
        super().__init__(text)
        self.command_line = text if command_line is None else command_line


def _exclusive_put_error(refusal: str, anyway: str) -> ExclusivePutError:
    """``refusal``, then how each audience does ``anyway`` ("to replace it")."""
    return ExclusivePutError(
        f"{refusal}. Pass exclusive=False {anyway}", f"{refusal}. Give --force {anyway}"
    )


class _UploadSink:
    """A writable sink that sends what it receives to S3: buffered parts of a multipart upload
    (one PutObject when everything fits in one part). A multipart upload that does not
    complete is aborted, so no part is left behind and no object appears."""

    def __init__(
        self,
        s3: Any,
        location: S3Location,
        extra: dict[str, Any],
        size: int | None = None,
        *,
        exclusive: bool = False,
    ) -> None:
        self._s3 = s3
        self._location = location
        self._exclusive = exclusive
        self._put_id = uuid.uuid4().hex
        if exclusive:
            extra = {**extra, "Metadata": {PUT_ID_METADATA: self._put_id}}
        self._extra = extra
        self._size = size  # of the whole object, when known
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []

    def _part_size(self) -> int:
        """Bytes for the next part: enough for ``size`` in :data:`MAX_PARTS` parts (whole MiB)
        when the size is known, otherwise growing every :data:`PART_GROWTH_EVERY` parts."""
        if self._size is not None:
            return max(PART_SIZE, -(-self._size // (MAX_PARTS * MIB)) * MIB)
        return PART_SIZE * (1 + len(self._parts) // PART_GROWTH_EVERY)

    def _call(self, operation: str, *, creates: bool = False, **params: Any) -> dict[str, Any]:
        """``operation`` on the object; ``creates``: the call that makes it (``PutObject``,
        ``CompleteMultipartUpload``), which is conditional when ``exclusive``."""
        if creates and self._exclusive:
            params["IfNoneMatch"] = "*"
        try:
            response: dict[str, Any] = getattr(self._s3, operation)(
                Bucket=self._location.bucket, Key=self._location.key, **params
            )
        except ClientError as error:
            if creates and self._exclusive:
                failure = self._refused(error)
            else:
                failure = from_client_error(error, f"write {self._location.uri}")
            if failure is None:
                self._upload_id = None  # completed: nothing to abort
                return {}
            self.abort()
            raise failure from error
        except BotoCoreError as error:  # a connection error, ... (after botocore's retries)
            self.abort()
            raise _botocore_error(error, f"write {self._location.uri}") from error
        return response

    def write(self, data: bytes) -> int:
        self._buffer += data
        if len(self._buffer) >= self._part_size():
            self._send_part()
        return len(data)

    def _send_part(self) -> None:
        if self._upload_id is None:
            self._upload_id = self._call("create_multipart_upload", **self._extra)["UploadId"]
        number = len(self._parts) + 1
        # The buffer itself is sent (botocore takes a bytearray), not a copy of it: one part in
        # memory, not two.
        body, self._buffer = self._buffer, bytearray()
        response = self._call("upload_part", UploadId=self._upload_id, PartNumber=number, Body=body)
        self._parts.append({"PartNumber": number, "ETag": response["ETag"]})

    def _refused(self, refused: ClientError) -> KmskitError | None:
        """The error to raise for S3's refusal ``refused`` of the conditional call that makes
        the object (``exclusive``); None when the object is the one this call wrote (see
        :data:`PUT_ID_METADATA`), so the put succeeded.

        412 (an object exists) at the first attempt: another object, certainly; after a retry,
        or 409 ``ConditionalRequestConflict`` (a conflicting write in progress, such as this
        call's own first attempt when its answer was lost; botocore does not retry a 409), the
        object's put ID tells. 501 ``NotImplemented``: the store (an ``AWS_ENDPOINT_URL``) takes
        no ``If-None-Match``."""
        uri = self._location.uri
        code = refused.response.get("Error", {}).get("Code")
        if _precondition_failed(refused):
            retried = refused.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
            # Refused at the first attempt: the object was there before.
            unsure = self._written_by_this_call("S3 refused a retried attempt") if retried else ""
            return None if unsure is None else self._exists(unsure)
        if code == "ConditionalRequestConflict":
            unsure = self._written_by_this_call("S3 refused it as a conflicting write")
            if unsure is None:
                return None
            return ConflictError(
                f"could not write {uri}: another write to it was in progress at the same time, "
                f"so S3 refused this one ({client_error_text(refused)}){unsure}. Try the put "
                "again"
            )
        if code in {"NotImplemented", "501"}:
            return _exclusive_put_error(
                f"could not write {uri}: the S3 endpoint does not take conditional writes "
                f"('If-None-Match: *'), with which put never replaces an object there "
                f"({client_error_text(refused)}); nothing was written",
                "to write without that check (an object there is then replaced)",
            )
        return from_client_error(refused, f"write {uri}")

    def refuse_existing(self) -> None:
        """With ``exclusive``, refuse an object already at the location (``HeadObject``) before
        anything is read, encrypted or sent: the conditional call that makes the object would
        refuse it only after the whole upload. A ``ClientError`` (404: none there; 403: no
        ``s3:GetObject``, or none there and no ``s3:ListBucket``; a HEAD answer has no error
        code to tell more) lets the upload go on, whose conditional call still refuses an object
        that is there or appears meanwhile."""
        if not self._exclusive:
            return
        try:
            self._s3.head_object(Bucket=self._location.bucket, Key=self._location.key)
        except ClientError:
            return
        except BotoCoreError as error:  # a connection error, ...: the upload would meet it too
            raise _botocore_error(error, f"write {self._location.uri}") from error
        raise self._exists("")

    def _exists(self, unsure: str) -> ExclusivePutError:
        return _exclusive_put_error(
            f"could not write {self._location.uri}: an object exists there; it was left as it "
            f"is{unsure}",
            "to replace it",
        )

    def _written_by_this_call(self, why: str) -> str | None:
        """After S3 refused the creating call (``why``) in a way that may be this call's own
        earlier attempt: None when the object at the location is the one this call wrote (its
        :data:`PUT_ID_METADATA`), else why the object counts as another one ("": certainly,
        also when there is none; otherwise why this call could not tell)."""
        try:
            head = self._s3.head_object(Bucket=self._location.bucket, Key=self._location.key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey"}:
                return ""
            return self._cannot_tell(why, error)
        except BotoCoreError as error:
            return self._cannot_tell(why, error)
        if head.get("Metadata", {}).get(PUT_ID_METADATA) == self._put_id:
            return None
        return ""

    @staticmethod
    def _cannot_tell(why: str, error: Exception) -> str:
        return (
            f" ({why}, so the object may be the one this put wrote at an earlier attempt; "
            f"reading its metadata to tell failed: {error})"
        )

    def finish(self) -> None:
        if self._upload_id is None:
            body, self._buffer = self._buffer, bytearray()
            self._call("put_object", creates=True, Body=body, **self._extra)
            return
        if self._buffer:
            self._send_part()
        self._call(
            "complete_multipart_upload",
            creates=True,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": self._parts},
        )

    def abort(self) -> None:
        if self._upload_id is not None:
            upload_id, self._upload_id = self._upload_id, None
            # The caller gets the original error; a bucket lifecycle rule cleans up the rest.
            with contextlib.suppress(ClientError, BotoCoreError):
                self._s3.abort_multipart_upload(
                    Bucket=self._location.bucket, Key=self._location.key, UploadId=upload_id
                )


def put_file(
    envelope: Envelope,
    source: str | os.PathLike[str],
    location: S3Location,
    context: Mapping[str, str],
    *,
    sse_kms_key: str | None = None,
    show_progress: bool | None = None,
    exclusive: bool = False,
) -> MessageInfo:
    """Encrypt a file (``-`` = stdin) into an S3 object. ``sse_kms_key`` and ``exclusive`` as
    for :func:`put_stream` (default None, False); ``show_progress``: a bar on stderr, default
    None (only when stderr is a terminal)."""
    with open_input(source) as reader, file_progress(source, "put", show_progress) as bar:
        return put_stream(
            envelope,
            reader,
            location,
            context,
            sse_kms_key=sse_kms_key,
            on_read=bar.update,
            exclusive=exclusive,
        )


def get_stream(
    envelope: Envelope,
    location: S3Location,
    sink: Writable,
    context: Mapping[str, str] | None = None,
    *,
    require_signed: bool = False,
    progress: Any = None,
    version_id: str | None = None,
    written_to: S3Location | None = None,
) -> MessageInfo:
    """Decrypt the object at ``location`` into ``sink`` (discard ``sink`` if this raises).

    ``written_to``: the location :func:`put_stream` wrote the message to, when the object at
    ``location`` is a copy of it (S3 replication, a backup): the message must be bound to that
    location instead; default None (``location`` itself). A message bound to another location
    fails with :class:`~kmskit.errors.IntegrityError` (exit 5), naming the location it holds.

    ``version_id``: that version of the object (default: the current one). If the connection
    drops, the rest is read with a ranged GET of the same object (its version ID, else
    ``If-Match`` its ETag), at most :data:`READ_RESUMES` times; an object replaced meanwhile
    fails (:class:`ConflictError`, exit 7) instead of mixing two objects.
    ``progress``: a tqdm bar to size and advance; default None. ``context``: pairs the message
    must hold besides the object's bucket and key; default None (those only).
    ``require_signed``: refuse a message without an ECDSA signature; default False.
    """
    expected = (written_to or location).bound(context or {})
    body = _ObjectReader(_s3_client(envelope, f"read {location.uri}"), location, version_id)
    on_read = None
    if progress is not None:
        progress.reset(total=body.length)
        on_read = progress.update
    try:
        return envelope.decrypt_stream(
            body, sink, expected, require_signed=require_signed, on_read=on_read
        )
    except KmskitError as error:
        raise _naming(error, location, copy_hint=written_to is None) from error
    finally:
        body.close()


def _s3_client(envelope: Envelope, doing: str) -> Any:
    """The S3 client of ``envelope``'s settings; a botocore error making it (an unknown
    profile, ...) as a :class:`KmskitError` saying what could not be done."""
    try:
        return envelope.settings.client("s3")
    except BotoCoreError as error:
        raise _botocore_error(error, doing) from error


def _precondition_failed(error: ClientError) -> bool:
    """Whether S3 refused a conditional request (``If-Match``, ``If-None-Match``): 412."""
    return error.response.get("Error", {}).get("Code") in {"PreconditionFailed", "412"}


def _botocore_error(error: BotoCoreError, doing: str) -> KmskitError:
    """A botocore error (no request answered: connection, credentials, configuration) about an
    object as the matching :class:`KmskitError`: "could not read s3://bucket/key: ..."."""
    failure = from_botocore_error(error)
    return reworded(failure, f"could not {doing}: {failure}")


def _naming(error: KmskitError, location: S3Location, *, copy_hint: bool) -> KmskitError:
    """``error`` with the object named: "could not decrypt s3://bucket/key: ...". With
    ``copy_hint``, a message bound to another location also says how to read a copy of it, and
    one bound to none (not written by :func:`put_stream`) how to read it."""
    text = str(error)
    if copy_hint and isinstance(error, WrongContextError) and error.key == LOCATION_CONTEXT_KEY:
        if error.found is None:
            text += (
                f"; {location.uri} was not written by kmskit put (its message is bound to no "
                "location): download it (aws s3 cp) and decrypt it with kmskit decrypt"
            )
        else:
            text += (
                f"; if {location.uri} is a copy of that object (S3 replication, a backup), give "
                "the location the message names ('written_to' / --written-to)"
            )
    prefix = "could not decrypt"
    if text.startswith((f"{prefix} {location.uri}", f"could not read {location.uri}")):
        pass
    elif text.startswith(prefix):
        text = f"{prefix} {location.uri}{text[len(prefix) :]}"
    else:
        text = f"{prefix} {location.uri}: {text}"
    return reworded(error, text)


class _ObjectReader:
    """The body of one GetObject, read on after a dropped connection (see :func:`get_stream`)."""

    def __init__(self, s3: Any, location: S3Location, version_id: str | None) -> None:
        self._s3 = s3
        self._location = location
        self._position = 0
        self._resumes = 0
        response = self._get(VersionId=version_id) if version_id else self._get()
        self._body = response["Body"]
        self.length: int | None = response.get("ContentLength")
        # Later reads must get the same bytes: pin the version (versioned bucket), else the ETag.
        self._version_id = response.get("VersionId") or version_id
        self._etag: str | None = response.get("ETag")

    def _get(self, **params: Any) -> dict[str, Any]:
        try:
            response: dict[str, Any] = self._s3.get_object(
                Bucket=self._location.bucket, Key=self._location.key, **params
            )
        except BotoCoreError as error:  # a connection error, ... (after botocore's retries)
            raise _botocore_error(error, f"read {self._location.uri}") from error
        except ClientError as error:
            if _precondition_failed(error):
                # A conflict (exit 7), like a key in the wrong state: running again reads the
                # new object whole.
                raise ConflictError(
                    f"could not read {self._location.uri}: it was replaced while it was read "
                    f"(its ETag is no longer {self._etag}); run the command again"
                ) from error
            raise from_client_error(error, f"read {self._location.uri}") from error
        return response

    def read(self, size: int = -1) -> bytes:
        while self.length is None or self._position < self.length:
            try:
                chunk: bytes = self._body.read(size if size >= 0 else None)
            except _DROPPED as error:
                if self._resumes >= READ_RESUMES:
                    raise _botocore_error(
                        error,
                        f"read {self._location.uri} (the connection dropped "
                        f"{READ_RESUMES + 1} times)",
                    ) from error
                self._resumes += 1
                self._resume()
                continue
            self._position += len(chunk)
            return chunk
        return b""

    def _resume(self) -> None:
        with contextlib.suppress(Exception):
            self._body.close()
        params: dict[str, Any] = {"Range": f"bytes={self._position}-"}
        if self._version_id and self._version_id != "null":
            params["VersionId"] = self._version_id
        if self._etag:
            params["IfMatch"] = self._etag
        self._body = self._get(**params)["Body"]

    def close(self) -> None:
        self._body.close()


def get_file(
    envelope: Envelope,
    location: S3Location,
    target: str | os.PathLike[str],
    context: Mapping[str, str] | None = None,
    *,
    require_signed: bool = False,
    show_progress: bool | None = None,
    exclusive: bool = False,
    version_id: str | None = None,
    written_to: S3Location | None = None,
) -> MessageInfo:
    """Decrypt an S3 object (``version_id``: that version) into ``target`` (``-`` = stdout),
    which gets the plaintext only once the whole message verified (see
    :func:`kmskit.envelope.write_verified`; with ``exclusive`` an existing ``target`` file is
    never replaced). Defaults: ``context`` None, ``require_signed`` False, ``written_to`` None
    (as for :func:`get_stream`), ``show_progress`` None (a bar only when stderr is a terminal),
    ``exclusive`` False, ``version_id`` None (the current version)."""
    with progress_bar(total=None, description="get", enabled=show_progress) as bar:
        return write_verified(
            target,
            lambda sink: get_stream(
                envelope,
                location,
                sink,
                context,
                require_signed=require_signed,
                progress=bar,
                version_id=version_id,
                written_to=written_to,
            ),
            exclusive=exclusive,
        )
