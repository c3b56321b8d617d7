"""The distribution holds every module, without relying on a symlink, and has one version."""

from __future__ import annotations

import importlib.metadata
import subprocess
import tomllib
from pathlib import Path

import hookgate

ROOT = Path(__file__).resolve().parents[2]


def _pyproject() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)


def test_every_package_under_services_is_listed() -> None:
    # setuptools cannot discover packages under a renamed directory, so the list is explicit; a new
    # sub-package that is not listed would be missing from the wheel.
    setuptools = _pyproject()["tool"]["setuptools"]  # type: ignore[index]
    assert setuptools["package-dir"] == {"hookgate": "services"}
    on_disk = {
        ".".join(("hookgate", *init.parent.relative_to(ROOT / "services").parts))
        for init in (ROOT / "services").rglob("__init__.py")
    }
    assert set(setuptools["packages"]) == on_disk


def test_no_tracked_symlinks() -> None:
    # A checkout with core.symlinks=false turns links into text files; nothing may depend on one.
    staged = subprocess.run(["git", "ls-files", "-s"], cwd=ROOT, capture_output=True, text=True, check=True)
    links = [line.split("\t", 1)[1] for line in staged.stdout.splitlines() if line.startswith("120000")]
    assert links == []


def test_one_version_source() -> None:
    project = _pyproject()["project"]
    assert "version" not in project  # type: ignore[operator]
    assert project["dynamic"] == ["version"]  # type: ignore[index]
    assert importlib.metadata.version("hookgate") == hookgate.__version__
