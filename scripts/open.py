#!/usr/bin/env python3
"""Open Gradient Clinic: the learner's one command, on Linux, macOS and Windows.

    scripts/open                (Linux, macOS)
    py scripts/open.py          (Windows PowerShell; python3 scripts/open.py works everywhere)

It checks this Python, creates (or repairs) the course environment and installs the course
into it, copies the released lessons into the learner's own workspace (new lessons only, never
over a learner's file), then starts JupyterLab there with nothing of the instructor's side:
no course nbgrader_config.py, no autograder on the kernels' path, no formgrader and no
create-assignment. Arguments it does not know go to JupyterLab (e.g. --no-browser --port 8890).

Only the standard library, and syntax old Pythons can parse, so it can tell a learner with
the wrong Python what to install instead of failing with a traceback.
"""

import argparse
import collections
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

COURSE_ROOT = Path(__file__).resolve().parent.parent
RELEASE_DIR = COURSE_ROOT / "lessons"
# The same range as requires-python in pyproject.toml (tests/test_launcher.py checks it).
SUPPORTED_PYTHONS = ((3, 11), (3, 12), (3, 13))
# TensorFlow's last build for Intel Macs is 2.16.2, made for Python 3.9 to 3.12.
INTEL_MAC_PYTHONS = ((3, 11), (3, 12))
RECOMMENDED_PYTHON = "3.12"
DEFAULT_EXTRAS = "instructor"  # jupytext: README's instructor path builds lessons in this environment
LESSON_FOLDER = re.compile(r"^\d\d_[A-Za-z0-9_]+$")
# Plugins and server extensions that belong to the instructor; learners keep the assignment
# list and Validate (the same split as scripts/setup-exchange makes for a class).
INSTRUCTOR_LAB_PLUGINS = ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                          "@jupyter/nbgrader:course-list")
INSTRUCTOR_SERVER_EXTENSIONS = ("nbgrader.server_extensions.formgrader",
                                "nbgrader.server_extensions.course_list")
# Variables that would point a learner's server or kernels at files outside the course
# environment (the course root on PYTHONPATH makes autograder importable).
FOREIGN_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "JUPYTER_PATH", "JUPYTER_CONFIG_PATH",
                     "JUPYTER_CONFIG_DIR", "JUPYTER_NO_CONFIG", "JUPYTERLAB_SETTINGS_DIR",
                     "JUPYTERLAB_WORKSPACES_DIR", "JUPYTERLAB_DIR")

ServerLaunch = collections.namedtuple("ServerLaunch", "argv env cwd")


class LauncherError(Exception):
    """A problem the learner can fix; its message says how."""


class Progress:
    """Numbered step lines with the time each step took, so a long first run is never silent."""

    def __init__(self, total_steps):
        self.total_steps = total_steps
        self.step_number = 0
        self.started = time.monotonic()
        self.step_started = self.started

    def step(self, text):
        self.step_number += 1
        self.step_started = time.monotonic()
        print("[{}/{}] {}".format(self.step_number, self.total_steps, text), flush=True)

    def say(self, text):
        print("      {} (at {:.1f} s)".format(text, time.monotonic() - self.started), flush=True)

    def done(self, text="done"):
        now = time.monotonic()
        print("      {} ({:.1f} s; {:.1f} s since start)".format(text, now - self.step_started, now - self.started),
              flush=True)


# ---------------------------------------------------------------- 1. the Python we were given

def python_problem(version_info, system, machine, executable="python"):
    """Why this Python cannot run the course (a message naming what to install), or None."""
    version = "{}.{}".format(*version_info[:2])
    found = "this is Python {}.{}.{} ({})".format(version_info[0], version_info[1], version_info[2], executable)
    if tuple(version_info[:2]) not in SUPPORTED_PYTHONS:
        reason = "Gradient Clinic needs Python 3.11 to 3.13; " + found + "."
    elif system == "Darwin" and machine == "x86_64" and tuple(version_info[:2]) not in INTEL_MAC_PYTHONS:
        reason = ("TensorFlow's last build for Intel Macs (2.16.2) runs on Python 3.11 and 3.12; "
                  + found + ".")
    else:
        return None
    return reason + "\n" + _install_advice(system)


