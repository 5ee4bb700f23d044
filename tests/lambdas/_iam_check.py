"""What IAM would decide for the calls the snapshot runtime makes, from the synthesized templates.

:func:`load_stack` finds each replication function of a template, its configuration, and the
statements of the managed policies attached to its role. :func:`requests_for` turns one recorded
call (``_iam_world.Call``) into the authorization requests AWS makes for it: the action on every
resource it names (both snapshots of a copy), tag-on-create (``ec2:CreateTags`` with
``ec2:CreateAction``, ``rds:AddTagsToResource``), and the KMS calls EBS, RDS and SQS make for the
caller (``kms:ViaService``). :class:`Decider` evaluates them as IAM does: identity policies, key
policies, event bus and queue policies, explicit denies first.

Sources for the KMS calls a service makes for the caller:
* EBS: "kms:CreateGrant, kms:Decrypt, kms:DescribeKey, kms:GenerateDataKeyWithoutPlainText,
  kms:ReEncrypt" (EBS User Guide, Requirements for Amazon EBS encryption, Permissions for users).
* RDS: "a user must have permissions to call the following operations on the customer managed
  key: kms:CreateGrant, kms:DescribeKey" (RDS User Guide, AWS KMS key management).
* RDS tags on create: "RDS performs additional authorization on the rds:AddTagsToResource action"
  (RDS User Guide, Grant permission to tag Amazon RDS resources during creation).
* SQS: a producer of an SSE-KMS queue needs kms:GenerateDataKey and kms:Decrypt (SQS Developer
  Guide, Key management); the key policy of the construct's key delegates to IAM.

Not modelled: the presigned source-Region request of a cross-Region copy (AWS documents RDS's
PreSignedUrl as ignored outside GovCloud), and rds:CrossRegionCommunication, which RDS's
service-linked role performs (AmazonRDSServiceRolePolicy), not the caller.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from tests.lambdas._iam_world import Call

PARTITION = "aws"
# The EBS guide names one list for every key EBS uses (it does not split source and copy).
EBS_KEY = (
    "kms:CreateGrant",
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
)
RDS_KEY = ("kms:CreateGrant", "kms:DescribeKey")
SQS_KEY = ("kms:GenerateDataKey", "kms:Decrypt")


# ---------------------------------------------------------------------------- templates
class Resolver:
    """Resolves the intrinsic functions of one stack's template to stand-in names."""

    def __init__(self, template: dict[str, Any], account: str, region: str) -> None:
        self.resources: dict[str, dict[str, Any]] = template["Resources"]
        self.account = account
        self.region = region

    def __call__(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self(v) for v in value]
        if not isinstance(value, dict):
            return value
        if "Ref" in value:
            return self.ref(value["Ref"])
        if "Fn::GetAtt" in value:
            logical, attribute = value["Fn::GetAtt"]
            return self.get_att(logical, attribute)
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(str(self(p)) for p in parts)
        return {k: self(v) for k, v in value.items()}

    def ref(self, name: str) -> str:
        pseudo = {
            "AWS::Partition": PARTITION,
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        kind = self.resources[name]["Type"]
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{self.region}.amazonaws.com/{self.account}/{name}"
        if kind == "AWS::Events::EventBus":
            return str(self.resources[name]["Properties"]["Name"])
        return name

    def get_att(self, logical: str, attribute: str) -> str:
        kind = self.resources[logical]["Type"]
        props = self.resources[logical].get("Properties", {})
        r, a = self.region, self.account
        arns = {
            "AWS::SQS::Queue": f"arn:{PARTITION}:sqs:{r}:{a}:{logical}",
            "AWS::KMS::Key": f"arn:{PARTITION}:kms:{r}:{a}:key/{logical}",
            "AWS::IAM::Role": f"arn:{PARTITION}:iam::{a}:role/{logical}",
            "AWS::Events::Rule": f"arn:{PARTITION}:events:{r}:{a}:rule/{logical}",
            "AWS::Events::EventBus": f"arn:{PARTITION}:events:{r}:{a}:event-bus/"
            f"{props.get('Name')}",
            "AWS::Logs::LogGroup": f"arn:{PARTITION}:logs:{r}:{a}:log-group:"
            f"{props.get('LogGroupName')}:*",
        }
        if attribute == "Arn" and kind in arns:
            return arns[kind]
        raise KeyError(f"no stand-in for {logical}.{attribute} ({kind})")


def _stack_env(template: dict[str, Any]) -> tuple[str, str]:
    """The (account, Region) the stack's replication config names."""
    draft = Resolver(template, "000000000000", "xx-draft-0")
    for resource in template["Resources"].values():
        variables = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
        if "KMSKIT_SNAPSHOT_CONFIG" in variables:
            config = json.loads(draft(variables["KMSKIT_SNAPSHOT_CONFIG"]))
            return str(config["account"]), str(config["region"])
    raise AssertionError("no replication function in the template")


@dataclass
class Role:
    """One replication function: who it acts as and what its policies say."""

    name: str  # e.g. "Source/copier"
    account: str
    region: str
    arn: str
    config: dict[str, Any]
    statements: list[dict[str, Any]]


@dataclass
class Stack:
    name: str
    account: str
    region: str
    resolve: Resolver
    roles: dict[str, Role] = field(default_factory=dict)

    def resources_of(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resolve.resources.items() if v["Type"] == kind}


def load_stack(name: str, template: dict[str, Any]) -> Stack:
    account, region = _stack_env(template)
    resolve = Resolver(template, account, region)
    stack = Stack(name, account, region, resolve)
    for function in stack.resources_of("AWS::Lambda::Function").values():
        props = function["Properties"]
        variables = props.get("Environment", {}).get("Variables", {})
        if "KMSKIT_SNAPSHOT_CONFIG" not in variables:
            continue
        role_logical = props["Role"]["Fn::GetAtt"][0]
        unmodelled = {"Policies", "ManagedPolicyArns", "PermissionsBoundary"} & set(
            stack.resolve.resources[role_logical]["Properties"]
        )
        assert not unmodelled, f"{role_logical} has {sorted(unmodelled)}: not modelled"
        statements: list[dict[str, Any]] = []
        for policy in stack.resources_of("AWS::IAM::ManagedPolicy").values():
            if {"Ref": role_logical} in policy["Properties"].get("Roles", []):
                statements.extend(resolve(policy["Properties"]["PolicyDocument"]["Statement"]))
        inline = [
            p
            for p in stack.resources_of("AWS::IAM::Policy").values()
            if {"Ref": role_logical} in p["Properties"].get("Roles", [])
        ]
        assert not inline, f"{role_logical} has inline policies"
        kind = "sweeper" if props["Handler"].endswith(".sweep.handler") else "copier"
        role = Role(
            f"{name}/{kind}",
            account,
            region,
            resolve.get_att(role_logical, "Arn"),
            json.loads(resolve(variables["KMSKIT_SNAPSHOT_CONFIG"])),
            statements,
        )
        stack.roles[kind] = role
    return stack


# ---------------------------------------------------------------------------- requests
@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    context: tuple[tuple[str, Any], ...]
    why: str

    def ctx(self) -> dict[str, Any]:
        return {k.lower(): v for k, v in self.context}

    def __str__(self) -> str:
        return f"{self.action} on {self.resource} ({self.why}; {dict(self.context)})"


def _request(action: str, resource: str, why: str, **context: Any) -> Request:
    return Request(action, resource, tuple(sorted(context.items())), why)


def _tags_context(tags: list[dict[str, str]], prefix: str) -> dict[str, Any]:
    """``prefix``/<key> for each tag; for the tags of a request (aws:RequestTag) also the
    multivalued aws:TagKeys, as written (absent when there are none, as IAM leaves it)."""
    context: dict[str, Any] = {f"{prefix}/{t['Key']}": t["Value"] for t in tags}
    if prefix == "aws:RequestTag" and tags:
        context["aws:TagKeys"] = tuple(t["Key"] for t in tags)
    return context


def _key_requests(
    key: str | None, actions: tuple[str, ...], service: str, why: str
) -> list[Request]:
    if not key:
        return []
    region = key.split(":")[3]
    return [
        _request(
            action,
            key,
            why,
            **{
                "kms:ViaService": f"{service}.{region}.amazonaws.com",
                "aws:RequestedRegion": region,
                **({"kms:GrantIsForAWSResource": "true"} if action == "kms:CreateGrant" else {}),
            },
        )
        for action in actions
    ]


def _rds_arn(identifier: str, kind: str, region: str, account: str) -> str:
    if identifier.startswith("arn:"):
        return identifier
    return f"arn:{PARTITION}:rds:{region}:{account}:{kind}:{identifier}"


def queue_arn(url: str) -> str:
    host, account, name = url.removeprefix("https://").split("/")
    return f"arn:{PARTITION}:sqs:{host.split('.')[1]}:{account}:{name}"


def volume_permission_context(params: dict[str, Any]) -> dict[str, Any]:
    """EC2's multivalued keys for whom a ModifySnapshotAttribute request adds or removes:
    ec2:Add/userId, ec2:Add/group, ec2:Remove/userId, ec2:Remove/group (absent when empty).
    Both request forms: OperationType with UserIds/GroupNames, and CreateVolumePermission."""
    changes: dict[str, list[str]] = {}

    def note(verb: str, kind: str, value: str) -> None:
        changes.setdefault(f"ec2:{verb}/{kind}", []).append(value)

    verb = str(params.get("OperationType", "")).capitalize()
    for user in params.get("UserIds", []):
        note(verb, "userId", user)
    for group in params.get("GroupNames", []):
        note(verb, "group", group)
    for verb, entries in params.get("CreateVolumePermission", {}).items():
        for entry in entries:
            for field_name, kind in (("UserId", "userId"), ("Group", "group")):
                if field_name in entry:
                    note(verb, kind, entry[field_name])
    return {key: tuple(values) for key, values in changes.items()}


def requests_for(call: Call, queue_keys: dict[str, str]) -> list[Request]:
    """Every authorization AWS makes for ``call`` (the caller's own and the service's)."""
    p, r, a = call.params, call.region, call.account
    base = {"aws:RequestedRegion": r}
    owned = {
        **base,
        **_tags_context(
            [{"Key": k, "Value": v} for k, v in call.resource_tags.items()], "aws:ResourceTag"
        ),
    }
    op = f"{call.service}:{call.operation}"
    if op in ("ec2:DescribeSnapshots", "rds:DescribeDBSnapshots", "rds:DescribeDBClusterSnapshots"):
        return [_request(op, "*", op, **base)]
    if op == "ec2:CopySnapshot":
        tags = [t for spec in p.get("TagSpecifications", []) for t in spec["Tags"]]
        requested = {**base, **_tags_context(tags, "aws:RequestTag")}
        source = f"arn:{PARTITION}:ec2:{p['SourceRegion']}::snapshot/{p['SourceSnapshotId']}"
        new = f"arn:{PARTITION}:ec2:{r}::snapshot/{call.created_id}"
        return [
            _request(op, source, "source snapshot", **base),
            _request(op, new, "new snapshot", **requested),
            _request(
                "ec2:CreateTags",
                new,
                "tags on create",
                **requested,
                **{"ec2:CreateAction": "CopySnapshot"},
            ),
            *_key_requests(p.get("KmsKeyId"), EBS_KEY, "ec2", "EBS: copy's key"),
            *_key_requests(call.source_key, EBS_KEY, "ec2", "EBS: source's key"),
        ]
    if op in ("ec2:CreateTags", "ec2:ModifySnapshotAttribute", "ec2:DeleteSnapshot"):
        snapshot = p["Resources"][0] if op == "ec2:CreateTags" else p["SnapshotId"]
        extra = _tags_context(p.get("Tags", []), "aws:RequestTag")
        if op == "ec2:ModifySnapshotAttribute":
            extra = volume_permission_context(p)
        return [_request(op, f"arn:{PARTITION}:ec2:{r}::snapshot/{snapshot}", op, **owned, **extra)]
    if op in ("rds:CopyDBSnapshot", "rds:CopyDBClusterSnapshot"):
        kind = "snapshot" if op == "rds:CopyDBSnapshot" else "cluster-snapshot"
        prefix = (
            "SourceDBSnapshotIdentifier"
            if kind == "snapshot"
            else ("SourceDBClusterSnapshotIdentifier")
        )
        source = _rds_arn(p[prefix], kind, r, a)
        target = _rds_arn(p[prefix.replace("Source", "Target")], kind, r, a)
        requested = {**base, **_tags_context(p.get("Tags", []), "aws:RequestTag")}
        tagging = (
            [_request("rds:AddTagsToResource", target, "tags on create", **requested)]
            if p.get("Tags")
            else []
        )
        return [
            _request(op, source, "source snapshot", **base),
            _request(op, target, "target snapshot", **requested),
            *tagging,
            *_key_requests(p.get("KmsKeyId"), RDS_KEY, "rds", "RDS: copy's key"),
            *_key_requests(call.source_key, RDS_KEY, "rds", "RDS: source's key"),
        ]
    if op in ("rds:ModifyDBSnapshotAttribute", "rds:DeleteDBSnapshot"):
        arn = _rds_arn(p["DBSnapshotIdentifier"], "snapshot", r, a)
        return [_request(op, arn, op, **owned)]
    if op in ("rds:ModifyDBClusterSnapshotAttribute", "rds:DeleteDBClusterSnapshot"):
        arn = _rds_arn(p["DBClusterSnapshotIdentifier"], "cluster-snapshot", r, a)
        return [_request(op, arn, op, **owned)]
    if op == "rds:AddTagsToResource":
        extra = _tags_context(p["Tags"], "aws:RequestTag")
        return [_request(op, p["ResourceName"], op, **owned, **extra)]
    if op in ("sqs:SendMessage", "sqs:SendMessageBatch", "sqs:ChangeMessageVisibility"):
        arn = queue_arn(p["QueueUrl"])
        action = "sqs:ChangeMessageVisibility" if op.endswith("Visibility") else "sqs:SendMessage"
        key = _key_requests(queue_keys.get(arn), SQS_KEY, "sqs", "SQS: queue's key")
        return [
            _request(action, arn, op, **base, **{"aws:SecureTransport": "true"}),
            *(key if action == "sqs:SendMessage" else []),
        ]
    if op == "events:PutEvents":
        return [_request(op, e["EventBusName"], op, **base) for e in p["Entries"]]
    raise AssertionError(f"no IAM model for {op}: add it to requests_for")


# ---------------------------------------------------------------------------- evaluation
def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _wildcard(pattern: str, value: str, *, case: bool = True) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, 0 if case else re.IGNORECASE) is not None


