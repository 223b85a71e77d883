"""pyproject.toml's floors are what CI tests: .ci/floors.txt pins every direct dependency to exactly
its floor, .ci/floors runs the tests on the Python floor, and under that run the pins are installed."""

import os
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest

packaging_requirements = pytest.importorskip("packaging.requirements")
packaging_utils = pytest.importorskip("packaging.utils")
packaging_version = pytest.importorskip("packaging.version")
if sys.version_info >= (3, 11):
    import tomllib
else:
    tomllib = pytest.importorskip("tomli")

REPO_ROOT = Path(__file__).resolve().parent.parent
FLOORS_FILE = REPO_ROOT / ".ci" / "floors.txt"
FLOORS_SCRIPT = REPO_ROOT / ".ci" / "floors"


def _project():
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]


def _floor(specifier_set, where):
    """The version of the one ``>=`` in a requirement's specifier (the floor)."""
    lower = [spec.version for spec in specifier_set if spec.operator == ">="]
    assert len(lower) == 1, f"{where}: expected one '>=' floor, got '{specifier_set}'"
    return packaging_version.Version(lower[0])


def declared_floors():
    """{normalized name: floor Version} over the dependencies and every extra (all must agree)."""
    project = _project()
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += extra
    floors = {}
    for text in requirements:
        requirement = packaging_requirements.Requirement(text)
        name = packaging_utils.canonicalize_name(requirement.name)
        floor = _floor(requirement.specifier, text)
        assert floors.setdefault(name, floor) == floor, f"{name}: two different floors in pyproject.toml"
    return floors


def pinned_floors():
    """{normalized name: Version} from the name==version lines of .ci/floors.txt."""
    pins = {}
    for line in FLOORS_FILE.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([0-9][0-9A-Za-z.]*)", line)
        assert match, f".ci/floors.txt: '{line}' is not NAME==VERSION"
        pins[packaging_utils.canonicalize_name(match.group(1))] = packaging_version.Version(match.group(2))
    return pins


def test_every_floor_is_pinned_for_ci_and_every_pin_is_a_floor():
    declared, pinned = declared_floors(), pinned_floors()
    assert sorted(declared) == sorted(pinned), "pyproject.toml and .ci/floors.txt name different packages"
    different = {name: (str(declared[name]), str(pinned[name])) for name in declared if declared[name] != pinned[name]}
    assert not different, f"pyproject.toml floor vs .ci/floors.txt pin: {different}"


def test_ci_floors_run_uses_the_python_floor():
    floor = _project()["requires-python"]
    match = re.fullmatch(r">=\s*(3\.\d+)", floor)
    assert match, f"requires-python '{floor}' is not '>=3.N'"
    assert f'FLOORS_PYTHON_VERSION="{match.group(1)}"' in FLOORS_SCRIPT.read_text()


@pytest.mark.skipif(os.environ.get("BOOSTFOCAL_FLOORS") != "1", reason="only in the run of .ci/floors")
def test_the_floors_run_has_the_pinned_versions_installed():
    installed = {name: packaging_version.Version(metadata.version(name)) for name in pinned_floors()}
    assert installed == pinned_floors()