def _install_advice(system):
    wanted = RECOMMENDED_PYTHON
    if system == "Windows":
        return ("Install Python {0} from https://www.python.org/downloads/ (or: winget install Python.Python.{0}),"
                " then run: py -{0} scripts\\open.py".format(wanted))
    if system == "Darwin":
        return ("Install Python {0} from https://www.python.org/downloads/ (or: brew install python@{0}),"
                " then run: python{0} scripts/open.py".format(wanted))
    return ("Install Python {0} with its venv module (Debian/Ubuntu: sudo apt install python{0} python{0}-venv;"
            " Fedora: sudo dnf install python{0}), then run: PYTHON=python{0} scripts/open"
            " (or python{0} scripts/open.py)".format(wanted))


# ---------------------------------------------------------------- 2. the course environment

def venv_python(venv):
    """The environment's interpreter: Scripts\\python.exe on Windows, bin/python elsewhere."""
    if os.name == "nt":
        return Path(venv) / "Scripts" / "python.exe"
    return Path(venv) / "bin" / "python"


def environment_problem(venv):
    """Why the environment at ``venv`` cannot be used as it is (missing, no pip, wrong Python), or None."""
    python = venv_python(venv)
    if not python.exists():
        return "it has no Python at {}".format(python)
    probe = "import sys, pip; print('%d.%d' % sys.version_info[:2])"
    try:
        answer = subprocess.run([str(python), "-c", probe], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                universal_newlines=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as error:
        return "its Python does not run ({})".format(error)
    if answer.returncode != 0:
        last_line = (answer.stderr.strip().splitlines() or ["no output"])[-1]
        return "its Python or pip does not work ({})".format(last_line)
    version = tuple(int(part) for part in answer.stdout.strip().split("."))
    if python_problem(version + (0,), platform.system(), platform.machine()) is not None:
        return "it was made with Python {}.{}, which the course cannot use here".format(*version)
    return None


def ensure_venv(venv, progress=None):
    """Create the environment, or rebuild it when it exists but is broken (e.g. made without pip)."""
    venv = Path(venv)
    if venv.exists():
        problem = environment_problem(venv)
        if problem is None:
            return "kept"
        if any(venv.iterdir()) and not (venv / "pyvenv.cfg").exists():  # never delete a folder we did not make
            raise LauncherError("{} is not a Python environment ({}); choose another folder with --venv"
                                .format(venv, problem))
        _say(progress, "the environment in {} is broken: {}; rebuilding it".format(venv, problem))
        try:
            shutil.rmtree(str(venv))
        except OSError as error:  # Windows: a JupyterLab still running from it holds its files
            raise LauncherError("could not remove the broken environment {} ({}); close what runs from it"
                                " (e.g. a JupyterLab) and run the launcher again".format(venv, error))
    _say(progress, "creating {} with Python {} ({})".format(venv, platform.python_version(), sys.executable))
    created = subprocess.run([sys.executable, "-m", "venv", str(venv)])
    problem = environment_problem(venv)
    if created.returncode != 0 or problem is not None:
        shutil.rmtree(str(venv), ignore_errors=True)  # never leave a half-made environment behind
        hint = ("On Debian/Ubuntu install the venv module first: sudo apt install python{}.{}-venv"
                .format(*sys.version_info[:2]) if sys.platform.startswith("linux") else
                "Reinstall Python from https://www.python.org/downloads/ (it includes venv and pip).")
        raise LauncherError("could not create a working environment in {} ({}).\n{}"
                            .format(venv, problem or "python -m venv failed", hint))
    return "created"


def install_stamp(extras, course_root=COURSE_ROOT):
    """The line the environment records after installing: pyproject.toml's hash and the extras.

    scripts/environment.sh used the same format, so environments it made stay valid."""
    digest = hashlib.sha256((Path(course_root) / "pyproject.toml").read_bytes()).hexdigest()[:16]
    return "{} [{}]".format(digest, extras)


def ensure_installed(venv, extras, progress=None, course_root=COURSE_ROOT, first_time=False):
    """Install the course (editable, with ``extras``) unless pyproject.toml is unchanged since."""
    stamp_file = Path(venv) / ".gradclinic-installed"
    wanted = install_stamp(extras, course_root)
    if stamp_file.exists() and wanted in stamp_file.read_text().splitlines():
        return "up to date"
    if first_time:
        _say(progress, "installing the course and its dependencies (TensorFlow, JupyterLab, nbgrader: several"
                       " hundred MB to download, about 2 GB on disk); the installer's output follows")
    else:
        _say(progress, "the course's requirements changed since the last install: updating; the installer's"
                       " output follows")
    install_course(str(venv_python(venv)), "{}[{}]".format(course_root, extras), progress)
    with open(str(stamp_file), "a") as stamp:
        stamp.write(wanted + "\n")
    return "installed"


def install_course(python, requirement, progress=None):
    """Install ``requirement`` into ``python``'s environment, showing the installer's own output
    (no --quiet: what it downloads and how far it got).

    uv installs and compiles TensorFlow's thousands of files in parallel: seconds where pip takes
    about a minute. pip installs uv into the environment first (uv has a wheel for every system
    the course serves); when that or uv fails, pip installs the course as before."""
    if subprocess.run([python, "-m", "pip", "install", "--quiet", "uv"]).returncode == 0:
        # --compile-bytecode: as pip does; without it every new kernel compiles TensorFlow's modules again
        # where it cannot write them (the grader's sandbox): a 5 s import becomes 15 s.
        uv = [python, "-m", "uv", "pip", "install", "--compile-bytecode", "--python", python, "-e", requirement]
        if subprocess.run(uv).returncode == 0:
            return "uv"
        _say(progress, "uv could not install the course; trying pip")
    for command in ([python, "-m", "pip", "install", "--upgrade", "pip"],
                    [python, "-m", "pip", "install", "-e", requirement]):
        if subprocess.run(command).returncode != 0:
            raise LauncherError("pip could not install the course; the lines above say why. Check the internet "
                                "connection and run the launcher again (what pip downloaded is kept in its cache).")
    return "pip"


def install_kernel_config(venv, course_root=COURSE_ROOT):
    """Put the course's IPython kernel configuration where every kernel of the environment reads
    it (etc/ipython in the environment, on every system): a lesson that uses TensorFlow starts
    importing it while JupyterLab draws the page. Written on every run (an environment made
    before it existed gets it too); pip cannot install it with an editable course."""
    text = (Path(course_root) / "gradclinic" / "kernel_config" / "ipython_kernel_config.py").read_text()
    target = Path(venv) / "etc" / "ipython" / "ipython_kernel_config.py"
    if not target.exists() or target.read_text() != text:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return target


# ---------------------------------------------------------------- 3. the learner's workspace

def default_workspace():
    """Where a learner's lesson copies live unless told otherwise: outside the course folder,
    so updating, re-cloning or cleaning the course never touches the learner's work."""
    return Path(os.environ.get("GRADCLINIC_WORKSPACE") or Path.home() / "gradient-clinic-work")


def workspace_problem(workspace, course_root=COURSE_ROOT):
    """Why ``workspace`` cannot hold a learner's work (it overlaps the course folder), or None.

    Inside the course its notebooks would be the course's tracked files; around it, a notebook
    opened from the course folder could import the instructor's autograder."""
    workspace, course_root = Path(workspace).resolve(), Path(course_root).resolve()
    if workspace == course_root or course_root in workspace.parents or workspace in course_root.parents:
        return ("the workspace {} overlaps the course folder {}: choose a folder outside it, e.g. --workspace {}"
                .format(workspace, course_root, Path.home() / "gradient-clinic-work"))
    return None


def released_lessons(release_dir):
    return sorted(path.name for path in Path(release_dir).iterdir() if path.is_dir() and LESSON_FOLDER.match(path.name))


def ensure_workspace(workspace, release_dir=None):
    """Copy every released lesson the workspace does not have yet; return the names copied.

    A lesson folder already in the workspace is never touched, so a learner's edits survive
    course updates; deleting a lesson's folder brings a fresh copy on the next run."""
    workspace, release_dir = Path(workspace), Path(release_dir or RELEASE_DIR)
    workspace.mkdir(parents=True, exist_ok=True)
    copied = []
    for lesson in released_lessons(release_dir):
        target = workspace / lesson
        if target.exists():
            continue
        partial = workspace / ".{}.partial".format(lesson)  # renamed when complete: no half-copied lesson
        shutil.rmtree(str(partial), ignore_errors=True)
        shutil.copytree(str(Path(release_dir) / lesson), str(partial),
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        os.rename(str(partial), str(target))
        copied.append(lesson)
    return copied


# ---------------------------------------------------------------- 4. the learner's Jupyter server

def learner_config_dir(venv):
    """The Jupyter configuration the launcher writes for learners' servers (inside the environment)."""
    return Path(venv) / "etc" / "gradclinic-learner"


def write_learner_config(config_dir):
    """Jupyter configuration for a learner: the instructor's extensions off, the course's on, Validate with the
    course's timeout."""
    config_dir = Path(config_dir)
    (config_dir / "labconfig").mkdir(parents=True, exist_ok=True)
    files = {
        "jupyter_server_config.json": {
            # A lesson opened by its address starts its kernel while JupyterLab loads (gradclinic.early_kernel).
            "ServerApp": {"jpserver_extensions": {**{name: False for name in INSTRUCTOR_SERVER_EXTENSIONS},
                                                  "gradclinic.early_kernel": True}},
            # Lab's extension manager would query PyPI and offer installs: the course runs offline.
            "LabApp": {"extension_manager": "readonly"},
        },
        "labconfig/page_config.json": {"disabledExtensions": {name: True for name in INSTRUCTOR_LAB_PLUGINS}},
        # Validate runs TensorFlow cells: nbgrader's 30 s default is too short (as in nbgrader_config.py).
        "nbgrader_config.json": {"Execute": {"timeout": 300}},
    }
    for name, content in files.items():
        (config_dir / name).write_text(json.dumps(content, indent=2) + "\n")
    return config_dir


def learner_server(python, workspace, config_dir, jupyter_args=()):
    """The command, environment and folder that start a learner's JupyterLab.

    The server's folder is the workspace (nbgrader reads nbgrader_config.py from there, and
    puts it on sys.path), its configuration comes first from ``config_dir``, and nothing on
    PYTHONPATH: so no course nbgrader_config.py, no autograder, no instructor extensions."""
    workspace, config_dir = Path(workspace).resolve(), Path(config_dir).resolve()
    env = {name: value for name, value in os.environ.items() if name not in FOREIGN_VARIABLES}
    env.update({
        "JUPYTER_CONFIG_DIR": str(config_dir),
        "JUPYTER_CONFIG_PATH": str(config_dir),  # first in the search path: these settings win over any other file
        "JUPYTER_PREFER_ENV_PATH": "1",  # the environment's python3 kernel before one in the learner's home
        "JUPYTERLAB_SETTINGS_DIR": str(workspace / ".jupyter" / "lab" / "user-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(workspace / ".jupyter" / "lab" / "workspaces"),
        # Terminals and `!pip` in a notebook use the course environment.
        "PATH": os.pathsep.join([str(Path(python).parent), env.get("PATH", "")]),
    })
    argv = [str(python), "-m", "jupyterlab", "--ServerApp.root_dir={}".format(workspace)]
    if getattr(os, "geteuid", lambda: None)() == 0:  # a container or WSL's default user: Jupyter refuses root unless told
        argv.append("--allow-root")
    return ServerLaunch(argv + list(jupyter_args), env, str(workspace))


def start_server(launch):
    """Run JupyterLab in this process's place (POSIX) or as a child we wait for (Windows)."""
    if os.name != "nt":
        os.chdir(launch.cwd)
        os.execve(launch.argv[0], launch.argv, launch.env)
    child = subprocess.Popen(launch.argv, env=launch.env, cwd=launch.cwd)
    while True:
        try:
            return child.wait()
        except KeyboardInterrupt:  # JupyterLab gets the Ctrl-C too and asks to confirm
            continue


# ---------------------------------------------------------------- the command

def _say(progress, text):
    if progress:
        progress.say(text)
    else:
        print(text, flush=True)


def parse_arguments(argv):
    parser = argparse.ArgumentParser(
        prog="scripts/open", allow_abbrev=False, description="Open Gradient Clinic in JupyterLab, in your own workspace.",
        epilog="Other arguments go to JupyterLab, e.g. --no-browser --port 8890.")
    parser.add_argument("--workspace", type=Path, default=None,
                        help="your folder of lesson copies (default: $GRADCLINIC_WORKSPACE or ~/gradient-clinic-work)")
    parser.add_argument("--venv", type=Path, default=Path(os.environ.get("GRADCLINIC_VENV") or COURSE_ROOT / ".venv"),
                        help="the course environment (default: $GRADCLINIC_VENV or .venv in the course folder)")
    parser.add_argument("--extras", default=DEFAULT_EXTRAS, help="pip extras to install (scripts/test: test,instructor)")
    parser.add_argument("--environment-only", action="store_true",
                        help="create or update the environment, then stop (scripts/test uses this)")
    return parser.parse_known_args(argv)


def main(argv=None):
    options, jupyter_args = parse_arguments(sys.argv[1:] if argv is None else argv)
    options.venv = options.venv.expanduser().resolve()
    progress = Progress(2 if options.environment_only else 4)
    try:
        progress.step("Checking Python {} at {}".format(platform.python_version(), sys.executable))
        problem = python_problem(sys.version_info, platform.system(), platform.machine(), sys.executable)
        if problem:
            raise LauncherError(problem)
        progress.done("supported on {} {}".format(platform.system(), platform.machine()))

        progress.step("Course environment in {}".format(options.venv))
        made = ensure_venv(options.venv, progress)
        installed = ensure_installed(options.venv, options.extras, progress, first_time=made == "created")
        install_kernel_config(options.venv)
        progress.done("environment {}, course {}".format(made, installed))
        if options.environment_only:
            return 0

        workspace = (options.workspace or default_workspace()).expanduser().resolve()
        progress.step("Your workspace: {}".format(workspace))
        if workspace_problem(workspace):
            raise LauncherError(workspace_problem(workspace))
        copied = ensure_workspace(workspace)
        if not copied:
            progress.done("no new lessons; your files are as you left them")
        else:
            progress.done("{} new lesson{}: {}".format(len(copied), "s" if len(copied) > 1 else "", ", ".join(copied)))

        progress.step("Starting JupyterLab in your workspace (Ctrl-C to stop it); open 00_welcome/00_welcome.ipynb")
        config_dir = write_learner_config(learner_config_dir(options.venv))
        return start_server(learner_server(venv_python(options.venv), workspace, config_dir, jupyter_args))
    except LauncherError as error:
        print("error: {}".format(error), file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("\nstopped; run the launcher again to carry on where it stopped", file=sys.stderr, flush=True)
        return 130


if __name__ == "__main__":
    sys.exit(main())
