"""Does the synthesized IAM allow exactly what the snapshot runtime calls?

The showcase app (tests/_support/apps/snapshot_showcase.py) is synthesized (also with custom
queue keys, and replicating EBS only); its replicator and receiver functions run, with the
configuration the construct wrote into their environment, against the in-memory AWS of
``_iam_world`` (two accounts, two Regions, shared snapshots): EBS, RDS (manual and automated)
and Aurora sources are copied, shared, received, copied on, reported, unshared, swept and
deleted. Every call is then put to the policies of the role that made it
(``_iam_check``): the moto and Stubber tests never check IAM, so a mismatch would otherwise only
show up after deployment, as AccessDenied.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kmskit.snapshots.model import (
    TAG_COPY_KEY,
    TAG_REPLICATOR,
    Origin,
    SnapshotRef,
    copy_key,
    rds_identifier,
)
from kmskit.snapshots.model import Role as CopyRole
from lambda_src.snapshot_replicator.config import Config
from lambda_src.snapshot_replicator.handler import Runtime
from lambda_src.snapshot_replicator.logs import JsonLogger
from lambda_src.snapshot_replicator.sweep import sweep
from tests._support.apps.snapshot_showcase import ALL_KINDS, SOURCE_ACCOUNT, build
from tests._support.synth import SynthResult, synthesize
from tests.lambdas._iam_check import (
    Decider,
    Request,
    Role,
    Stack,
    _tags_context,
    identity_allows,
    load_stack,
    queue_arn,
    requests_for,
    volume_permission_context,
)
from tests.lambdas._iam_world import World
from tests.lambdas._support import fixture

REGION = "eu-west-1"
APP_KEY = f"arn:aws:kms:{REGION}:{SOURCE_ACCOUNT}:key/app-data"  # a key outside the templates
SELECTED = {"backup": "replicate"}


@dataclass
class App:
    stacks: dict[str, Stack]
    decider: Decider
    kinds: tuple[str, ...] = ALL_KINDS
    """The ``resource_types`` of the replicator and the receiver."""

    def roles(self) -> Iterator[Role]:
        for stack in self.stacks.values():
            yield from stack.roles.values()


EBS_ONLY = ("EBS",)


@pytest.fixture(scope="module", params=["default queue keys", "custom queue keys", "EBS only"])
def app(
    request: pytest.FixtureRequest,
    synthesized: Callable[[str], SynthResult],
    tmp_path_factory: pytest.TempPathFactory,
) -> App:
    """The showcase as it is; with queue keys whose custom policies name no root (then only
    what the key policies name can use the encrypted queues, also for Lambda's dead letters);
    and replicating EBS snapshots only (its policies grant no RDS action, its key use no RDS
    kms:ViaService: the RDS and Aurora sources and events of the scenario are ignored)."""
    kinds = ALL_KINDS
    if request.param == "default queue keys":
        result = synthesized("snapshot_showcase")
    elif request.param == "custom queue keys":
        outdir = tmp_path_factory.mktemp("cdk-snapshot-showcase-custom-queue-keys")
        result = synthesize("snapshot_showcase", build(outdir, custom_queue_keys=True))
    else:
        kinds = EBS_ONLY
        outdir = tmp_path_factory.mktemp("cdk-snapshot-showcase-ebs-only")
        result = synthesize("snapshot_showcase", build(outdir, resource_types=kinds))
    stacks = {name: load_stack(name, result.template(name)) for name in ("Source", "Backup")}
    return App(stacks, Decider(list(stacks.values())), kinds)


def _runtime(world: World, role: Role) -> Runtime:
    config = Config.from_mapping(role.config)
    return Runtime(
        config=config, clients=world.clients(role.account), log=JsonLogger(io.StringIO())
    )


def _created(name: str, arn: str) -> dict[str, Any]:
    """The ``name`` fixture event, for the snapshot ``arn``."""
    key = "snapshot_id" if name.startswith("ebs") else "SourceArn"
    return fixture(name, detail={key: arn}, resources=[arn])


class Replication:
    """The showcase's two accounts, driven until nothing is left to do."""

    def __init__(self, app: App) -> None:
        self.kinds = app.kinds
        self.world = World()
        self.source = app.stacks["Source"]
        self.backup = app.stacks["Backup"]
        self.copiers = {
            s.name: _runtime(self.world, s.roles["copier"]) for s in (self.source, self.backup)
        }
        self.receives: dict[str, int] = {}
        self.cli_copy = ""
        self.plain_ebs = ""

    def queue_of(self, stack: Stack) -> str:
        return str(stack.roles["copier"].config["queue_url"])

    def put(self, stack: Stack, body: dict[str, Any] | str) -> None:
        text = body if isinstance(body, str) else json.dumps(body)
        self.world.messages.setdefault(self.queue_of(stack), []).append(
            {"Id": str(uuid.uuid4()), "MessageBody": text}
        )

    def _deliver_events(self) -> None:
        """What the buses' rules do: each kmskit notice goes to the queue of the bus's owner."""
        for event in self.world.events:
            bus = event.pop("bus")
            target = self.backup if bus.endswith("kmskit-snapshot-receiver") else self.source
            assert bus.split(":")[4] == target.account, bus
            self.put(target, event)
        self.world.events.clear()

    def drain(self) -> None:
        for _ in range(40):
            self._deliver_events()
            busy = False
            for stack in (self.source, self.backup):
                entries = self.world.messages.pop(self.queue_of(stack), [])
                if not entries:
                    continue
                busy = True
                records = []
                for entry in entries:
                    body = entry["MessageBody"]
                    self.receives[body] = self.receives.get(body, 0) + 1
                    records.append(
                        {
                            "messageId": entry["Id"],
                            "receiptHandle": f"handle-{entry['Id']}",
                            "body": body,
                            "attributes": {"ApproximateReceiveCount": str(self.receives[body])},
                        }
                    )
                self.world.actor = stack.roles["copier"].name
                failed = self.copiers[stack.name].process(records)["batchItemFailures"]
                again = {f["itemIdentifier"] for f in failed}
                for entry in entries:  # SQS delivers the failed records again
                    if entry["Id"] in again:
                        self.put(stack, entry["MessageBody"])
            if not busy and not self.world.events:
                return
        raise AssertionError("the replication never settled")

    def sweep(self, stack: Stack, now: datetime) -> None:
        role = stack.roles["sweeper"]
        self.world.actor = role.name
        report = sweep(_runtime(self.world, role), now=lambda: now)
        assert not report.errors, report.errors


@pytest.fixture(scope="module")
def replication(app: App) -> Replication:
    run = Replication(app)
    world = run.world
    ebs = world.add_ebs(REGION, SOURCE_ACCOUNT, APP_KEY, SELECTED)
    plain_ebs = world.add_ebs(REGION, SOURCE_ACCOUNT, None, SELECTED)
    rds = world.add_rds("RDS", REGION, SOURCE_ACCOUNT, "orders", APP_KEY, SELECTED)
    automated = world.add_rds(
        "RDS",
        REGION,
        SOURCE_ACCOUNT,
        "rds:orders-2026-11-20-03-00",
        APP_KEY,
        SELECTED,
        automated=True,
    )
    aurora = world.add_rds("AURORA", REGION, SOURCE_ACCOUNT, "ledger", APP_KEY, SELECTED)
    legacy = world.add_rds("AURORA", REGION, SOURCE_ACCOUNT, "legacy", None, SELECTED)
    _earlier_failed_copies(run, ebs, rds, aurora)
    # A failed copy of the same source and destination made by `kmskit snapshot copy` (replicator
    # kmskit-cli): not this replicator's to delete.
    run.cli_copy = _add_failed_copy(
        run,
        "Source",
        _origin(world, SnapshotRef("EBS", plain_ebs, REGION, SOURCE_ACCOUNT)),
        *_replica_destination(run),
        "replica",
        replicator="kmskit-cli",
    )
    run.plain_ebs = plain_ebs
    for snapshot_id in (ebs, plain_ebs):
        run.put(
            run.source,
            _created("ebs_create_snapshot", f"arn:aws:ec2::{REGION}:snapshot/{snapshot_id}"),
        )
    run.put(run.source, _created("rds_manual_snapshot_created", rds))
    run.put(run.source, _created("rds_automated_snapshot_created", automated))
    run.put(run.source, _created("aurora_manual_snapshot_created", aurora))
    run.put(run.source, _created("aurora_manual_snapshot_created", legacy))  # dead-lettered
    # Throttled once each: the step is retried later (ChangeMessageVisibility). Without RDS
    # and Aurora, the replicator's first look at a source and the receiver's first EBS copy.
    throttled = (
        ("CopyDBClusterSnapshot", "CopyDBSnapshot")
        if run.kinds == ALL_KINDS
        else ("DescribeSnapshots", "CopySnapshot")
    )
    world.fail_once[("Source/copier", throttled[0])] = "Throttling"
    world.fail_once[("Backup/copier", throttled[1])] = "Throttling"
    run.drain()
    now = datetime.now(UTC)
    for stack in (run.source, run.backup):
        run.sweep(stack, now)
    run.drain()
    for stack in (run.source, run.backup):
        run.sweep(stack, now + timedelta(days=60))  # past both retentions
    run.drain()
    return run


def _origin(world: World, ref: SnapshotRef) -> Origin:
    return Origin.of(ref, next(s.created for s in world.snapshots if s.id == ref.id))


def _replica_destination(run: Replication) -> tuple[str, str]:
    """The replicator's same-account destination: (Region, key)."""
    destination = run.source.roles["copier"].config["destinations"][0]
    return str(destination["region"]), str(destination["kms_key_arn"])


def _earlier_failed_copies(run: Replication, ebs: str, rds_arn: str, aurora_arn: str) -> None:
    """A failed copy of each kind where each copier copies first (the replicator's same-account
    destination, the receiver's own Region): it is deleted before the copy is made again (the
    copiers' own ec2:DeleteSnapshot and rds:Delete* permissions)."""
    received_key = str(run.backup.roles["copier"].config["kms_key_arn"])
    for ref in (
        SnapshotRef("EBS", ebs, REGION, SOURCE_ACCOUNT),
        SnapshotRef.from_arn(rds_arn),
        SnapshotRef.from_arn(aurora_arn),
    ):
        origin = _origin(run.world, ref)
        _add_failed_copy(run, "Source", origin, *_replica_destination(run), "replica")
        if ref.kind != "EBS":
            # What the receiver copies: the staging copy, named after its copy key.
            staging_key = copy_key(
                origin,
                region=REGION,
                account=SOURCE_ACCOUNT,
                role="staging",
                destination_account=run.backup.account,
            )
            staging = rds_identifier(origin, staging_key, "staging")
            origin = Origin(ref.kind, staging, REGION, SOURCE_ACCOUNT, origin.time)
        _add_failed_copy(run, "Backup", origin, REGION, received_key, "received")


def _add_failed_copy(
    run: Replication,
    stack: str,
    origin: Origin,
    region: str,
    key: str,
    role: CopyRole,
    *,
    replicator: str | None = None,
) -> str:
    """A failed copy tagged as ``stack``'s copier (or ``replicator``) tags it; its ID."""
    engine = run.copiers[stack].engine
    tags = engine.copy_tags(origin, region=region, role=role, destination_account=None)
    if replicator is not None:
        tags[TAG_REPLICATOR] = replicator
    if origin.kind == "EBS":
        return run.world.add_ebs(region, engine.account, key, tags, failed=True)
    name = rds_identifier(origin, tags[TAG_COPY_KEY], role)
    run.world.add_rds(origin.kind, region, engine.account, name, key, tags, failed=True)
    return name


def _platform_requests(app: App, role: Role) -> list[Request]:
    """What Lambda itself does with the function's role: the SQS event source (copier), the
    dead-letter queue of failed asynchronous invocations, logs and traces."""
    config = role.config
    queue = queue_arn(config["queue_url"])
    dlq = queue_arn(config["dead_letter_queue_url"])
    region = {"aws:RequestedRegion": role.region}
    key = app.decider.queue_keys[queue]
    via_sqs = {"kms:ViaService": f"sqs.{role.region}.amazonaws.com", **region}
    log_group = next(s["Resource"] for s in role.statements if s.get("Sid") == "WriteLogs")
    requests = [
        Request("sqs:SendMessage", dlq, tuple(region.items()), "Lambda: dead-letter queue"),
        Request("kms:GenerateDataKey", key, tuple(via_sqs.items()), "Lambda: dead-letter queue"),
        Request("kms:Decrypt", key, tuple(via_sqs.items()), "Lambda: dead-letter queue"),
        Request("logs:CreateLogStream", str(log_group), (), "Lambda: logs"),
        Request("logs:PutLogEvents", str(log_group), (), "Lambda: logs"),
        Request("xray:PutTraceSegments", "*", (), "Lambda: active tracing"),
        Request("xray:PutTelemetryRecords", "*", (), "Lambda: active tracing"),
    ]
    if role.name.endswith("copier"):
        requests += [
            Request(action, queue, tuple(region.items()), "Lambda: SQS event source")
            for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
        ]
        requests.append(
            Request("kms:Decrypt", key, tuple(via_sqs.items()), "Lambda: SQS event source")
        )
    return requests


def _requests_by_role(app: App, run: Replication) -> dict[str, list[Request]]:
    roles = {role.name: role for role in app.roles()}
    by_role: dict[str, list[Request]] = {name: [] for name in roles}
    for call in run.world.calls:
        by_role[call.actor].extend(requests_for(call, app.decider.queue_keys))
    for name, role in roles.items():
        by_role[name].extend(_platform_requests(app, role))
    return by_role


def test_the_scenario_reaches_every_step(replication: Replication) -> None:
    """The cross-check is only as good as the calls it sees: every kind of step happened."""
    seen = {(c.actor, c.service, c.operation) for c in replication.world.calls}
    expected = {
        ("Source/copier", "ec2", "CopySnapshot"),
        ("Source/copier", "ec2", "ModifySnapshotAttribute"),
        ("Source/copier", "ec2", "CreateTags"),
        ("Source/copier", "rds", "CopyDBSnapshot"),
        ("Source/copier", "rds", "CopyDBClusterSnapshot"),
        ("Source/copier", "rds", "ModifyDBSnapshotAttribute"),
        ("Source/copier", "rds", "ModifyDBClusterSnapshotAttribute"),
        ("Source/copier", "rds", "AddTagsToResource"),
        ("Source/copier", "events", "PutEvents"),
        ("Source/copier", "sqs", "SendMessageBatch"),
        ("Source/copier", "sqs", "SendMessage"),  # the unencrypted Aurora source
        ("Source/copier", "sqs", "ChangeMessageVisibility"),  # the throttled copy
        ("Backup/copier", "ec2", "CopySnapshot"),
        ("Backup/copier", "rds", "CopyDBSnapshot"),
        ("Backup/copier", "rds", "CopyDBClusterSnapshot"),
        ("Backup/copier", "events", "PutEvents"),
        ("Backup/copier", "sqs", "ChangeMessageVisibility"),
        ("Source/copier", "ec2", "DeleteSnapshot"),  # the earlier failed copies
        ("Source/copier", "rds", "DeleteDBSnapshot"),
        ("Source/copier", "rds", "DeleteDBClusterSnapshot"),
        ("Backup/copier", "ec2", "DeleteSnapshot"),
        ("Backup/copier", "rds", "DeleteDBSnapshot"),
        ("Backup/copier", "rds", "DeleteDBClusterSnapshot"),
        ("Source/sweeper", "ec2", "DeleteSnapshot"),
        ("Source/sweeper", "rds", "DeleteDBSnapshot"),
        ("Source/sweeper", "rds", "DeleteDBClusterSnapshot"),
        ("Backup/sweeper", "ec2", "DeleteSnapshot"),
        ("Backup/sweeper", "rds", "DeleteDBSnapshot"),
        ("Backup/sweeper", "rds", "DeleteDBClusterSnapshot"),
    }
    if replication.kinds == EBS_ONLY:
        # No RDS or Aurora step, and no dead letter (that was the unencrypted Aurora source).
        expected = {
            step
            for step in expected
            if step[1] != "rds" and step != ("Source/copier", "sqs", "SendMessage")
        }
        # The RDS and Aurora sources and events of the scenario are ignored without a call.
        assert not [c for c in replication.world.calls if c.service == "rds"]
    assert expected <= seen, sorted(expected - seen)
    regions = {(c.actor, c.operation, c.region) for c in replication.world.calls}
    assert ("Backup/copier", "CopySnapshot", "eu-central-1") in regions  # onward copies
    assert ("Source/copier", "CopySnapshot", "eu-central-1") in regions  # cross-Region
    if "RDS" in replication.kinds:
        assert ("Source/copier", "CopyDBSnapshot", "eu-central-1") in regions
    assert not replication.world.fail_once, "a scripted throttle never happened"


def test_every_call_the_runtime_makes_is_allowed(app: App, replication: Replication) -> None:
    roles = {role.name: role for role in app.roles()}
    denied = sorted(
        {
            f"{name}: {request}"
            for name, requests in _requests_by_role(app, replication).items()
            for request in requests
            if not app.decider.allows(roles[name], request)
        }
    )
    assert not denied, "\n".join(denied)


def test_every_permission_granted_is_used(app: App, replication: Replication) -> None:
    """Least privilege: each action of each statement serves a request the runtime (or Lambda
    for it) makes."""
    roles = {role.name: role for role in app.roles()}
    unused = []
    for name, requests in _requests_by_role(app, replication).items():
        for statement in roles[name].statements:
            actions = statement["Action"]
            for action in actions if isinstance(actions, list) else [actions]:
                single = {**statement, "Action": action}
                if not any(identity_allows([single], r) for r in requests):
                    unused.append(f"{name}: {statement.get('Sid')} grants {action}, never used")
    assert not unused, "\n".join(unused)


TAGGING = {"ec2:CreateTags", "rds:AddTagsToResource"}
# The copy actions take the copy's tags in the request (aws:TagKeys) too.
COPYING = {"ec2:CopySnapshot", "rds:CopyDBSnapshot", "rds:CopyDBClusterSnapshot"}


def _tag_keys_allowed(statement: dict[str, Any]) -> list[str] | None:
    """The aws:TagKeys a statement allows (ForAllValues:StringEquals), or None."""
    keys = statement.get("Condition", {}).get("ForAllValues:StringEquals", {}).get("aws:TagKeys")
    return None if keys is None else list(keys)


def test_tagging_statements_allow_exactly_the_tag_keys_the_runtime_sends(
    app: App, replication: Replication
) -> None:
    """Each tagging and copying statement names in aws:TagKeys exactly the keys of the runtime's
    tagging and copy requests it allows: read from the synthesized policy, checked against what
    the Lambda code sent (with the showcase's copy_tags), so neither can change without the
    other. A key the runtime needs and the policy lacks is denied (the test above); one the
    policy lists and no request sends is a wider grant than needed (this one)."""
    by_role = _requests_by_role(app, replication)
    checked = set()
    for role in app.roles():
        for statement in role.statements:
            actions = statement["Action"]
            if not (TAGGING | COPYING) & set(actions if isinstance(actions, list) else [actions]):
                continue
            allowed = _tag_keys_allowed(statement)
            assert allowed is not None, f"{role.name}: {statement['Sid']} allows any tag keys"
            sent = {
                key
                for request in by_role[role.name]
                if request.action in TAGGING | COPYING and identity_allows([statement], request)
                for key in request.ctx().get("aws:tagkeys", ())
            }
            assert sorted(sent) == sorted(allowed), (role.name, statement["Sid"])
            checked.add(f"{role.name}/{statement['Sid']}")
    expected = {
        "Source/copier/CopyEbs",
        "Source/copier/TagEbsCopiesOnCreate",
        "Source/copier/MarkOwnEbsCopiesDelivered",
        "Backup/copier/CopyEbs",
        "Backup/copier/TagEbsCopiesOnCreate",
    }
    if app.kinds != EBS_ONLY:
        expected |= {
            "Source/copier/CopyRdsSnapshots",
            "Source/copier/TagRdsCopiesOnCreate",
            "Source/copier/MarkOwnRdsCopiesDelivered",
            "Backup/copier/CopyRdsSnapshots",
            "Backup/copier/TagRdsCopiesOnCreate",
        }
    assert checked == expected


def _retagged(request: Request, tags: dict[str, str]) -> Request:
    """``request`` with ``tags`` as its request tags instead of its own."""
    kept = [
        (k, v)
        for k, v in request.context
        if not k.startswith("aws:RequestTag/") and k != "aws:TagKeys"
    ]
    requested = _tags_context([{"Key": k, "Value": v} for k, v in tags.items()], "aws:RequestTag")
    return Request(request.action, request.resource, tuple(sorted([*kept, *requested.items()])), "")


def _request_tags(request: Request) -> dict[str, str]:
    return {
        k.removeprefix("aws:RequestTag/"): v
        for k, v in request.context
        if k.startswith("aws:RequestTag/")
    }


def test_tagging_is_refused_for_keys_the_runtime_never_sends(
    app: App, replication: Replication
) -> None:
    """Each tagging request the runtime made is allowed as it was, and refused with one more
    key, with one of its keys in another case (IAM matches aws:RequestTag/<key> without case,
    aws:TagKeys with StringEquals does not), for EBS tags on create as a CreateTags call of its
    own (no ec2:CreateAction), and, for the delivered mark, without kmskit:delivered
    (ForAllValues alone would let any subset of copy_tags through) or with kmskit:replicator."""
    roles = {role.name: role for role in app.roles()}
    tried = 0
    for name, requests in _requests_by_role(app, replication).items():
        seen_actions: set[tuple[str, str]] = set()
        for request in requests:
            if request.action not in TAGGING or (request.action, request.why) in seen_actions:
                continue
            seen_actions.add((request.action, request.why))
            role = roles[name]
            tags = _request_tags(request)
            assert app.decider.allows(role, _retagged(request, tags)), request
            assert not app.decider.allows(role, _retagged(request, {**tags, "Unlisted": "x"}))
            for key in tags:
                recased = {(k.upper() if k == key else k): v for k, v in tags.items()}
                assert not app.decider.allows(role, _retagged(request, recased)), (name, key)
            if request.action == "ec2:CreateTags" and request.why == "tags on create":
                # The same tags on an existing snapshot (a CreateTags call of its own).
                existing = tuple(kv for kv in request.context if kv[0] != "ec2:CreateAction")
                assert len(existing) < len(request.context), request
                alone = Request(request.action, request.resource, existing, "")
                assert not app.decider.allows(role, alone), request
            if "kmskit:delivered" in tags:
                rest = {k: v for k, v in tags.items() if k != "kmskit:delivered"}
                assert not app.decider.allows(role, _retagged(request, rest)), request
                assert not app.decider.allows(
                    role, _retagged(request, {**tags, "kmskit:replicator": "another"})
                ), request
            tried += 1
    # On create (both copiers, EC2 and RDS) and the delivered mark (the replicator's).
    assert tried >= (3 if app.kinds == EBS_ONLY else 6)


def test_copies_are_refused_for_tag_keys_the_runtime_never_sends(
    app: App, replication: Replication
) -> None:
    """The copy action itself, not only its tagging, is refused for a copy that requests a tag
    key the runtime never sends (or one of its keys in another case): each copy the runtime
    made is allowed on its new snapshot as it was and refused with one more key. The source
    snapshot's authorization holds with and without the copy's tags in its context (request
    keys belong to the request; ForAllValues holds for an absent aws:TagKeys), so the narrowing
    cannot refuse a copy the runtime makes."""
    roles = {role.name: role for role in app.roles()}
    tried: set[tuple[str, str]] = set()
    for call in replication.world.calls:
        action = f"{call.service}:{call.operation}"
        if action not in COPYING:
            continue
        role = roles[call.actor]
        source, new = (r for r in requests_for(call, app.decider.queue_keys) if r.action == action)
        assert source.why == "source snapshot", source
        tags = _request_tags(new)
        assert tags, f"{call.actor}: a copy with no tags: {new}"
        assert app.decider.allows(role, source), source
        assert app.decider.allows(role, _retagged(source, tags)), source
        assert app.decider.allows(role, new), new
        unlisted = _retagged(new, {**tags, "Unlisted": "x"})
        assert not app.decider.allows(role, unlisted), f"{call.actor}: {unlisted}"
        for key in tags:
            recased = {(k.upper() if k == key else k): v for k, v in tags.items()}
            assert not app.decider.allows(role, _retagged(new, recased)), (call.actor, key)
        tried.add((call.actor, action))
    expected = {(f"{stack}/copier", "ec2:CopySnapshot") for stack in ("Source", "Backup")}
    if app.kinds != EBS_ONLY:
        expected |= {
            (f"{stack}/copier", action)
            for stack in ("Source", "Backup")
            for action in ("rds:CopyDBSnapshot", "rds:CopyDBClusterSnapshot")
        }
    assert tried == expected


def test_key_policies_grant_the_roles_only_what_they_use(
    app: App, replication: Replication
) -> None:
    """A key policy statement naming a replication role itself (``allow_in_key_policy``) grants
    no action that the services acting for it never call on that key."""
    roles = {role.arn: role for role in app.roles()}
    by_role = _requests_by_role(app, replication)
    unused = []
    for key, statements in app.decider.key_policies.items():
        for statement in statements:
            named = statement.get("Principal", {}).get("AWS")
            for arn in named if isinstance(named, list) else [named]:
                if arn not in roles:
                    continue
                role = roles[arn]
                actions = statement["Action"]
                for action in actions if isinstance(actions, list) else [actions]:
                    single = {**statement, "Action": action, "Resource": key}
                    if not any(identity_allows([single], r) for r in by_role[role.name]):
                        unused.append(f"{key} {statement.get('Sid')}: {action} for {role.name}")
    assert not unused, "\n".join(unused)


def test_a_failed_copy_another_replicator_made_is_left_alone(replication: Replication) -> None:
    """The copier may delete only its own copies (aws:ResourceTag/kmskit:replicator): a failed
    copy of the same source made by `kmskit snapshot copy` is skipped, not deleted (which IAM
    would deny, dead-lettering the copy), and the replicator makes its own."""
    world = replication.world
    deletes = [
        c.params
        for c in world.calls
        if c.operation == "DeleteSnapshot" and c.params["SnapshotId"] == replication.cli_copy
    ]
    assert deletes == []
    region, _ = _replica_destination(replication)
    copied = [
        c
        for c in world.calls
        if (c.actor, c.operation, c.region) == ("Source/copier", "CopySnapshot", region)
        and c.params["SourceSnapshotId"] == replication.plain_ebs
    ]
    assert len(copied) == 1
    dead_letters = world.messages.get(replication.copiers["Source"].config.dead_letter_queue_url)
    assert not [m for m in dead_letters or [] if replication.plain_ebs in m["MessageBody"]]


def test_a_copier_cannot_claim_a_copy_it_did_not_make(app: App) -> None:
    """Delete goes by the kmskit:replicator tag, so a copier must not be able to put its own
    value on another replicator's RDS copy (or on any copy already tagged); it may tag the
    copies it creates (the runtime's calls, checked above)."""
    copiers = [role for role in app.roles() if role.name.endswith("/copier")]
    assert copiers
    for role in copiers:
        replicator = role.config["replicator_id"]
        for region in sorted({role.region, *(d["region"] for d in role.config["destinations"])}):
            arn = f"arn:aws:rds:{region}:{role.account}:snapshot:kmskit-orders-replica"
            claim = {
                "aws:RequestedRegion": region,
                "aws:RequestTag/kmskit:replicator": replicator,
            }
            for owner in ("kmskit-cli", "another-replicator"):
                request = Request(
                    "rds:AddTagsToResource",
                    arn,
                    tuple(sorted({**claim, "aws:ResourceTag/kmskit:replicator": owner}.items())),
                    f"claim {owner}'s copy",
                )
                assert not app.decider.allows(role, request), f"{role.name}: {request}"


def _may_change_sharing(app: App, role: Role, change: dict[str, Any]) -> bool:
    """Whether ``role`` may make the ModifySnapshotAttribute ``change`` on its own EBS copy."""
    context = {
        "aws:RequestedRegion": role.region,
        "aws:ResourceTag/kmskit:replicator": role.config["replicator_id"],
        **volume_permission_context(change),
    }
    arn = f"arn:aws:ec2:{role.region}::snapshot/snap-0123456789abcdef0"
    request = Request("ec2:ModifySnapshotAttribute", arn, tuple(sorted(context.items())), "share")
    return app.decider.allows(role, request)


def test_a_replicator_shares_ebs_copies_only_with_its_destination_accounts(app: App) -> None:
    """Who a copy is shared with is limited in IAM too, not only by the runtime: adding any
    other account, or the public group, is denied; unsharing (removing) is allowed."""
    outsider = "999999999999"
    replicators = [
        role
        for role in app.roles()
        if role.name.endswith("/copier") and role.config["mode"] == "replicator"
    ]
    assert replicators
    checked_destinations = 0
    for role in replicators:
        destinations = sorted({d["account"] for d in role.config["destinations"] if "account" in d})
        for account in destinations:
            checked_destinations += 1
            for change, allowed in (
                ({"OperationType": "add", "UserIds": [account]}, True),
                ({"OperationType": "add", "UserIds": [account, outsider]}, False),
                ({"OperationType": "remove", "UserIds": [account]}, True),
            ):
                assert _may_change_sharing(app, role, change) is allowed, (role.name, change)
        for change in (
            {"OperationType": "add", "UserIds": [outsider]},
            {"CreateVolumePermission": {"Add": [{"UserId": outsider}]}},
            {"CreateVolumePermission": {"Add": [{"Group": "all"}]}},
        ):
            assert not _may_change_sharing(app, role, change), (role.name, change)
    assert checked_destinations, "the showcase has no cross-account destination"


def test_multivalued_keys_need_a_set_operator() -> None:
    """A plain StringEquals on a multivalued key fails the check rather than guessing IAM."""
    statement = {
        "Effect": "Allow",
        "Action": "ec2:ModifySnapshotAttribute",
        "Resource": "*",
        "Condition": {"StringEquals": {"ec2:Add/userId": "111111111111"}},
    }
    context = volume_permission_context({"OperationType": "add", "UserIds": ["111111111111"]})
    request = Request("ec2:ModifySnapshotAttribute", "*", tuple(context.items()), "test")
    with pytest.raises(AssertionError, match="multivalued"):
        identity_allows([statement], request)


@pytest.mark.parametrize("element", ["NotAction", "NotResource"])
def test_statements_the_evaluator_does_not_model_fail_the_check(element: str) -> None:
    """A Deny written with NotAction or NotResource must not be skipped as if it did not apply:
    "allowed" would then not mean allowed."""
    request = Request("kms:Decrypt", APP_KEY, (), "test")
    deny = {"Effect": "Deny", "Action": "kms:*", "Resource": "*"}
    deny.pop(element.removeprefix("Not"))
    deny[element] = "kms:Encrypt" if element == "NotAction" else "arn:aws:kms:*:*:key/other"
    allow = {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}
    with pytest.raises(AssertionError, match="not modelled"):
        identity_allows([deny, allow], request)
