"""pyproject.toml and environment.yml name the same dependencies with the same ranges."""

import re
import tomllib

import pytest

from conftest import COURSE_ROOT


def _normalise(requirement):
    name, spec = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", requirement).groups()
    return name.lower().replace("_", "-"), spec.replace(" ", "")


def _pyproject_requirements():
    project = tomllib.loads((COURSE_ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += extra
    return dict(_normalise(r) for r in requirements)


def _environment_requirements():
    text = (COURSE_ROOT / "environment.yml").read_text()
    pip_section = text.split("- pip:", 1)[1]
    lines = re.findall(r"^\s+-\s+(?!pip\b)(\S.*?)\s*(?:#.*)?$", pip_section, flags=re.M)
    return dict(_normalise(line.strip("\"'")) for line in lines)


def test_environment_yml_matches_pyproject():
    assert _environment_requirements() == _pyproject_requirements()


def test_environment_yml_pins_python_311():
    assert re.search(r"^\s+-\s+python=3\.11\s*$", (COURSE_ROOT / "environment.yml").read_text(), re.M)


@pytest.mark.parametrize("package, minimum", [("tensorflow-cpu", ">=2.16"), ("nbgrader", ">=0.9.6"),
                                              ("jupyterlab", ">=4"), ("ipywidgets", ">=8")])
def test_required_ranges(package, minimum):
    assert minimum in _pyproject_requirements()[package]


def test_autograder_is_not_installed_for_learners():
    project = tomllib.loads((COURSE_ROOT / "pyproject.toml").read_text())
    assert project["tool"]["setuptools"]["packages"] == ["gradclinic"]
