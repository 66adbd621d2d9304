"""scripts/open.py, the learner's launcher: the Python it accepts, the environment it repairs, the
workspace it keeps, and a learner's Jupyter server with nothing of the instructor's side in it
(started exactly as the launcher starts it), beside the instructor's own `jupyter lab`."""

import ast
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from bench.browser import LAUNCHER_PATH, course_launcher
from conftest import COURSE_ROOT

launcher = course_launcher()

TOKEN = "gradclinic-test-token"
# Run in a kernel: can it import the instructor's package, and where does it look for modules?
PROBE = """
import json, os, sys
try:
    import autograder
    outcome = "imported from " + autograder.__file__
except ModuleNotFoundError as error:
    outcome = "ModuleNotFoundError: " + str(error)
print(json.dumps({"autograder": outcome, "sys_path": [os.path.abspath(p) for p in sys.path],
                  "cwd": os.getcwd(), "pythonpath": os.environ.get("PYTHONPATH", ""),
                  "session": os.environ.get("JPY_SESSION_NAME")}))
"""


# ---------------------------------------------------------------- the Python it accepts

def test_supported_pythons_are_requires_python():
    requires_python = SpecifierSet(tomllib.loads((COURSE_ROOT / "pyproject.toml").read_text())
                                   ["project"]["requires-python"])
    admitted = tuple((3, minor) for minor in range(30) if f"3.{minor}" in requires_python)
    assert launcher.SUPPORTED_PYTHONS == admitted


def test_launcher_parses_on_old_pythons():
    """An old Python must reach the version check and say what to install, not fail on syntax."""
    ast.parse(LAUNCHER_PATH.read_text(), feature_version=(3, 6))


@pytest.mark.parametrize("version, system, machine, expected", [
    ((3, 11, 7), "Linux", "x86_64", None),
    ((3, 13, 0), "Darwin", "arm64", None),
    ((3, 12, 1), "Darwin", "x86_64", None),
    ((3, 13, 0), "Windows", "AMD64", None),
    ((3, 10, 13), "Linux", "aarch64", "needs Python 3.11 to 3.13; this is Python 3.10.13"),
    ((3, 10, 13), "Linux", "aarch64", "sudo apt install python3.12 python3.12-venv"),
    ((3, 14, 0), "Windows", "AMD64", "py -3.12 scripts\\open.py"),
    ((3, 9, 6), "Darwin", "arm64", "brew install python@3.12"),
    ((3, 13, 0), "Darwin", "x86_64", "TensorFlow's last build for Intel Macs (2.16.2) runs on Python 3.11 and 3.12"),
])
def test_python_check(version, system, machine, expected):
    problem = launcher.python_problem(version, system, machine, "/usr/bin/python3")
    if expected is None:
        assert problem is None
    else:
        assert problem is not None and expected in problem


