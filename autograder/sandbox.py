"""The grading sandbox: bubblewrap namespaces, a dedicated unprivileged uid, resource limits.

Started as root (CI, a grading server), a submission runs as the dedicated user
``gradclinic-sandbox``; started by an unprivileged instructor, it runs as "nobody" inside a
user namespace. Either way it runs in a process that sees only the operating system's read-only files, the
Python environment (read-only), the learner toolkit ``gradclinic`` (read-only) and a private
job folder (read-only: its cells, the grader's calls, the runner). It has no network (own
network namespace), no view of other processes (own PID namespace), a private size-capped
``/tmp``, and runs as the sandbox user, never root. Memory and process counts are capped by
cgroups where the kernel offers them, and by rlimits always (file size, CPU time, open files,
processes per uid). Its only way out is an inherited pipe, read here with a byte cap.
"""

import json
import os
import pwd
import resource
import select
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

SANDBOX_USER = "gradclinic-sandbox"
CGROUP_V1 = Path("/sys/fs/cgroup")


class SandboxUnavailable(RuntimeError):
    """No sandbox can be made here; the message says why and what to do."""


@dataclass(frozen=True)
class Limits:
    """What one submission may use. Defaults leave TensorFlow room to work on 2 cores."""

    cell_seconds: float = 120.0       # wall time of one cell
    call_seconds: float = 60.0        # wall time of one graded call
    total_seconds: float = 900.0      # wall time of the whole run
    memory_bytes: int = 3 * 2**30     # resident memory (cgroup)
    processes: int = 256              # processes + threads (cgroup; TF starts a few dozen)
    file_bytes: int = 64 * 2**20      # largest file it may write
    tmp_bytes: int = 256 * 2**20      # its private /tmp
    output_chars: int = 20_000        # output kept per cell
    channel_bytes: int = 64 * 2**20   # everything it may send back
    cpu_seconds: int = 1800           # CPU time, all threads together


@dataclass
class RunResult:
    """What came back from a sandboxed run: the records sent on its pipe and how it ended."""

    records: list
    exit_code: int
    timed_out: bool
    overflowed: bool
    seconds: float
    stderr_tail: str
    peak_memory_bytes: int = 0  # the sandbox's peak memory (cgroup), 0 where unmeasured


def _sandbox_ids():
    try:
        entry = pwd.getpwnam(SANDBOX_USER)
    except KeyError:
        raise SandboxUnavailable(
            f"the sandbox user {SANDBOX_USER!r} does not exist: run scripts/install-system-packages "
            "as root, which creates it") from None
    return entry.pw_uid, entry.pw_gid