def _condition_holds(operator: str, key: str, expected: Any, context: dict[str, Any]) -> bool:
    """Multivalued keys are tuples in the context; they need a set operator, as in IAM."""
    actual = context.get(key.lower())
    if operator == "Null":  # "true": the key is absent from the request; "false": present
        return str(expected).lower() == str(actual is None).lower()
    qualifier, _, single = operator.rpartition(":")
    if qualifier in ("ForAllValues", "ForAnyValue"):
        if actual is None:  # IAM: ForAllValues holds for an absent key, ForAnyValue does not
            return qualifier == "ForAllValues"
        holds = [
            _condition_holds(single, key, expected, {key.lower(): value})
            for value in _as_list(list(actual) if isinstance(actual, tuple) else actual)
        ]
        return all(holds) if qualifier == "ForAllValues" else any(holds)
    if qualifier:
        raise AssertionError(f"condition operator {operator} is not modelled")
    assert not isinstance(actual, tuple), f"{key} is multivalued: {operator} needs ForAllValues"
    if actual is None:
        return False
    values = [str(v) for v in _as_list(expected)]
    if operator == "Bool":
        return str(actual).lower() in [v.lower() for v in values]
    if operator in ("StringEquals",):
        return str(actual) in values
    if operator in ("StringLike", "ArnLike", "ArnEquals"):
        return any(_wildcard(v, str(actual)) for v in values)
    raise AssertionError(f"condition operator {operator} is not modelled")


