"""Monthly KMS key cost of a synthesized CDK app (``kmskit cost cdk.out``).

Reads the templates that the cloud assembly's ``manifest.json`` lists: stack templates, the
nested stage assemblies CDK Pipelines writes to ``assembly-<Stage>/`` folders, and nested stack
templates (file assets). The CDK does not clean ``cdk.out``, so templates of stacks that an
earlier synth wrote and the app no longer has stay there and must not be counted
(github.com/aws/aws-cdk/issues/2869). Every path a manifest names must lead inside the folder of
that manifest, where the CDK writes them: kmskit never reads a file outside the assembly because a
manifest says so. A folder without ``manifest.json`` is read whole: every
``*.template.json`` under it, but only what its own manifest lists in a folder that has one.
It finds ``AWS::KMS::Key`` and ``AWS::KMS::ReplicaKey``
resources and prices each. Keys made by this toolkit carry their cost in ``kmskit:cost``
metadata; any other key is priced with the same function from its properties.

The price list is the commercial ``aws`` partition's. Each stack artifact's ``environment``
(``aws://ACCOUNT/REGION``) gives the partition of its template's keys, and of its nested stacks'
keys: a key in another partition (``cn-north-1`` is in ``aws-cn``) is counted but not priced,
and stays out of the USD totals (:func:`kmskit.pricing.not_priced_reason` says why). A stack
without a Region (``unknown-region``, environment-agnostic) and a template read without a
manifest are priced as commercial, as the constructs' metadata prices them.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from kmskit.aws_names import REGION, partition
from kmskit.errors import NotFoundError, UsageError, from_os_error
from kmskit.pricing import PRICED_PARTITION, key_monthly_cost, not_priced_reason

KEY_TYPES = ("AWS::KMS::Key", "AWS::KMS::ReplicaKey")
UNKNOWN_REGION = "unknown-region"
"""The Region of an environment-agnostic stack in a manifest (``aws://unknown-account/...``)."""
MAX_KEY_MONTHLY_USD = Decimal(1000)
"""The most a ``kmskit:cost`` figure may say one key costs a month (the list price is $1 to $3):
a larger one is a broken template, not a price."""
_MISSING = object()


@dataclass(frozen=True)
class Template:
    """A template to read: the name it is reported under, and its stack's Region
    (default :data:`UNKNOWN_REGION`: environment-agnostic, or no manifest says)."""

    name: str
    region: str = UNKNOWN_REGION

    @property
    def partition(self) -> str:
        return PRICED_PARTITION if self.region == UNKNOWN_REGION else partition(self.region)


@dataclass(frozen=True)
class PricedKey:
    """One key; ``monthly_usd`` and ``max_monthly_usd`` are commercial list prices, which hold
    only where ``partition`` is ``aws`` (default; see :attr:`priced`)."""

    template: str
    logical_id: str
    resource_type: str
    monthly_usd: Decimal
    max_monthly_usd: Decimal
    partition: str = PRICED_PARTITION

    @property
    def priced(self) -> bool:
        return not_priced_reason(self.partition) is None


def _shown(value: Any) -> str:
    """``value`` as a message quotes it: its repr, cut short."""
    text = "null" if value is None else repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


def _field(
    container: dict[str, Any],
    name: str,
    kind: type,
    where: str,
    default: Any = _MISSING,
) -> Any:
    """``container[name]`` (``default`` when absent), which must be of ``kind``: else an error
    naming ``where`` (the file and the field's place in it) and the value."""
    value = container.get(name, _MISSING)
    if value is _MISSING and default is not _MISSING:
        return default
    if not isinstance(value, kind) or isinstance(value, bool):
        names: dict[type, str] = {dict: "a JSON object", list: "a JSON list", str: "a string"}
        expected = names.get(kind, kind.__name__)
        received = "nothing" if value is _MISSING else _shown(value)
        raise UsageError(f"{where}: '{name}' must be {expected}. Received: {received}")
    return value


def _inside(directory: Path, value: str, name: str, where: str) -> Path:
    """``directory / value``, the path a manifest's field ``name`` gives, which must lead inside
    ``directory``, as the CDK writes every path of a cloud assembly: not ``directory`` itself,
    not out of it (``..``, an absolute path, or a symbolic link that points out), so that a
    manifest never makes kmskit read a file elsewhere (nor a nested assembly loop back on
    itself). Else an error naming ``where`` (the file and the artifact), the field and the
    value."""
    path = directory / value
    # realpath, not Path.resolve: it follows every link, and a link loop is left for the read
    # to report instead of raising RuntimeError here.
    root = Path(os.path.realpath(directory))
    target = Path(os.path.realpath(path))
    if root not in target.parents:
        # Say where a symbolic link leads; a plain ``..`` or absolute path speaks for itself.
        leads = "" if Path(os.path.abspath(path)) == target else f", which leads to '{target}'"
        raise UsageError(
            f"{where}: '{name}' must be a path inside the assembly folder '{directory}', as the "
            f"CDK writes it. Received: {value!r}{leads}"
        )
    return path


def _usd(metadata: dict[str, Any], name: str, where: str) -> Decimal:
    """A USD figure of ``kmskit:cost`` metadata: a number or a decimal string, finite, from 0
    to :data:`MAX_KEY_MONTHLY_USD`."""
    value = metadata[name]
    amount: Decimal | None = None
    if isinstance(value, (int, float, str)) and not isinstance(value, bool):
        try:
            amount = Decimal(str(value).strip())
        except InvalidOperation:
            amount = None
    if amount is None or not amount.is_finite() or not 0 <= amount <= MAX_KEY_MONTHLY_USD:
        raise UsageError(
            f"{where}: 'kmskit:cost' '{name}' must be an amount of USD from 0 to "
            f"{MAX_KEY_MONTHLY_USD}. Received: {_shown(value)}"
        )
    return amount


def _price(resource: dict[str, Any], where: str) -> tuple[Decimal, Decimal]:
    """Monthly cost now and after rotations of the key ``resource``; ``where`` names the
    template and the resource in an error."""
    metadata = _field(resource, "Metadata", dict, where, {}).get("kmskit:cost")
    if isinstance(metadata, dict) and "monthlyUsd" in metadata:
        now = _usd(metadata, "monthlyUsd", where)
        later = _usd(metadata, "maxMonthlyUsd", where) if "maxMonthlyUsd" in metadata else now
        return now, later
    properties = _field(resource, "Properties", dict, where, {})
    replica = resource["Type"] == "AWS::KMS::ReplicaKey"
    # A replica rotates with its primary, which its template does not show: assume it does,
    # so that the figure after rotations stays an upper bound. CloudFormation also takes the
    # string "true", and a value decided at deploy time (Ref, Fn::If) may turn rotation on.
    setting = properties.get("EnableKeyRotation")
    rotation = (
        replica
        or setting is True
        or (isinstance(setting, str) and setting.lower() == "true")
        or isinstance(setting, dict)
    )
    cost = key_monthly_cost(rotation_enabled=rotation, replica=replica)
    return cost.monthly_usd, cost.max_monthly_usd


def read_json(path: Path, what: str) -> dict[str, Any]:
    """The JSON object in ``path``; a file that is unreadable, not JSON or not an object is an
    error naming the file (``what``: "template", "manifest")."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise from_os_error(error, f"read the {what} '{path}'") from error
    except UnicodeDecodeError as error:
        raise UsageError(f"the {what} '{path}' is not UTF-8 JSON: {error}") from error
    try:
        document = json.loads(text)
    except ValueError as error:
        raise UsageError(f"the {what} '{path}' is not valid JSON: {error}") from error
    except RecursionError:
        raise UsageError(f"the {what} '{path}' is not valid JSON: nested too deep") from None
    if not isinstance(document, dict):
        raise UsageError(
            f"the {what} '{path}' must hold a JSON object. Received: {type(document).__name__}"
        )
    return document


def assembly_templates(assembly: Path) -> dict[Path, Template]:
    """Each template of ``assembly`` with the name it is reported under and its Region.

    A directory with a ``manifest.json``: the templates it lists, nested stage assemblies and
    nested stacks included, never a stale file the manifest does not name. A directory without
    one: every ``*.template.json`` under it, except in a folder that has a ``manifest.json`` of
    its own (a cdk.out or stage assembly under it), which is read as above. A file: that
    template. No two templates are reported under one name (see :func:`_told_apart`).
    """
    if not assembly.exists():
        raise NotFoundError(f"no cloud assembly at '{assembly}': run `cdk synth` (or make synth)")
    if assembly.is_file():
        return stack_names([assembly])
    displays: dict[Path, str] = {}
    if (assembly / "manifest.json").is_file():
        templates = _listed_templates(assembly, displays)
        if not templates:
            raise UsageError(
                f"the manifest '{assembly / 'manifest.json'}' lists no stack templates: "
                "is it a cdk.out folder?"
            )
    else:
        templates = _unlisted_templates(assembly, displays)
        if not templates:
            raise UsageError(
                f"'{assembly}' holds no *.template.json files: is it a cdk.out folder?"
            )
    return _told_apart(assembly, templates, displays)


def _told_apart(
    assembly: Path, templates: dict[Path, Template], displays: dict[Path, str]
) -> dict[Path, Template]:
    """``templates`` with each name that several of them share followed by the stack's
    construct path (from ``displays``): one stack name may be deployed to several accounts or
    Regions. Where that still leaves two rows one name (two cdk.out folders under a folder read
    without a manifest), the template's path under ``assembly`` tells them apart: rows are
    summed by name, so two stacks must never share one."""
    counts = Counter(template.name for template in templates.values())
    named = {
        path: f"{template.name} ({displays[path]})"
        if counts[template.name] > 1 and path in displays
        else template.name
        for path, template in templates.items()
    }
    repeated = Counter(named.values())
    return {
        path: Template(
            f"{template.name} ({os.path.relpath(path, assembly)})"
            if repeated[named[path]] > 1
            else named[path],
            template.region,
        )
        for path, template in templates.items()
    }


def _unlisted_templates(folder: Path, displays: dict[Path, str]) -> dict[Path, Template]:
    """The templates of ``folder``, which has no ``manifest.json``, folder by folder: every
    ``*.template.json`` under it, but in a folder that has a ``manifest.json`` (a cdk.out or a
    stage assembly left without the manifest above it) only those that manifest lists, as
    :func:`_listed_templates` finds them, so that a template an earlier synth left there is
    not counted. Each file's path under ``folder`` (or its stack's construct path) goes into
    ``displays``. A folder that cannot be read is an error naming it (``Path.rglob`` would skip
    it without a word)."""

    def refuse(error: OSError) -> None:
        raise from_os_error(error, f"read the folder '{error.filename or folder}'") from error

    found: dict[Path, Template] = {}
    for parent, subfolders, files in os.walk(folder, onerror=refuse):
        here = Path(parent)
        subfolders.sort()  # top-down, each folder's files before its subfolders'
        if here != folder and (here / "manifest.json").is_file():
            found.update(_listed_templates(here, displays))
            subfolders.clear()  # the manifest names the nested assemblies to read
            continue
        for name in sorted(files):
            if name.endswith(".template.json"):
                path = here / name
                found[path] = Template(name.removesuffix(".template.json"))
                displays[path] = str(path.relative_to(folder))
    return found


def _artifacts(manifest: Path) -> dict[str, dict[str, Any]]:
    """The ``artifacts`` of ``manifest``, each a JSON object: else an error naming the file."""
    artifacts: dict[str, dict[str, Any]] = _field(
        read_json(manifest, "manifest"), "artifacts", dict, f"the manifest '{manifest}'", {}
    )
    for artifact_id, artifact in artifacts.items():
        if not isinstance(artifact, dict):
            raise UsageError(
                f"the manifest '{manifest}': the artifact '{artifact_id}' must be a JSON object. "
                f"Received: {_shown(artifact)}"
            )
    return artifacts


def _listed_templates(directory: Path, displays: dict[Path, str]) -> dict[Path, Template]:
    """Templates named by ``directory/manifest.json``, following nested cloud assemblies; the
    construct path of each stack goes into ``displays``. A nested stack template has the Region
    of the stack that lists it (in its metadata, or in the asset manifest it depends on)."""
    manifest = directory / "manifest.json"
    artifacts = _artifacts(manifest)
    found: dict[Path, Template] = {}
    # Nested stack templates: (template file, ID of the artifact that lists it, where the file
    # is named for an error).
    nested: list[tuple[str, str, str]] = []
    regions: dict[str, str] = {}  # artifact ID -> Region of the stack it belongs to
    for artifact_id, artifact in artifacts.items():
        where = f"the manifest '{manifest}', artifact '{artifact_id}'"
        properties = _field(artifact, "properties", dict, where, {})
        kind = artifact.get("type")
        stack = _stack_template(directory, artifact_id, artifact)
        if stack is not None:
            path, template = stack
            found[path] = template
            displays[path] = str(artifact.get("displayName", artifact_id))
            regions[artifact_id] = template.region
            dependencies = _field(artifact, "dependencies", list, where, [])
            for dependency in dependencies:
                if not isinstance(dependency, str):
                    raise UsageError(
                        f"{where}: 'dependencies' must list artifact IDs. "
                        f"Received: {_shown(dependency)}"
                    )
                if artifacts.get(dependency, {}).get("type") == "cdk:asset-manifest":
                    regions[dependency] = template.region
            # The legacy synthesizer records nested stack templates as asset metadata.
            nested.extend(
                (source, artifact_id, source_where)
                for source, source_where in _asset_paths(artifact, where)
            )
        elif kind == "cdk:cloud-assembly" and "directoryName" in properties:
            name = _field(properties, "directoryName", str, where)
            found.update(
                _listed_templates(_inside(directory, name, "directoryName", where), displays)
            )
        elif kind == "cdk:asset-manifest" and "file" in properties:
            path = _inside(directory, _field(properties, "file", str, where), "file", where)
            where = f"the asset manifest '{path}'"
            files = _field(read_json(path, "asset manifest"), "files", dict, where, {})
            for asset_id, asset in files.items():
                asset_where = f"{where}, file asset '{asset_id}'"
                if not isinstance(asset, dict):
                    raise UsageError(
                        f"{asset_where} must be a JSON object. Received: {_shown(asset)}"
                    )
                source = _field(asset, "source", dict, asset_where, {})
                path_value = _field(source, "path", str, asset_where, "")
                nested.append((path_value, artifact_id, asset_where))
    for source, owner, source_where in nested:
        if source.endswith(".template.json"):
            found.setdefault(
                _inside(directory, source, "path", source_where),
                Template(source.removesuffix(".template.json"), regions.get(owner, UNKNOWN_REGION)),
            )
    return found


def _asset_paths(artifact: dict[str, Any], where: str) -> list[tuple[str, str]]:
    """The files of the ``aws:cdk:asset`` entries in a stack artifact's ``metadata``, each with
    where it is named (for an error)."""
    paths: list[tuple[str, str]] = []
    for construct, entries in _field(artifact, "metadata", dict, where, {}).items():
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise UsageError(
                f"{where}: 'metadata' '{construct}' must be a list of JSON objects. "
                f"Received: {_shown(entries)}"
            )
        for entry in entries:
            data = entry.get("data")
            if entry.get("type") == "aws:cdk:asset" and isinstance(data, dict) and "path" in data:
                asset_where = f"{where}, asset of '{construct}'"
                paths.append((_field(data, "path", str, asset_where), asset_where))
    return paths


def _stack_template(
    directory: Path, artifact_id: str, artifact: dict[str, Any]
) -> tuple[Path, Template] | None:
    """The template, stack name (default: the artifact ID) and Region of a stack artifact of
    ``directory/manifest.json``; None for any other artifact."""
    where = f"the manifest '{directory / 'manifest.json'}', artifact '{artifact_id}'"
    properties = _field(artifact, "properties", dict, where, {})
    if artifact.get("type") != "aws:cloudformation:stack" or "templateFile" not in properties:
        return None
    name = _field(properties, "stackName", str, where, artifact_id)
    template_file = _field(properties, "templateFile", str, where)
    return _inside(directory, template_file, "templateFile", where), Template(
        name, _region(directory, artifact_id, artifact.get("environment"))
    )


def _region(directory: Path, artifact_id: str, environment: Any) -> str:
    """The Region of a stack artifact's ``environment`` (``aws://ACCOUNT/REGION``);
    :data:`UNKNOWN_REGION` where the artifact has none."""
    if environment is None:
        return UNKNOWN_REGION
    account, _, region = (
        environment.removeprefix("aws://").partition("/")
        if isinstance(environment, str) and environment.startswith("aws://")
        else ("", "", "")
    )
    if not account or (region != UNKNOWN_REGION and not REGION.match(region)):
        raise UsageError(
            f"the manifest '{directory / 'manifest.json'}' gives the stack '{artifact_id}' "
            f"an environment that is not 'aws://ACCOUNT/REGION'. Received: {environment!r}"
        )
    return region


def stack_names(paths: Iterable[Path]) -> dict[Path, Template]:
    """Stack name and Region of each template, from the ``manifest.json`` next to it (stage
    templates are named after a hash); the file name, and no Region, where there is no
    manifest."""
    names: dict[Path, Template] = {}
    for path in paths:
        manifest_path = path.parent / "manifest.json"
        if path.parent not in {p.parent for p in names} and manifest_path.is_file():
            for artifact_id, artifact in _artifacts(manifest_path).items():
                stack = _stack_template(path.parent, artifact_id, artifact)
                if stack is not None:
                    names[stack[0]] = stack[1]
        names.setdefault(path, Template(path.name.removesuffix(".template.json")))
    return {path: names[path] for path in paths}


def priced_keys(templates: dict[Path, Template]) -> list[PricedKey]:
    """Every KMS key resource in ``templates`` (each with the name it is reported under and its
    Region, see :func:`assembly_templates`) with its monthly cost and partition."""
    result: list[PricedKey] = []
    for path, template in templates.items():
        resources = _field(
            read_json(path, "template"), "Resources", dict, f"the template '{path}'", {}
        )
        for logical_id, resource in sorted(resources.items()):
            where = f"the template '{path}', resource '{logical_id}'"
            if not isinstance(resource, dict):
                raise UsageError(f"{where} must be a JSON object. Received: {_shown(resource)}")
            if resource.get("Type") in KEY_TYPES:
                now, later = _price(resource, where)
                result.append(
                    PricedKey(
                        template=template.name,
                        logical_id=logical_id,
                        resource_type=resource["Type"],
                        monthly_usd=now,
                        max_monthly_usd=later,
                        partition=template.partition,
                    )
                )
    return result


@dataclass(frozen=True)
class CostSummary:
    """Every key found; the USD figures sum the priced ones (:attr:`PricedKey.priced`)."""

    keys: list[PricedKey]

    @property
    def priced(self) -> list[PricedKey]:
        return [k for k in self.keys if k.priced]

    @property
    def not_priced(self) -> list[PricedKey]:
        return [k for k in self.keys if not k.priced]

    @property
    def monthly_usd(self) -> Decimal:
        return sum((k.monthly_usd for k in self.priced), Decimal(0))

    @property
    def max_monthly_usd(self) -> Decimal:
        return sum((k.max_monthly_usd for k in self.priced), Decimal(0))

    def by_template(self) -> dict[str, tuple[int, Decimal, Decimal]]:
        """Keys, USD/month and USD/month after rotations of each template of priced keys."""
        rows: dict[str, tuple[int, Decimal, Decimal]] = {}
        for key in self.priced:
            count, now, later = rows.get(key.template, (0, Decimal(0), Decimal(0)))
            rows[key.template] = (count + 1, now + key.monthly_usd, later + key.max_monthly_usd)
        return rows

    def not_priced_by_template(self) -> dict[str, tuple[int, str]]:
        """Keys and partition of each template of keys that are not priced."""
        rows: dict[str, tuple[int, str]] = {}
        for key in self.not_priced:
            rows[key.template] = (rows.get(key.template, (0, ""))[0] + 1, key.partition)
        return rows

    def not_priced_by_partition(self) -> dict[str, tuple[int, str]]:
        """Keys that are not priced, and why, for each partition they are in."""
        counts = Counter(k.partition for k in self.not_priced)
        return {name: (n, not_priced_reason(name) or "") for name, n in counts.items()}


def summarize(assembly: Path) -> CostSummary:
    return CostSummary(priced_keys(assembly_templates(assembly)))
