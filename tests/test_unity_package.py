"""The Unity package is a complete UPM package: licence, changelog, a Tests folder
whose NUnit edit-mode tests pass against the Runtime code, and a .meta (with its own GUID)
for every asset, as Unity requires of an immutable package."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "bridge_unity"
STUB = ROOT / "tests" / "unity_stub"


def test_package_has_licence_changelog_and_tests() -> None:
    for name in ("LICENSE.md", "CHANGELOG.md", "README.md"):
        assert (PACKAGE / name).is_file(), name
    licence = (PACKAGE / "LICENSE.md").read_text()
    assert "Apache License" in licence and "Version 2.0, January 2004" in licence
    version = json.loads((PACKAGE / "package.json").read_text())["version"]
    assert re.search(rf"^## \[{re.escape(version)}\]", (PACKAGE / "CHANGELOG.md").read_text(),
                     re.M), f"CHANGELOG.md has no entry for package.json's version {version}"
    asmdef = json.loads((PACKAGE / "Tests/Editor/Facewire.LiveLink.Tests.asmdef").read_text())
    assert "Facewire.LiveLink" in asmdef["references"]
    assert asmdef["includePlatforms"] == ["Editor"]
    assert "UNITY_INCLUDE_TESTS" in asmdef["defineConstraints"]


def test_every_asset_has_a_meta_with_a_unique_guid() -> None:
    assets = [p for p in PACKAGE.rglob("*") if p.suffix != ".meta"
              and "Samples~" not in p.parts and p.name != "package.json.meta"]
    missing = [str(p.relative_to(PACKAGE)) for p in assets
               if not p.with_name(p.name + ".meta").exists()]
    assert not missing, f"assets without .meta: {missing}"
    guids = [re.search(r"^guid: ([0-9a-f]{32})$", m.read_text(), re.M)
             for m in PACKAGE.rglob("*.meta")]
    assert all(guids)
    values = [g.group(1) for g in guids if g]
    assert len(values) == len(set(values)), "two assets share a GUID"


@pytest.mark.skipif(shutil.which("mcs") is None or shutil.which("nunit-console") is None,
                    reason="needs mono-mcs and NUnit (apt-get install mono-mcs "
                           "libnunit-cil-dev nunit-console)")
def test_the_packages_nunit_tests_pass_against_its_runtime(tmp_path: Path) -> None:
    def mcs(*args: str) -> None:
        proc = subprocess.run(["mcs", "-nologo", "-warnaserror+", *args], capture_output=True,
                              text=True, timeout=120, cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout + proc.stderr

    mcs("-target:library", "-out:UnityEngine.dll", str(STUB / "UnityEngine.cs"))
    sources = sorted(str(p) for p in [*(PACKAGE / "Runtime").glob("*.cs"),
                                      *(PACKAGE / "Tests/Editor").glob("*.cs")])
    mcs("-target:library", "-r:UnityEngine.dll", "-pkg:nunit", "-out:tests.dll", *sources)
    proc = subprocess.run(["nunit-console", "-nologo", "tests.dll"], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    summary = re.search(r"Tests run: (\d+), Errors: (\d+), Failures: (\d+)", proc.stdout)
    assert summary, proc.stdout + proc.stderr
    run, errors, failures = map(int, summary.groups())
    assert (errors, failures) == (0, 0), proc.stdout
    assert run >= 10 and proc.returncode == 0