def _check_modelled(statement: dict[str, Any]) -> None:
    """Elements this evaluator does not model fail the test instead of being skipped (a Deny
    with NotAction skipped would make a denied request look allowed)."""
    unmodelled = {"NotAction", "NotResource", "NotPrincipal"} & set(statement)
    assert not unmodelled, f"{sorted(unmodelled)} are not modelled: {statement}"


def _principal_matches(principal: Any, role: Role) -> str | None:
    """ "role" when the statement names the role itself, "account" when its account."""
    if principal == "*":
        return "account"
    names = [str(p) for p in _as_list(principal.get("AWS", []))]
    if role.arn in names:
        return "role"
    if any(n in ("*", role.account, f"arn:{PARTITION}:iam::{role.account}:root") for n in names):
        return "account"
    return None


def _applies(statement: dict[str, Any], request: Request) -> bool:
    _check_modelled(statement)
    actions = _as_list(statement.get("Action", []))
    if not any(_wildcard(a, request.action, case=False) for a in actions):
        return False
    if not any(_wildcard(str(r), request.resource) for r in _as_list(statement.get("Resource"))):
        return False
    context = request.ctx()
    return all(
        _condition_holds(operator, key, expected, context)
        for operator, pairs in statement.get("Condition", {}).items()
        for key, expected in pairs.items()
    )