def test_unsupported_python_stops_before_making_anything(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(sys, "version_info", (3, 10, 4, "final", 0))
    assert launcher.main(["--environment-only", "--venv", str(tmp_path / "venv")]) == 1
    assert "needs Python 3.11 to 3.13; this is Python 3.10.4" in capsys.readouterr().err
    assert not (tmp_path / "venv").exists()


# ---------------------------------------------------------------- the environment it repairs

def test_half_made_environment_is_rebuilt(tmp_path):
    """A venv without pip (what `python -m venv` leaves when python3-venv is missing) is rebuilt."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    assert "pip does not work" in launcher.environment_problem(venv)
    assert launcher.ensure_venv(venv) == "created"
    assert launcher.environment_problem(venv) is None
    assert launcher.ensure_venv(venv) == "kept"


def test_a_folder_that_is_not_an_environment_is_never_deleted(tmp_path):
    precious = tmp_path / "not-a-venv"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    with pytest.raises(launcher.LauncherError, match="not a Python environment"):
        launcher.ensure_venv(precious)
    assert (precious / "thesis.tex").read_text() == "years of work"


def test_install_is_skipped_only_while_pyproject_is_unchanged(tmp_path):
    course, venv = tmp_path / "course", tmp_path / "venv"
    course.mkdir(), venv.mkdir()
    (course / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (venv / ".gradclinic-installed").write_text(launcher.install_stamp("instructor", course) + "\n")
    assert launcher.ensure_installed(venv, "instructor", course_root=course) == "up to date"
    (course / "pyproject.toml").write_text("[project]\nname = 'x'\nversion = '2'\n")
    assert launcher.install_stamp("instructor", course) not in (venv / ".gradclinic-installed").read_text()



@pytest.mark.parametrize("uv_fails_at", ["getting uv", "installing"])
def test_pip_installs_the_course_where_uv_cannot(uv_fails_at, monkeypatch):
    ran, installs = [], []

    def run(command, **kwargs):
        ran.append(" ".join(command[1:4]))
        installs.append(command)
        failed = {"getting uv": command[-1] == "uv", "installing": command[2] == "uv"}[uv_fails_at]
        return subprocess.CompletedProcess(command, int(failed))

    monkeypatch.setattr(launcher.subprocess, "run", run)
    assert launcher.install_course("python", "course[test]") == "pip"
    tried_uv = ["-m pip install"] + (["-m uv pip"] if uv_fails_at == "installing" else [])
    assert ran == tried_uv + ["-m pip install", "-m pip install"]
    assert installs[-1][-2:] == ["-e", "course[test]"]


def test_uv_installs_the_course_where_it_can(monkeypatch):
    ran = []
    monkeypatch.setattr(launcher.subprocess, "run",
                        lambda command, **kwargs: ran.append(command) or subprocess.CompletedProcess(command, 0))
    assert launcher.install_course("python", "course[test]") == "uv"
    assert ran[-1] == ["python", "-m", "uv", "pip", "install", "--compile-bytecode", "--python", "python",
                       "-e", "course[test]"]


def test_the_kernel_configuration_goes_where_the_environments_kernels_read_it(tmp_path):
    from IPython.core.application import ENV_CONFIG_DIRS

    target = launcher.install_kernel_config(tmp_path / "venv")
    assert "preload_tensorflow()" in target.read_text()
    # IPython reads etc/ipython under its environment: this one's, for the environment tested here
    assert target.parent == tmp_path / "venv" / "etc" / "ipython"
    assert ENV_CONFIG_DIRS == [str(Path(sys.prefix) / "etc" / "ipython")]

# ---------------------------------------------------------------- the workspace it keeps

def _fake_release(root, lessons):
    for lesson in lessons:
        (root / lesson).mkdir(parents=True, exist_ok=True)
        (root / lesson / f"{lesson}.ipynb").write_text(json.dumps({"lesson": lesson, "version": 1}))
    return root


def test_workspace_keeps_learner_work_and_adds_new_lessons(tmp_path):
    release = _fake_release(tmp_path / "lessons", ["00_welcome", "01_the_problem"])
    (release / "README.md").write_text("not a lesson")
    workspace = tmp_path / "work"

    assert launcher.ensure_workspace(workspace, release) == ["00_welcome", "01_the_problem"]
    learner_file = workspace / "01_the_problem" / "01_the_problem.ipynb"
    learner_file.write_text("the learner's answers")
    (workspace / "01_the_problem" / "notes.txt").write_text("mine")

    # A course update: lesson 01 changed upstream, lesson 02 is new.
    (release / "01_the_problem" / "01_the_problem.ipynb").write_text("version 2 of the release")
    _fake_release(release, ["02_causes_and_detection"])
    assert launcher.ensure_workspace(workspace, release) == ["02_causes_and_detection"]

    assert learner_file.read_text() == "the learner's answers"
    assert (workspace / "01_the_problem" / "notes.txt").read_text() == "mine"
    assert (workspace / "02_causes_and_detection" / "02_causes_and_detection.ipynb").exists()
    assert not (workspace / "README.md").exists()
    assert sorted(path.name for path in workspace.iterdir()) == [
        "00_welcome", "01_the_problem", "02_causes_and_detection"]  # no .partial left behind
    assert launcher.ensure_workspace(workspace, release) == []


@pytest.mark.parametrize("place", [".", "lessons", ".."])
def test_workspace_never_overlaps_the_course(place):
    """Inside the course it would be tracked files; around it, notebooks could reach autograder/."""
    assert "overlaps the course folder" in launcher.workspace_problem(COURSE_ROOT / place)


def test_default_workspace_is_outside_the_course(monkeypatch):
    monkeypatch.delenv("GRADCLINIC_WORKSPACE", raising=False)
    assert launcher.workspace_problem(launcher.default_workspace()) is None


def test_deleted_lesson_comes_back_fresh(tmp_path):
    release = _fake_release(tmp_path / "lessons", ["00_welcome"])
    workspace = tmp_path / "work"
    launcher.ensure_workspace(workspace, release)
    shutil.rmtree(workspace / "00_welcome")
    assert launcher.ensure_workspace(workspace, release) == ["00_welcome"]


def test_launcher_reports_new_lessons(tmp_path, monkeypatch, capsys):
    """The launcher's own output names the lessons it copied; it stops before starting a server."""
    release = _fake_release(tmp_path / "lessons", ["00_welcome"])
    monkeypatch.setattr(launcher, "RELEASE_DIR", release)
    monkeypatch.setattr(launcher, "ensure_venv", lambda venv, progress: "kept")
    monkeypatch.setattr(launcher, "ensure_installed", lambda venv, extras, progress, first_time: "up to date")
    started = []
    monkeypatch.setattr(launcher, "start_server", lambda launch: started.append(launch) or 0)
    arguments = ["--venv", str(tmp_path / "venv"), "--workspace", str(tmp_path / "work"), "--no-browser"]

    assert launcher.main(arguments) == 0
    _fake_release(release, ["01_the_problem"])
    assert launcher.main(arguments) == 0
    said = capsys.readouterr().out
    assert "1 new lesson: 00_welcome" in said and "1 new lesson: 01_the_problem" in said
    assert "[4/4] Starting JupyterLab" in said and re.search(r"\(\d+\.\d s; \d+\.\d s since start\)", said)
    assert started[-1].cwd == str((tmp_path / "work").resolve()) and "--no-browser" in started[-1].argv


# ---------------------------------------------------------------- the servers

def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _server_arguments(port):
    return ["--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}"]


@pytest.mark.parametrize("uid, allowed", [(0, True), (1000, False)])
def test_root_gets_a_server_too(monkeypatch, tmp_path, uid, allowed):
    """In a container or WSL the learner is often root, which Jupyter refuses unless told."""
    monkeypatch.setattr(launcher.os, "geteuid", lambda: uid, raising=False)
    launch = launcher.learner_server(sys.executable, tmp_path, tmp_path, ["--no-browser"])
    assert ("--allow-root" in launch.argv) is allowed and launch.argv[-1] == "--no-browser"


@contextlib.contextmanager
def _running_server(argv, env, cwd, port, log_path):
    """Start a Jupyter server, wait until its API answers, yield its URL; stop it however we leave."""
    with open(log_path, "w") as log:
        server = subprocess.Popen(argv, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, f"the server exited:\n{log_path.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"no answer after 120 s:\n{log_path.read_text()[-3000:]}"
            with contextlib.suppress(OSError):
                if _get(url, "/api/status")[0] == 200:
                    break
            time.sleep(0.3)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def _request(url, path, method="GET", body=None):
    separator = "&" if "?" in path else "?"
    request = urllib.request.Request(f"{url}{path}{separator}token={TOKEN}", method=method,
                                     data=None if body is None else json.dumps(body).encode())
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _get(url, path):
    return _request(url, path)


def _run_in_kernel(url, code, kernel_id=None):
    """Run ``code`` over the websocket in kernel ``kernel_id`` (by default a python3 kernel started through
    the server's REST API), return stdout; the kernel is shut down after."""
    import websocket

    if kernel_id is None:
        status, body = _request(url, "/api/kernels", "POST", {"name": "python3"})
        assert status == 201, body
        kernel_id = json.loads(body)["id"]
    channel = websocket.create_connection(f"{url.replace('http', 'ws')}/api/kernels/{kernel_id}/channels"
                                          f"?token={TOKEN}", timeout=60)
    try:
        msg_id = uuid.uuid4().hex
        channel.send(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test",
                       "session": uuid.uuid4().hex, "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True}}))
        # The reply (shell) may overtake the printed stream (iopub): done is both the reply and iopub's idle.
        printed, replied, idle, deadline = [], False, False, time.monotonic() + 90
        while time.monotonic() < deadline and not (replied and idle):
            message = json.loads(channel.recv())
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if message["msg_type"] == "stream":
                printed.append(message["content"]["text"])
            elif message["msg_type"] == "error":
                raise AssertionError("the probe failed in the kernel: " + "\n".join(message["content"]["traceback"]))
            elif message["msg_type"] == "execute_reply":
                replied = True
            elif message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                idle = True
        if not (replied and idle):
            raise AssertionError("the kernel did not answer within 90 s")
        return "".join(printed)
    finally:
        channel.close()
        _request(url, f"/api/kernels/{kernel_id}", "DELETE")


def _session_started(url, path, timeout=60):
    """The server's session for the notebook at ``path``, once its kernel has started."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body = _get(url, "/api/sessions")
        assert status == 200, body
        found = [session for session in json.loads(body) if session["path"] == path]
        if found:
            assert len(found) == 1, found
            return found[0]
        time.sleep(0.2)
    raise AssertionError(f"no session for {path} after {timeout} s")


def _page_config(url):
    status, page = _get(url, "/lab")
    assert status == 200, page[:500]
    found = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', page, re.S)
    return json.loads(found.group(1))


def _lives_in(path, folder):
    return os.path.commonpath([os.path.realpath(path), os.path.realpath(folder)]) == os.path.realpath(folder)


def test_learner_server_has_nothing_of_the_instructor(tmp_path, monkeypatch):
    """Started as the launcher starts it, from a shell where the course root is on PYTHONPATH."""
    monkeypatch.setenv("PYTHONPATH", str(COURSE_ROOT))
    monkeypatch.chdir(COURSE_ROOT)  # where a learner typing scripts/open stands
    workspace = tmp_path / "work"
    launcher.ensure_workspace(workspace)
    config_dir = launcher.write_learner_config(tmp_path / "learner-config")
    port = _free_port()
    launch = launcher.learner_server(sys.executable, workspace, config_dir, _server_arguments(port))
    assert launch.argv[:3] == [sys.executable, "-m", "jupyterlab"]
    assert "PYTHONPATH" not in launch.env and not _lives_in(launch.cwd, COURSE_ROOT)

    with _running_server(launch.argv, launch.env, launch.cwd, port, tmp_path / "server.log") as url:
        # The lesson's address, as a link or a new tab opens it: its page starts its kernel.
        lesson = "00_welcome/00_welcome.ipynb"
        assert _get(url, f"/lab/tree/{lesson}")[0] == 200
        session = _session_started(url, lesson)
        probe = json.loads(_run_in_kernel(url, PROBE, session["kernel"]["id"]))
        page_config = _page_config(url)
        formgrader = _get(url, "/formgrader")[0]
        assignment_list = _get(url, "/assignments")[0]
        validate = _get(url, "/assignments/validate")[0]  # GET on a POST-only handler: 405, not 404
    assert probe["autograder"] == "ModuleNotFoundError: No module named 'autograder'"
    assert not any(path == str(COURSE_ROOT) for path in probe["sys_path"]), probe["sys_path"]
    assert _lives_in(probe["cwd"], workspace) and probe["pythonpath"] == ""
    assert session["type"] == "notebook" and session["name"] == "00_welcome.ipynb"
    assert session["kernel"]["name"] == "python3"  # the lesson's own kernel, as JupyterLab starts it
    # what the kernel's TensorFlow preload reads (gradclinic.runtime.preload_tensorflow)
    assert probe["session"] == str(workspace / lesson)

    disabled = page_config["disabledExtensions"]
    assert {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment"} <= set(disabled)
    assert not {"@jupyter/nbgrader:assignment-list", "@jupyter/nbgrader:validate-assignment"} & set(disabled)
    assert "@jupyter/nbgrader" in [extension["name"] for extension in page_config["federated_extensions"]]
    assert formgrader == 404
    assert assignment_list != 404 and validate != 404

    listed = subprocess.run([sys.executable, "-m", "jupyter", "server", "extension", "list"], env=launch.env,
                            cwd=launch.cwd, capture_output=True, text=True, timeout=120)
    lines = (listed.stdout + listed.stderr).splitlines()
    assert any("nbgrader.server_extensions.formgrader" in line and "disabled" in line for line in lines), lines
    assert any("nbgrader.server_extensions.assignment_list" in line and "enabled" in line for line in lines), lines


def test_instructor_jupyter_lab_has_the_grader(tmp_path):
    """The instructor's set-up, for contrast: `jupyter lab` in a course directory (a scratch copy)."""
    course = tmp_path / "course"
    shutil.copytree(COURSE_ROOT / "autograder", course / "autograder",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(COURSE_ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    (tmp_path / "empty-config").mkdir()
    env = {name: value for name, value in os.environ.items() if name not in launcher.FOREIGN_VARIABLES}
    env["JUPYTER_CONFIG_DIR"] = str(tmp_path / "empty-config")  # the tester's own ~/.jupyter plays no part
    port = _free_port()
    argv = [sys.executable, "-m", "jupyterlab", *_server_arguments(port)]
    if os.geteuid() == 0:  # CI runs as root; Jupyter refuses root without this (the launcher adds it itself)
        argv.append("--allow-root")

    with _running_server(argv, env, course, port, tmp_path / "server.log") as url:
        probe = json.loads(_run_in_kernel(url, PROBE))
        page_config = _page_config(url)
        formgrader = _get(url, "/formgrader")[0]
    assert probe["autograder"] == f"imported from {course / 'autograder' / '__init__.py'}"
    assert str(course) in probe["pythonpath"].split(os.pathsep)  # put there by nbgrader_config.py
    assert formgrader == 200
    assert "@jupyter/nbgrader:formgrader" not in page_config["disabledExtensions"]
