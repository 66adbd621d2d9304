"""The dependencies: pyproject.toml and environment.yml say the same, and they install on every
platform and Python the course supports (binary wheels only, resolved against PyPI)."""

import subprocess
import time
import tomllib

import pytest
import yaml
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from conftest import COURSE_ROOT

# uv's name for each platform a learner may have (uv evaluates markers for the target platform,
# as pip's --platform does not), and the environment markers see there.
PLATFORMS = {
    "Linux x86-64": ("x86_64-manylinux_2_28", {"sys_platform": "linux", "platform_system": "Linux",
                                               "platform_machine": "x86_64"}),
    "Linux aarch64": ("aarch64-manylinux_2_28", {"sys_platform": "linux", "platform_system": "Linux",
                                                 "platform_machine": "aarch64"}),
    "macOS arm64": ("aarch64-apple-darwin", {"sys_platform": "darwin", "platform_system": "Darwin",
                                             "platform_machine": "arm64"}),
    "macOS x86-64": ("x86_64-apple-darwin", {"sys_platform": "darwin", "platform_system": "Darwin",
                                             "platform_machine": "x86_64"}),
    "Windows x86-64": ("x86_64-pc-windows-msvc", {"sys_platform": "win32", "platform_system": "Windows",
                                                  "platform_machine": "AMD64"}),
}
# TensorFlow's last Intel-Mac build (2.16.2) has no Python 3.13 wheel; scripts/open.py refuses that pair.
UNSUPPORTED = {("macOS x86-64", "3.13")}


def _project():
    return tomllib.loads((COURSE_ROOT / "pyproject.toml").read_text())["project"]


def _supported_pythons():
    """Every Python 3 minor version requires-python admits (3.11 … 3.13)."""
    requires_python = SpecifierSet(_project()["requires-python"])
    return [f"3.{minor}" for minor in range(0, 30) if f"3.{minor}" in requires_python]


def _by_name(requirements, where):
    """Requirements keyed by their PEP 503 name; one name listed twice must say the same both times."""
    keyed = {}
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        assert keyed.get(name, requirement) == requirement, f"{where}: {name} listed twice with different ranges"
        keyed[name] = requirement
    return keyed


def _pyproject_requirements():
    project = _project()
    lines = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        lines += extra
    return _by_name((Requirement(line) for line in lines), "pyproject.toml")


def _environment_pip_section():
    environment = yaml.safe_load((COURSE_ROOT / "environment.yml").read_text())
    pip_sections = [item["pip"] for item in environment["dependencies"] if isinstance(item, dict) and "pip" in item]
    assert len(pip_sections) == 1, "environment.yml needs exactly one pip: section"
    return pip_sections[0]


def _environment_requirements():
    lines = [line for line in _environment_pip_section() if not line.startswith(("-e", "."))]
    return _by_name((Requirement(line) for line in lines), "environment.yml")


def _comparable(requirement):
    """What must agree: PEP 503 name, extras, version ranges (as a set) and the marker."""
    return (canonicalize_name(requirement.name), sorted(requirement.extras),
            sorted(str(spec) for spec in requirement.specifier), str(requirement.marker))


def test_environment_yml_matches_pyproject():
    environment = {name: _comparable(r) for name, r in _environment_requirements().items()}
    pyproject = {name: _comparable(r) for name, r in _pyproject_requirements().items()}
    assert environment == pyproject


def test_environment_yml_installs_the_toolkit():
    assert "-e ." in [line.strip() for line in _environment_pip_section()]


def test_environment_yml_python_is_supported_everywhere():
    environment = yaml.safe_load((COURSE_ROOT / "environment.yml").read_text())
    pins = [item for item in environment["dependencies"] if isinstance(item, str) and item.startswith("python")]
    assert len(pins) == 1, "environment.yml must name one python"
    version = pins[0].removeprefix("python=")
    assert version in _supported_pythons(), f"python={version} is outside requires-python"
    assert all((platform, version) not in UNSUPPORTED for platform in PLATFORMS)


@pytest.mark.parametrize("package, minimum", [("tensorflow-cpu", ">=2.16"), ("tensorflow", ">=2.16"),
                                              ("nbgrader", ">=0.9.6"), ("jupyterlab", ">=4"), ("ipywidgets", ">=8")])
def test_required_ranges(package, minimum):
    assert minimum in [str(spec) for spec in _pyproject_requirements()[package].specifier]


@pytest.mark.parametrize("platform_name", PLATFORMS)
def test_exactly_one_tensorflow_build_per_platform(platform_name):
    """The markers pick the CPU build on x86-64 (where it ships) and the full build elsewhere."""
    environment = {**default_environment(), **PLATFORMS[platform_name][1]}
    chosen = [name for name, requirement in _pyproject_requirements().items()
              if name in ("tensorflow", "tensorflow-cpu") and requirement.marker.evaluate(environment)]
    expected = "tensorflow-cpu" if environment["platform_machine"] in ("x86_64", "AMD64") else "tensorflow"
    assert chosen == [expected]


def test_requires_python_admits_311_to_313():
    """3.11: nbgrader 0.9.6 requires it; 3.13: the newest Python TensorFlow 2.21 ships wheels for."""
    assert _supported_pythons() == ["3.11", "3.12", "3.13"]


def _combinations():
    for platform_name in PLATFORMS:
        for python in _supported_pythons():
            yield pytest.param(platform_name, python, id=f"{platform_name}-py{python}".replace(" ", "_"))


@pytest.mark.parametrize("platform_name, python", _combinations())
def test_dependencies_resolve_from_wheels(platform_name, python, tmp_path):
    """pyproject.toml with every extra resolves on PyPI for this platform and Python, wheels only.

    One uv process per combination (about 1 s each once uv's cache is warm); dry run, so
    nothing is installed. A combination in UNSUPPORTED must fail, so the launcher's refusal
    stays true."""
    from uv import find_uv_bin

    uv_platform = PLATFORMS[platform_name][0]
    command = [find_uv_bin(), "pip", "install", "--dry-run", "--no-config", "--color", "never",
               "--only-binary", ":all:", "--python-platform", uv_platform, "--python-version", python,
               "--target", str(tmp_path / "target"), "-r", str(COURSE_ROOT / "pyproject.toml"), "--all-extras"]
    started = time.monotonic()
    resolution = subprocess.run(command, capture_output=True, text=True, timeout=600)
    seconds = time.monotonic() - started
    said = resolution.stdout + resolution.stderr
    if (platform_name, python) in UNSUPPORTED:
        assert resolution.returncode != 0, f"{platform_name} with Python {python} now resolves: support it"
        assert "tensorflow" in said and "No solution found" in said, said[-3000:]
        return
    assert resolution.returncode == 0, f"{platform_name}, Python {python}: no resolution ({seconds:.1f} s)\n{said[-3000:]}"
    assert "tensorflow" in said, said[-3000:]


def test_autograder_is_not_installed_for_learners():
    project = tomllib.loads((COURSE_ROOT / "pyproject.toml").read_text())
    assert project["tool"]["setuptools"]["packages"] == ["gradclinic"]