def identity_allows(statements: list[dict[str, Any]], request: Request) -> bool:
    applicable = [s for s in statements if _applies(s, request)]
    return not any(s["Effect"] == "Deny" for s in applicable) and any(
        s["Effect"] == "Allow" for s in applicable
    )


def resource_allows(
    statements: list[dict[str, Any]], request: Request, role: Role
) -> tuple[bool, str | None]:
    """(denied explicitly?, "role"/"account"/None: whom an Allow names)."""
    named: str | None = None
    for statement in statements:
        _check_modelled(statement)
        who = _principal_matches(statement.get("Principal", {}), role)
        if who is None or not _applies(statement, request):
            continue
        if statement["Effect"] == "Deny":
            return True, None
        named = "role" if "role" in (who, named) else who
    return False, named


class Decider:
    """IAM's decision for a role's request, given every stack of the app."""

    def __init__(self, stacks: list[Stack]) -> None:
        self.key_policies: dict[str, list[dict[str, Any]]] = {}
        self.bus_policies: dict[str, list[dict[str, Any]]] = {}
        self.queue_policies: dict[str, list[dict[str, Any]]] = {}
        self.queue_keys: dict[str, str] = {}
        for stack in stacks:
            resolve = stack.resolve
            for logical, key in stack.resources_of("AWS::KMS::Key").items():
                arn = resolve.get_att(logical, "Arn")
                self.key_policies[arn] = resolve(key["Properties"]["KeyPolicy"]["Statement"])
            for policy in stack.resources_of("AWS::Events::EventBusPolicy").values():
                props = resolve(policy["Properties"])
                bus = f"arn:{PARTITION}:events:{stack.region}:{stack.account}:event-bus/" + str(
                    props["EventBusName"]
                )
                self.bus_policies.setdefault(bus, []).extend(_as_list(props["Statement"]))
            for logical, queue in stack.resources_of("AWS::SQS::Queue").items():
                key = queue["Properties"].get("KmsMasterKeyId")
                if key is not None:
                    self.queue_keys[resolve.get_att(logical, "Arn")] = resolve(key)
            for policy in stack.resources_of("AWS::SQS::QueuePolicy").values():
                props = resolve(policy["Properties"])
                for url in props["Queues"]:
                    self.queue_policies.setdefault(queue_arn(url), []).extend(
                        props["PolicyDocument"]["Statement"]
                    )

    def allows(self, role: Role, request: Request) -> bool:
        iam = identity_allows(role.statements, request)
        service = request.action.split(":")[0]
        if service == "kms":
            owner = request.resource.split(":")[4]
            # A key outside the templates has the default key policy (its account's root: kms:*).
            policy = self.key_policies.get(
                request.resource,
                [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:{PARTITION}:iam::{owner}:root"},
                        "Action": "kms:*",
                        "Resource": "*",
                    }
                ],
            )
            return self._with_resource_policy(policy, request, role, iam, owner)
        if service == "events":
            owner = request.resource.split(":")[4]
            policy = self.bus_policies.get(request.resource, [])
            if owner == role.account:
                denied, _ = resource_allows(policy, request, role)
                return iam and not denied
            return self._with_resource_policy(policy, request, role, iam, owner)
        if service == "sqs":
            denied, _ = resource_allows(
                self.queue_policies.get(request.resource, []), request, role
            )
            return iam and not denied
        return iam  # EC2 and RDS: cross-account access is the snapshot's share attribute

    @staticmethod
    def _with_resource_policy(
        policy: list[dict[str, Any]], request: Request, role: Role, iam: bool, owner: str
    ) -> bool:
        denied, named = resource_allows(policy, request, role)
        if denied or named is None:
            return False
        if owner == role.account and named == "role":
            return True  # a resource policy naming the role itself needs no IAM policy
        return iam


__all__ = [
    "Decider",
    "Request",
    "Role",
    "Stack",
    "identity_allows",
    "load_stack",
    "requests_for",
]
