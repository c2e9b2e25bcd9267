"""Packaging: the runtime install pulls no test or orchestration tool, and the lock file pins everything.

docs/development.md describes the layout these tests hold the project to.
"""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
CONSTRAINTS = ROOT / "constraints.txt"

# Tools a user of `kedro run` or of the served model never needs.
TOOLS = {
    "pytest",
    "ruff",
    "nbclient",
    "nbformat",
    "jupyterlab",
    "ipykernel",
    "optuna",
    "kedro-viz",
    "kedro-dagster",
    "dagster",
    "dagster-webserver",
    "dagster-dg-cli",
    "dagster-mlflow",
    "dagster-dask",
    "dask",
    "distributed",
}


def locked_versions() -> dict[str, str]:
    pins = {}
    for line in CONSTRAINTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        specifiers = list(requirement.specifier)
        assert len(specifiers) == 1 and specifiers[0].operator == "==", (
            f"constraints.txt: '{line}' is not a pin"
        )
        pins[canonicalize_name(requirement.name)] = specifiers[0].version
    return pins


def runtime_closure(requirements: list[str]) -> set[str]:
    """Every distribution that installing ``requirements`` (no extras of ours) pulls in, transitively,
    read from the installed distributions' metadata."""
    environment = default_environment()
    seen: set[str] = set()
    pending = [(Requirement(text), "") for text in requirements]
    while pending:
        requirement, extra = pending.pop()
        if requirement.marker and not requirement.marker.evaluate({**environment, "extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        for wanted_extra in [""] + sorted(requirement.extras):
            key = f"{name}[{wanted_extra}]"
            if key in seen:
                continue
            seen.add(key)
            try:
                requires = metadata.requires(name) or []
            except metadata.PackageNotFoundError:
                continue
            pending.extend((Requirement(text), wanted_extra) for text in requires)
    return {key.split("[")[0] for key in seen}


def test_runtime_dependencies_pull_no_tool():
    pulled = runtime_closure(PYPROJECT["dependencies"])
    assert "torch" in pulled and "kedro-mlflow" in pulled  # the closure was really followed
    assert sorted(pulled & TOOLS) == []


def test_every_tool_the_tests_use_is_in_the_dev_extra():
    extras = PYPROJECT["optional-dependencies"]
    named = {
        canonicalize_name(Requirement(text).name)
        for group in extras.values()
        for text in group
        if not text.startswith("fsigenz")
    }
    assert TOOLS <= named | {"distributed"}  # dask[distributed] brings distributed
    (dev_self,) = [Requirement(text) for text in extras["dev"] if text.startswith("fsigenz")]
    assert set(dev_self.extras) == set(extras) - {"dev"}  # dev = every other extra + test tools


def test_lock_file_pins_every_dependency_and_agrees_with_pyproject():
    pins = locked_versions()
    requirements = list(PYPROJECT["dependencies"]) + [
        text for group in PYPROJECT["optional-dependencies"].values() for text in group
    ]
    for text in requirements:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        if name == "fsigenz":
            continue
        assert name in pins, f"constraints.txt has no pin for {name} (run make lock)"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"pyproject.toml asks for {text}, constraints.txt pins {name}=={pins[name]}"
        )
    assert "fsigenz" not in pins


def test_installed_versions_are_the_locked_ones():
    """The environment running the tests was installed through the lock file (make setup-dev)."""
    if not CONSTRAINTS.is_file():
        pytest.fail("constraints.txt is missing")
    mismatched = {}
    for name, version in locked_versions().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            mismatched[name] = (version, "not installed")
            continue
        if installed != version:
            mismatched[name] = (version, installed)
    assert mismatched == {}, "locked vs installed; rerun make setup-dev"
