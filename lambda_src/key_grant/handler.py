"""KeyGrant's custom resource provider: ``key_grant.handler.handler``.

CloudFormation sends one event per create, update or delete of a ``Custom::KmsGrant`` resource
(constructs_lib/key_grant.py writes its properties):

* **Create, Update**: ``CreateGrant`` with the properties; the grant ID is the physical ID and
  the ``GrantId`` attribute. The grant is named, so a repeat with the same parameters (a
  rollback's, a redelivered event's, an update that changes none of them, a retry) returns the
  same grant; a changed one returns a new ID, and CloudFormation then deletes the old grant.
  An update of a resource whose create got no answer (physical ID :data:`OUTCOME_UNKNOWN`, left
  by a create with rollback disabled) that asks for the same grant keeps that physical ID
  (:func:`_create_or_update`): its delete finds the grant by name, and so would
  CloudFormation's clean-up of a replaced ``OUTCOME_UNKNOWN``, retiring the grant the update
  has just got.
* **Delete**: ``RetireGrant`` (the provider's role is the grant's retiring principal) or
  ``RevokeGrant`` (``DeleteBy``), on the grant the physical ID names. A grant that KMS answers
  is not there may have been created a moment ago (a rollback right after the create), before
  it is consistent throughout KMS: CreateGrant with its name and parameters returns it, and it
  is retired by its token (:func:`_delete_by_name`). A grant (or key) gone counts as deleted
  then; so does a physical ID that names no grant (a create that failed). A delete that fails
  after that look names the grant it returned, live, and the command that deletes it.

Every call is idempotent (a named grant; a retire of a grant gone is done), so one that gets no
answer (a lost connection, a timeout, KMS's internal or dependency errors, throttling after
botocore's own retries) is made again, like one IAM refuses, until the deadline. A create still
without an answer then (or refused, after an attempt without an answer, for a reason that can
change between attempts) may or may not have made the grant: it fails with the physical ID
:data:`OUTCOME_UNKNOWN`, and the rollback's delete of that ID asks for the grant again by its
name (CreateGrant returns the one there is, or makes it) and deletes it, so no grant outlives
the failed create. An update in that case fails keeping the grant there was (CloudFormation
takes every response's physical ID as the resource's, and a changed one for a replacement):
its rollback, an update back to the old properties, gets that grant back by name, then asks
once for the failed parameters' grant and retires it, held by no resource
(:func:`_retire_stray`). Nothing in that event tells it from the rollback of an update KMS
refused, where that call is refused again: a refusal there fails nothing, and the failure's
reason gives the commands that find and retire such a grant (:func:`_outcome_unknown`;
docs/keys.md, "Calls without an answer").

Every event is answered, also when a call fails or a property is wrong, so a stack never waits
for the custom resource's one-hour timeout; the answer to a failure names the call, KMS's code
and message. ``AccessDeniedException`` is retried with growing waits until
:data:`RESERVE_SECONDS` before the function's timeout: the IAM policy that allows the call is
attached to the provider's role in the same deployment, just before, and IAM is eventually
consistent (aws-cdk issue 37675: AwsCustomResource fails intermittently for this reason). The
grant token is never logged or returned.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import boto3
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from .response import FAILED, LONGEST_SEND_SECONDS, SUCCESS, Answer, send

FIRST_WAIT_SECONDS = 1.0
MAX_WAIT_SECONDS = 16.0
# KMS's answer while the role's new IAM policy is not yet in effect everywhere.
PROPAGATION_ERRORS = frozenset({"AccessDeniedException"})
# KMS's answers that say nothing of the call's outcome (the API reference calls the first two
# retryable), and throttling that outlasted botocore's own retries.
NO_ANSWER_ERRORS = frozenset(
    {"DependencyTimeoutException", "KMSInternalException", "ThrottlingException"}
)
# Refusals that can change from one attempt to the next (the caller's permission, the key's
# state): after an attempt without an answer, which may have made the grant, they leave the
# outcome unknown. Others (a malformed ARN or grant token) refused every attempt.
CHANGING_REFUSALS = PROPAGATION_ERRORS | {
    "DisabledException",
    "KMSInvalidStateException",
    "NotFoundException",
}
# Failures on the way: the call may have been carried out or not.
CONNECTION_ERRORS = (BotocoreConnectionError, HTTPClientError)
# How long a look by name (CreateGrant) for a grant KMS did not find by its ID is retried on
# AccessDeniedException: the policy allowed the create being deleted, but in a rollback seconds
# after it IAM may not be in effect throughout yet; a policy that no longer allows it (a
# custom-policy key's statements go before the grant) should not hold the delete much longer.
LOOK_REFUSED_SECONDS = 60.0
# What RetireGrant and RevokeGrant answer when there is no such grant: the end state wanted.
DELETED_ALREADY = frozenset({"NotFoundException", "InvalidGrantIdException"})
DELETE_ACTIONS = ("RetireGrant", "RevokeGrant")
OPERATIONS = ("CreateGrant", *DELETE_ACTIONS)
"""Every KMS operation the provider calls (tests/lambdas/sdk_floor.py keeps them in the model of
the oldest botocore the Lambda runtime can have)."""
# The physical ID answered for a create that failed: no grant ID (those are letters and digits),
# so the rollback's delete of it calls nothing.
NOT_CREATED = "kmskit-grant-not-created"
# The physical ID answered for a create whose CreateGrant got no answer until the deadline: the
# grant may exist, and the rollback's delete of this ID finds it by name and deletes it.
OUTCOME_UNKNOWN = "kmskit-grant-outcome-unknown"
GRANT_ID = re.compile(r"^[0-9A-Za-z]{1,128}\Z")
CALL_ATTEMPTS = 3
CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 10  # KMS answers CreateGrant, RetireGrant and RevokeGrant in well under 1 s
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": CALL_ATTEMPTS},
    connect_timeout=CONNECT_TIMEOUT_SECONDS,
    read_timeout=READ_TIMEOUT_SECONDS,
)
# The longest one KMS call can take: each of botocore's attempts with its connect and read
# timeouts, and standard mode's waits between them (at most 2**i s, plus 5 s for a retry-after
# header).
LONGEST_CALL_SECONDS = CALL_ATTEMPTS * (CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS) + sum(
    min(2**i, 20) + 5 for i in range(CALL_ATTEMPTS - 1)
)
# Time kept back from the function's timeout: no refused call is retried later than that before
# it, so that the last call and the answer end before the timeout (a function that times out
# answers nothing, and CloudFormation waits until Lambda's retry of the event answers).
RESERVE_SECONDS = float(LONGEST_CALL_SECONDS + LONGEST_SEND_SECONDS + 5)
REQUIRED_PROPERTIES = ("KeyId", "GranteePrincipal", "Operations", "RetiringPrincipal", "Name")


class PropertyError(ValueError):
    """A resource property the provider cannot use (only a template not written by KeyGrant)."""


class OutcomeUnknownError(Exception):
    """A CreateGrant that got no answer until the deadline: the grant may exist or not.
    ``parameters``: that CreateGrant's; ``free``: where KMS's message is in ``message`` (as
    :attr:`Answer.free`)."""

    def __init__(
        self, message: str, parameters: Mapping[str, Any], free: tuple[int, int] = (0, 0)
    ) -> None:
        super().__init__(message)
        self.parameters = parameters
        self.free = free


class GrantLeftError(Exception):
    """A delete that failed after a look by name returned a grant that is live: the failure's
    reason names it and how to delete it. ``parts``: the reason before KMS's message, that
    message (cut first when the reason is too long) and what follows it (as :func:`_failed`
    takes them)."""

    def __init__(self, before: str, message: str, after: str) -> None:
        super().__init__(before + message + after)
        self.parts = (before, message, after)


ClientFactory = Callable[[str | None], Any]


def kms_client(region: str | None) -> Any:
    """A KMS client in ``region`` (the function's own Region when None)."""
    return boto3.client("kms", region_name=region, config=CLIENT_CONFIG)


def log(level: str, message: str, **fields: Any) -> None:
    """One JSON line on stdout (CloudWatch Logs)."""
    print(json.dumps({"level": level, "message": message, **fields}, default=str, sort_keys=True))


def handler(event: Mapping[str, Any], context: Any) -> None:
    """Handle one CloudFormation event and answer it on its ``ResponseURL``."""
    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - RESERVE_SECONDS
    answer = handle(event, deadline=deadline)
    log(
        "INFO" if answer.status == SUCCESS else "ERROR",
        "answering CloudFormation",
        status=answer.status,
        physical_resource_id=answer.physical_resource_id,
        reason=answer.reason,
    )
    send(event["ResponseURL"], answer.body(event, context.log_stream_name))


@dataclass(frozen=True)
class _Calls:
    """How the provider calls KMS: its clients, and until when it may wait for IAM."""

    client_for: ClientFactory
    deadline: float
    sleep: Callable[[float], None]
    clock: Callable[[], float]


def handle(
    event: Mapping[str, Any],
    *,
    deadline: float,
    client_for: ClientFactory = kms_client,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Answer:
    """The answer to ``event``; never raises (an unexpected error is a FAILED answer).
    ``deadline`` is a ``clock()`` time after which no refused call is retried."""
    calls = _Calls(client_for, deadline, sleep, clock)
    request = event.get("RequestType")
    log(
        "INFO",
        "event",
        request_type=request,
        logical_resource_id=event.get("LogicalResourceId"),
        physical_resource_id=event.get("PhysicalResourceId"),
        stack_id=event.get("StackId"),
        properties=event.get("ResourceProperties"),
    )
    # What a failure answers: no grant for a create, the grant there was for the others.
    kept = str(event.get("PhysicalResourceId") or NOT_CREATED)
    try:
        properties = event.get("ResourceProperties")
        if not isinstance(properties, Mapping):
            raise PropertyError(f"ResourceProperties must be a map. Received: {properties!r}")
        if request in ("Create", "Update"):
            old = event.get("OldResourceProperties")  # an update's
            return _create_or_update(kept, properties, old, calls)
        if request == "Delete":
            return _delete(kept, properties, calls)
        raise PropertyError(f"RequestType must be Create, Update or Delete. Received: {request!r}")
    except (OutcomeUnknownError, GrantLeftError) as error:
        return (
            _outcome_unknown(request, kept, error)
            if isinstance(error, OutcomeUnknownError)
            else _failed(kept, *error.parts)
        )
    except ClientError as error:
        details = error.response.get("Error", {})
        return _failed(
            kept, f"{error.operation_name} failed: {details.get('Code')}: ", details.get("Message")
        )
    except PropertyError as error:
        return Answer(FAILED, kept, reason=str(error))
    except Exception as error:  # every event gets an answer
        return Answer(FAILED, kept, reason=f"{type(error).__name__}: {error}")


def _failed(physical_id: str, before: str, message: Any, after: str = "") -> Answer:
    """A FAILED answer whose reason is ``before``, KMS's ``message`` and ``after``: the message
    is its free text, cut first when the reason is too long for CloudFormation."""
    free = str(message)
    return Answer(
        FAILED,
        physical_id,
        reason=before + free + after,
        free=(len(before), len(before) + len(free)),
    )


def _outcome_unknown(request: Any, kept: str, error: OutcomeUnknownError) -> Answer:
    """The answer to a create or update whose CreateGrant got no answer until the deadline.

    A failed update keeps the grant there was (``kept``): its rollback, an update back to the
    old properties, gets that grant back by name, then asks once for the failed parameters'
    grant and retires it (:func:`_retire_stray`). That event is the one that follows an update
    KMS refused too, so a refusal there fails nothing and leaves such a grant: the answer says
    how to find and retire it. The commands come last, and KMS's message in the error is cut
    first, so that they reach CloudFormation whole."""
    start, end = error.free
    message = str(error)
    before, free, after = message[:start], message[start:end], message[end:]
    if request == "Create":
        return _failed(OUTCOME_UNKNOWN, before, free, f"{after}; the rollback deletes it")
    key, name = error.parameters["KeyId"], error.parameters["Name"]
    region = _key_region(key)
    where = f" --region {region}" if region else ""
    if GRANT_ID.match(kept):
        rollback = f"gets grant {kept} back and retires that one if it can; else list it"
        wanted = f"Name=='{name}' && GrantId!='{kept}'"
    else:
        rollback = "deletes no grant of that name. List one this update made"
        wanted = f"Name=='{name}'"
    columns = "[GrantId,GranteePrincipal,Operations]"
    find = f'aws kms list-grants{where} --key-id {key} --query "Grants[?{wanted}].{columns}"'
    retire = _delete_command("RetireGrant", key, "<GrantId>")
    return _failed(
        kept,
        before,
        free,
        f"{after}; the rollback {rollback}: {find}; retire each, as a principal of this stack's "
        f"account allowed kms:RetireGrant: {retire}",
    )


def _delete_command(action: str, key_id: str, grant_id: str) -> str:
    """The AWS CLI command that deletes ``grant_id`` on ``key_id`` by ``action`` (RetireGrant,
    RevokeGrant), in the key's Region."""
    region = _key_region(key_id)
    where = f" --region {region}" if region else ""
    command = "retire-grant" if action == "RetireGrant" else "revoke-grant"
    return f"aws kms {command}{where} --key-id {key_id} --grant-id {grant_id}"


def _key_region(key_id: str) -> str | None:
    """The Region of a key ARN (``arn:<partition>:kms:<region>:<account>:key/<id>``), where its
    grants are; None for anything else."""
    parts = key_id.split(":")
    return parts[3] if len(parts) == 6 and parts[0] == "arn" and parts[3] else None


def _create(properties: Mapping[str, Any], calls: _Calls) -> Answer:
    parameters = create_grant_parameters(properties)
    unanswered: list[str] = []
    try:
        response = _call(calls, _region(properties), "CreateGrant", parameters, unanswered)
    except (ClientError, *CONNECTION_ERRORS) as error:
        failure = _no_answer(error)
        message = ""  # KMS's, in a refusal
        if failure is not None:
            what = f"got no answer until the deadline ({failure})"
        elif (
            unanswered
            and isinstance(error, ClientError)
            and error.response.get("Error", {}).get("Code") in CHANGING_REFUSALS
        ):
            # The attempt without an answer may have made the grant, whatever a later one got.
            details = error.response.get("Error", {})
            message = str(details.get("Message"))
            what = f"got no answer ({unanswered[-1]}), then {details.get('Code')}: "
        else:
            raise
        before = f"CreateGrant {what}"
        raise OutcomeUnknownError(
            f"{before}{message}: the grant named {parameters['Name']!r} on "
            f"{parameters['KeyId']} may exist",
            parameters,
            free=(len(before), len(before) + len(message)),
        ) from error
    grant_id = response["GrantId"]
    log("INFO", "grant created", grant_id=grant_id, key_id=parameters["KeyId"])
    return Answer(SUCCESS, grant_id, data={"GrantId": grant_id})


def _create_or_update(
    physical_id: str, properties: Mapping[str, Any], old: Any, calls: _Calls
) -> Answer:
    """CreateGrant with the (new) properties. After a create whose outcome was
    unknown (physical ID :data:`OUTCOME_UNKNOWN`) and that CloudFormation did not roll back
    (``--disable-rollback``), a later update with the same grant parameters gets the grant
    that create may have made: the answer keeps that physical ID. A new one would have
    CloudFormation delete the old in its clean-up, and that delete finds the grant by its name
    and parameters, the ones this update holds now, and retires it. An update that gets back
    the grant its physical ID names (the rollback of an update that failed) looks for a grant
    of its old properties, the failed ones, that no resource holds (:func:`_retire_stray`)."""
    answer = _create(properties, calls)
    if not isinstance(old, Mapping):  # a create
        return answer
    if _same_grant(properties, old):
        if physical_id == OUTCOME_UNKNOWN:
            log("INFO", "keeping the physical ID of the create without an answer", **answer.data)
            return replace(answer, physical_resource_id=OUTCOME_UNKNOWN)
        return answer
    # Only the rollback of a failed update asks again for the grant its physical ID holds (the
    # failure kept it): a forward update, or the rollback of one that succeeded, gets another
    # grant, and asking then for the old properties' grant would make it anew if it was
    # retired or revoked meanwhile (for its grantee, until the retirement reaches all of KMS).
    if GRANT_ID.match(physical_id) and answer.physical_resource_id == physical_id:
        _retire_stray(old, {physical_id}, calls)
    return answer


def _retire_stray(old: Mapping[str, Any], held: set[str], calls: _Calls) -> None:
    """After an update's CreateGrant: the grant of its old properties, if it is none that the
    resource holds (``held``: the physical ID before and after), is one a failed update's
    CreateGrant made without an answer, and this update is that update's rollback (its old
    properties are the failed ones): retire or revoke it.

    In any other update the old properties' grant is the physical ID's: CreateGrant returns it,
    and CloudFormation deletes it in its clean-up. Looking costs one CreateGrant, made once (no
    wait for IAM or for an answer), and only with time for it and a delete before the deadline;
    a refusal (the failed update's, again) or a call without an answer leaves the grant to the
    commands of the failure's reason and fails nothing. A grant that the lost call had not made
    is made and deleted at once, as in the rollback of a create
    (:func:`_delete_by_name`)."""
    if calls.clock() + 2 * LONGEST_CALL_SECONDS > calls.deadline:
        log("WARNING", "no time to look for a grant of the old properties")
        return
    once = replace(calls, deadline=calls.clock())
    try:
        parameters = create_grant_parameters(old)
        response = _call(once, _region(old), "CreateGrant", parameters)
        grant_id = response["GrantId"]
        if grant_id in held:
            return
        log("INFO", "grant of the failed update", grant_id=grant_id, name=parameters["Name"])
        _delete_grant(grant_id, old, once, token=response.get("GrantToken"), just_returned=True)
    except (ClientError, PropertyError, *CONNECTION_ERRORS) as error:
        log("WARNING", "could not ask for the grant of the old properties", error=str(error))


def _same_grant(properties: Mapping[str, Any], old: Any) -> bool:
    """Whether ``old`` (an update's old properties) ask CreateGrant for the grant of
    ``properties``: the same parameters, in the same Region."""
    if not isinstance(old, Mapping):
        return False
    try:
        before = create_grant_parameters(old)
    except PropertyError:
        return False
    return (before, _region(old)) == (create_grant_parameters(properties), _region(properties))


def _delete(physical_id: str, properties: Mapping[str, Any], calls: _Calls) -> Answer:
    """The grant the physical ID names deleted. One that KMS answers is not there may be one
    created a moment ago, not yet consistent throughout KMS (the common rollback: the KeyGrant
    created, another resource failing seconds later): it is asked for by name
    (:func:`_delete_by_name`) before it counts as gone."""
    if physical_id == OUTCOME_UNKNOWN:
        _delete_by_name(properties, calls)
        return Answer(SUCCESS, OUTCOME_UNKNOWN)
    if not GRANT_ID.match(physical_id):
        log("INFO", "no grant to delete", physical_resource_id=physical_id)
        return Answer(SUCCESS, physical_id)
    if _delete_grant(physical_id, properties, calls):
        return Answer(SUCCESS, physical_id)
    # RESERVE_SECONDS covers one call after the deadline: a CreateGrant and a delete must start
    # by then, the CreateGrant's own deadline being one call earlier (_delete_by_name).
    if calls.clock() + LONGEST_CALL_SECONDS > calls.deadline:
        return Answer(
            FAILED,
            physical_id,
            reason=f"{properties.get('DeleteBy', 'RetireGrant')} answered that there is no "
            f"grant {physical_id} on {_text(properties, 'KeyId')}, which a grant created a "
            "moment ago can answer, and no time was left to ask for it by its name "
            f"{_text(properties, 'Name')!r}: delete it again",
        )
    _delete_by_name(properties, calls, missing=physical_id)
    return Answer(SUCCESS, physical_id)


def _delete_by_name(
    properties: Mapping[str, Any], calls: _Calls, *, missing: str | None = None
) -> None:
    """CreateGrant again with the grant's name and parameters returns the grant there is (or
    makes it now), and that grant is deleted. A key gone has no grants left.

    Two deletes need it: the rollback of a create whose CreateGrant got no answer (the grant
    may exist or not), and the delete of a grant whose ID KMS answered that there is no such
    grant (``missing``: that ID), which a grant created a moment ago can answer. A grant deleted
    long ago (by hand) then costs a grant made and deleted at once. For ``missing``, an
    AccessDeniedException is retried for :data:`LOOK_REFUSED_SECONDS` only (the policy allowed
    the create it deletes, but IAM may not be in effect throughout seconds after it), and a
    refusal then confirms what KMS answered: the grant counts as gone.

    A delete that fails after the look leaves the grant it returned live, whoever made it: the
    failure (:class:`GrantLeftError`) names it and the command that deletes it, so that the
    resource is not skipped with it."""
    parameters = create_grant_parameters(properties)
    # RESERVE_SECONDS covers one call after the deadline; here the delete follows: the create's
    # own deadline is one call earlier, so that the delete starts by the deadline.
    first = replace(calls, deadline=calls.deadline - LONGEST_CALL_SECONDS)
    refusals_until = None if missing is None else calls.clock() + LOOK_REFUSED_SECONDS
    try:
        response = _call(
            first, _region(properties), "CreateGrant", parameters, refusals_until=refusals_until
        )
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code == "NotFoundException":
            log("INFO", "key gone: no grant to delete", key_id=parameters["KeyId"], code=code)
            return
        if missing is None or _no_answer(error) is not None:
            raise
        log(
            "WARNING",
            "grant gone already: CreateGrant to find it by name refused",
            grant_id=missing,
            name=parameters["Name"],
            code=code,
        )
        return
    grant_id = response["GrantId"]
    made = missing is not None and grant_id != missing
    log(
        "INFO",
        "grant of the create without an answer"
        if missing is None
        else "grant made by the look: the grant to delete was gone already"
        if made
        else "grant found by name",
        grant_id=grant_id,
        name=parameters["Name"],
        missing=missing,
    )
    # The grant may have been made a moment ago, before it is consistent throughout KMS, where a
    # retirement by ID could answer that there is no such grant. Its token identifies it at once
    # (RetireGrant API reference, GrantToken); RevokeGrant takes none, so there "no such grant"
    # is retried until the deadline, then fails the delete, and the delete tried again later
    # finds the grant by name.
    try:
        _delete_grant(
            grant_id, properties, calls, token=response.get("GrantToken"), just_returned=True
        )
    except (ClientError, *CONNECTION_ERRORS) as error:
        raise _grant_left(error, grant_id, properties, missing if made else None) from error
    if made:
        _delete_again(missing, properties, calls)


def _delete_again(missing: Any, properties: Mapping[str, Any], calls: _Calls) -> None:
    """One more delete of ``missing`` by its ID, once (no wait), after the look by name returned
    another grant: KMS's answer to a name may lag behind a grant created a moment ago too, which
    then answers by now. A failure leaves it as KMS answered (no such grant), and so does no
    time left: RESERVE_SECONDS covers one call started by the deadline."""
    if calls.clock() > calls.deadline:
        log("WARNING", "no time to delete the grant by its ID again", grant_id=missing)
        return
    try:
        _delete_grant(missing, properties, replace(calls, deadline=calls.clock()))
    except (ClientError, *CONNECTION_ERRORS) as error:
        log("WARNING", "could not delete the grant by its ID again", grant_id=missing, error=error)


def _grant_left(
    error: Exception, grant_id: str, properties: Mapping[str, Any], gone: str | None
) -> GrantLeftError:
    """The failure of the delete of ``grant_id``, which a look by name has returned (made it, if
    ``gone``: the ID of the grant to delete, gone already), as a reason that names the grant
    and how to delete it."""
    action = properties.get("DeleteBy", "RetireGrant")
    key_id = _text(properties, "KeyId")
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        before = f"{error.operation_name} failed: {details.get('Code')}: "
        message = str(details.get("Message"))
    else:
        before, message = f"{type(error).__name__}: ", str(error)
    how = (
        f"made by the look for it by its name (grant {gone} was gone already)"
        if gone is not None
        else "returned by the look for it by its name"
    )
    who = (
        "a principal allowed kms:RevokeGrant on the key"
        if action == "RevokeGrant"
        else "a principal of this stack's account allowed kms:RetireGrant"
    )
    after = (
        f": grant {grant_id} on {key_id}, {how} {_text(properties, 'Name')!r}, is live: delete "
        "this resource again (do not skip it: a skipped resource leaves the grant), or delete "
        f"the grant as {who}: {_delete_command(action, key_id, grant_id)}"
    )
    return GrantLeftError(before, message, after)


def _delete_grant(
    grant_id: str,
    properties: Mapping[str, Any],
    calls: _Calls,
    *,
    token: str | None = None,
    just_returned: bool = False,
) -> bool:
    """RetireGrant or RevokeGrant (``DeleteBy``) of ``grant_id``: whether it deleted a grant
    (False: KMS answered that there is none). A grant CreateGrant has ``just_returned`` exists:
    one revoked by ID is asked for until the deadline, then fails. ``token``: the grant token to
    retire it by (never logged), which KMS knows at once."""
    action = properties.get("DeleteBy", "RetireGrant")
    if action not in DELETE_ACTIONS:
        raise PropertyError(f"DeleteBy must be RetireGrant or RevokeGrant. Received: {action!r}")
    key_id = _text(properties, "KeyId")
    by_token = action == "RetireGrant" and token is not None
    request = {"GrantToken": token} if by_token else {"KeyId": key_id, "GrantId": grant_id}
    exists = just_returned and not by_token
    retried = PROPAGATION_ERRORS | DELETED_ALREADY if exists else PROPAGATION_ERRORS
    try:
        _call(calls, _region(properties), action, request, retried=retried)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code not in DELETED_ALREADY or exists:
            raise
        log("INFO", "no such grant", grant_id=grant_id, code=code)
        return False
    log("INFO", "grant deleted", grant_id=grant_id, action=action, key_id=key_id)
    return True


def _call(
    calls: _Calls,
    region: str | None,
    operation: str,
    parameters: dict[str, Any],
    unanswered: list[str] | None = None,
    *,
    retried: frozenset[str] = PROPAGATION_ERRORS,
    refusals_until: float | None = None,
) -> dict[str, Any]:
    """KMS's ``operation`` in ``region``, retried on the error codes ``retried`` (default
    :data:`PROPAGATION_ERRORS`) until ``refusals_until`` (a ``clock()`` time; default, and at
    the latest, the deadline) and on a call without an answer (:func:`_no_answer`) until the
    deadline; what each attempt without an answer got is added to ``unanswered``."""
    until = calls.deadline if refusals_until is None else min(refusals_until, calls.deadline)
    client = calls.client_for(region)
    method = getattr(client, xform_name(operation))
    wait = FIRST_WAIT_SECONDS
    attempt = 1
    while True:
        try:
            result: dict[str, Any] = method(**parameters)
            return result
        except (ClientError, *CONNECTION_ERRORS) as error:
            code = _no_answer(error)
            last = calls.deadline
            if code is not None:
                if unanswered is not None:
                    unanswered.append(code)
                message = "no answer, retrying: the call is idempotent"
            elif isinstance(error, ClientError):
                code = error.response.get("Error", {}).get("Code")
                if code not in retried:
                    raise
                last = until
                message = (
                    "refused, retrying: the role's IAM policy may not be in effect yet"
                    if code in PROPAGATION_ERRORS
                    else "no such grant, retrying: CreateGrant has just returned it"
                )
            else:
                raise
            if calls.clock() + wait > last:
                raise
            log(
                "WARNING",
                message,
                operation=operation,
                code=code,
                attempt=attempt,
                wait_seconds=wait,
            )
        calls.sleep(wait)
        wait = min(wait * 2, MAX_WAIT_SECONDS)
        attempt += 1


def _no_answer(error: Exception) -> str | None:
    """What a failure that says nothing of the call's outcome is (KMS's error code, or the
    connection error's class name); None for any other failure."""
    if isinstance(error, CONNECTION_ERRORS):
        return type(error).__name__
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in NO_ANSWER_ERRORS or status >= 500:
            return str(code)
    return None


def create_grant_parameters(properties: Mapping[str, Any]) -> dict[str, Any]:
    """CreateGrant's parameters from the resource's properties (as CloudFormation sends them:
    every scalar a string)."""
    for name in REQUIRED_PROPERTIES:
        if name not in properties:
            raise PropertyError(
                f"ResourceProperties must have {name}. Received: {sorted(properties)}"
            )
    operations = properties["Operations"]
    if not isinstance(operations, list) or not all(isinstance(op, str) for op in operations):
        raise PropertyError(f"Operations must be a list of strings. Received: {operations!r}")
    parameters: dict[str, Any] = {
        "KeyId": _text(properties, "KeyId"),
        "GranteePrincipal": _text(properties, "GranteePrincipal"),
        "Operations": operations,
        "RetiringPrincipal": _text(properties, "RetiringPrincipal"),
        "Name": _text(properties, "Name"),
    }
    constraints = properties.get("Constraints")
    if constraints is not None:
        if not isinstance(constraints, Mapping):
            raise PropertyError(f"Constraints must be a map. Received: {constraints!r}")
        parameters["Constraints"] = dict(constraints)
    return parameters


def _text(properties: Mapping[str, Any], name: str) -> str:
    value = properties.get(name)
    if not isinstance(value, str) or not value:
        raise PropertyError(f"{name} must be a non-empty string. Received: {value!r}")
    return value


def _region(properties: Mapping[str, Any]) -> str | None:
    region = properties.get("Region")
    return region if isinstance(region, str) and region else None