class Sandbox:
    """Builds and runs sandboxed commands. ``unsafe=True`` runs without isolation (the
    instructor asked for it explicitly; limits on time and output still apply)."""

    def __init__(self, python_environment=None, toolkit_dir=None, limits=Limits(), unsafe=False):
        self.limits, self.unsafe = limits, unsafe
        self.venv = Path(python_environment or sys.prefix)
        self.base_python = Path(os.path.realpath(sys.executable)).parent.parent
        self.toolkit_dir = Path(toolkit_dir) if toolkit_dir else None
        self.uid = self.gid = None
        self.as_root = False
        if not unsafe:
            self.check()

    def check(self):
        """Raise :class:`SandboxUnavailable` unless a sandbox can be made on this machine."""
        if shutil.which("bwrap") is None:
            raise SandboxUnavailable("bubblewrap (bwrap) is not installed: run scripts/install-system-packages "
                                     "as root, or pass --unsafe-no-sandbox to grade without isolation")
        self.as_root = os.geteuid() == 0
        if self.as_root:
            self.uid, self.gid = _sandbox_ids()
        probe = subprocess.run(self.command(Path("/nonexistent"), ["true"]), capture_output=True, text=True)
        if probe.returncode != 0:
            how = ("" if self.as_root else "an instructor who is not root needs unprivileged user namespaces; ")
            raise SandboxUnavailable(f"bubblewrap cannot create namespaces here ({probe.stderr.strip()}); {how}"
                                     "pass --unsafe-no-sandbox to grade without isolation")

    def command(self, job_dir, argv):
        """The full command line running ``argv`` inside the sandbox with ``job_dir`` at /job."""
        if self.unsafe:
            return list(argv)
        binds = ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
        for name in ("bin", "lib", "lib64", "sbin"):
            target = Path("/") / name
            if target.is_symlink():
                binds += ["--symlink", os.readlink(target), str(target)]
            elif target.exists():
                binds += ["--ro-bind", str(target), str(target)]
        # /tmp first, so that a toolkit or environment living under /tmp is bound on top of it.
        binds += ["--size", str(self.limits.tmp_bytes), "--perms", "1777", "--tmpfs", "/tmp"]
        made = {"/", "/usr", "/etc", "/tmp"}
        for path in (self.base_python, self.venv, *_extra_site_directories(self.venv, self.base_python)):
            binds += _parent_directories(path, made) + ["--ro-bind", str(path), str(path)]
        if self.toolkit_dir:  # at a fixed place on PYTHONPATH: the grader's own gradclinic
            binds += ["--perms", "0755", "--dir", "/toolkit",
                      "--ro-bind", str(self.toolkit_dir), f"/toolkit/{self.toolkit_dir.name}"]
        if job_dir.exists():
            binds += ["--ro-bind", str(job_dir), "/job"]
        if self.as_root:  # drop to the dedicated sandbox user once the mounts are made
            identity = []
            drop = ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups", "--no-new-privs",
                    "--inh-caps=-all", "--bounding-set=-all", "--"]
        else:  # an unprivileged instructor: a user namespace in which the learner is "nobody"
            identity = ["--unshare-user", "--uid", "65534", "--gid", "65534", "--cap-drop", "ALL"]
            drop = []
        return ["bwrap", *identity, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
                "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--hostname", "sandbox",
                *binds, "--proc", "/proc", "--dev", "/dev", "--chdir", "/tmp",
                "--clearenv", "--setenv", "HOME", "/tmp", "--setenv", "PATH", f"{self.venv}/bin:/usr/bin:/bin", "--setenv", "PYTHONPATH", "/toolkit",
                # this Python's own libpython, wherever its build's rpath points
                "--setenv", "LD_LIBRARY_PATH", str(self.base_python / "lib"),
                *drop, *argv]

    # -- limits applied in the child before it becomes the sandbox --------------------------
    def _cgroup_paths(self, name):
        paths = {}
        for controller in ("memory", "pids"):
            base = CGROUP_V1 / controller
            if (base / "cgroup.procs").exists() and os.access(base, os.W_OK):
                paths[controller] = base / "gradclinic" / name
        return paths

    def _make_cgroups(self, name):
        made = {}
        for controller, path in self._cgroup_paths(name).items():
            try:
                path.mkdir(parents=True, exist_ok=True)
                if controller == "memory":
                    (path / "memory.limit_in_bytes").write_text(str(self.limits.memory_bytes))
                    swap = path / "memory.memsw.limit_in_bytes"
                    if swap.exists():
                        swap.write_text(str(self.limits.memory_bytes))
                else:
                    (path / "pids.max").write_text(str(self.limits.processes))
                made[controller] = path
            except OSError:
                continue
        return made

    def _preexec(self, cgroups):
        limits = self.limits

        def apply():
            os.setsid()
            for path in cgroups.values():
                (path / "cgroup.procs").write_text(str(os.getpid()))
            resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
            resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
            if "pids" not in cgroups:  # per-uid fallback: shared by concurrent sandboxes
                resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes * 4, limits.processes * 4))
            if "memory" not in cgroups:  # address space is a blunt stand-in for a memory cgroup
                resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes * 4, limits.memory_bytes * 4))
        return apply

    def run(self, job_dir, argv, environment):
        """Run ``argv(fd)`` sandboxed, where ``argv`` is a function of the pipe's fd number;
        collect the JSON records sent on that pipe until the run ends, times out or overflows."""
        job_dir = Path(job_dir)
        name = f"job-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        cgroups = {} if self.unsafe else self._make_cgroups(name)
        read_end, write_end = os.pipe()
        command = self.command(job_dir, argv(write_end))
        if not self.unsafe:
            command = command[:command.index("--clearenv") + 1] + [
                part for key, value in environment.items() for part in ("--setenv", key, value)
            ] + command[command.index("--clearenv") + 1:]
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        else:
            env = {**os.environ, **environment}
        started = time.monotonic()
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, pass_fds=(write_end,), env=env,
                                   preexec_fn=self._preexec(cgroups), cwd=str(job_dir) if self.unsafe else "/")
        os.close(write_end)
        records, buffer, received = [], b"", 0
        timed_out = overflowed = False
        stderr_tail = b""
        try:
            while True:
                remaining = self.limits.total_seconds - (time.monotonic() - started)
                if remaining <= 0:
                    timed_out = True
                    break
                ready, _, _ = select.select([read_end, process.stderr], [], [], min(remaining, 1.0))
                if process.stderr in ready:
                    stderr_tail = (stderr_tail + os.read(process.stderr.fileno(), 65536))[-4000:]
                if read_end in ready:
                    chunk = os.read(read_end, 1 << 20)
                    if not chunk:
                        break
                    received += len(chunk)
                    if received > self.limits.channel_bytes:
                        overflowed = True
                        break
                    buffer += chunk
                    *lines, buffer = buffer.split(b"\n")
                    records += [line for line in lines if line]
                elif process.poll() is not None and not ready:
                    break
        finally:
            _kill_group(process)
            os.close(read_end)
            peak = _peak_memory(cgroups.get("memory"))
            for path in cgroups.values():
                _remove_cgroup(path)
        return RunResult(_parse_records(records), process.returncode, timed_out, overflowed,
                         time.monotonic() - started, stderr_tail.decode("utf-8", "replace"), peak)


def _extra_site_directories(*roots):
    """Package folders this Python imports from beyond its own environment (e.g. a venv that
    borrows another's site-packages through a .pth file). Only site-/dist-packages: never the
    working directory, which is the course."""
    extra = []
    for entry in sys.path:
        path = Path(entry) if entry else None
        if (path and path.is_dir() and path.name in ("site-packages", "dist-packages")
                and not any(path == root or root in path.parents for root in roots)):
            extra.append(path.resolve())
    return sorted(set(extra))


def _parent_directories(path, made):
    """bwrap creates missing parents of a mount point as root-only (0700): create them 0755
    first, or the sandbox user could not reach what is mounted below them."""
    arguments = []
    for parent in reversed(Path(path).parents):
        if str(parent) not in made:
            arguments += ["--perms", "0755", "--dir", str(parent)]
            made.add(str(parent))
    made.add(str(path))
    return arguments


def _parse_records(lines):
    """Decode JSON lines, skipping anything that is not a JSON object (learner noise)."""
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(record, dict) and isinstance(record.get("type"), str):
            records.append(record)
    return records


def _kill_group(process):
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait()
    if process.stderr:
        process.stderr.close()


def _peak_memory(path):
    try:
        return int((path / "memory.max_usage_in_bytes").read_text()) if path else 0
    except (OSError, ValueError):
        return 0


def _remove_cgroup(path):
    for _ in range(50):
        try:
            path.rmdir()
            return
        except OSError:
            time.sleep(0.05)
