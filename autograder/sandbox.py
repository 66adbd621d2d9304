"""The grading sandbox: bubblewrap namespaces, a dedicated unprivileged uid, resource limits.

Started as root (CI, a grading server), a submission runs as the dedicated user
``gradclinic-sandbox``; started by an unprivileged instructor, it runs as "nobody" inside a
user namespace. Either way it runs in a process that sees only the operating system's read-only files, the
Python environment (read-only), the learner toolkit ``gradclinic`` (read-only) and a private
folder (read-only: the runner's code; a submission arrives as a sealed memfd). It has no network (own
network namespace), no view of other processes (own PID namespace), a private size-capped
``/tmp``, and runs as the sandbox user, never root. Memory and process counts are capped by
the strongest mechanism available (:mod:`autograder.caps`: a cgroup v2 or v1, else a watchdog
thread), and by rlimits always (file size, CPU time, open files; processes per uid and address
space behind the watchdog). Its only way out is an inherited pipe, read here with a byte cap.

``Sandbox.run`` may be called from several threads at once: nothing runs in the child between
fork and exec (no ``preexec_fn``); its cgroup and rlimits are set by ``sh`` and ``prlimit``
commands that exec the sandbox. ``Sandbox.launch`` starts a grading runner ahead of its jobs
(it warms up, then takes jobs one at a time on a Unix socket, each forked into namespaces of
its own: see ``sandbox_runner.py``); each job's wall-time limit starts when it is handed over.
"""

import array
import fcntl
import json
import os
import pwd
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from autograder import caps

SANDBOX_USER = "gradclinic-sandbox"
EXIT_GRACE_SECONDS = 1.0  # after its pipe closes, for the sandbox to exit by itself (and count its CPU time)


class SandboxUnavailable(RuntimeError):
    """No sandbox can be made here; the message says why and what to do."""


@dataclass(frozen=True)
class Limits:
    """What one submission may use. Defaults leave TensorFlow room to work on 2 cores."""

    cell_seconds: float = 120.0       # CPU time of one cell (3× that in wall time if it waits)
    call_seconds: float = 60.0        # CPU time of one graded call (likewise)
    total_seconds: float = 900.0      # wall time of the whole run
    memory_bytes: int = 3 * 2**30     # resident memory (cgroup or watchdog)
    processes: int = 256              # processes + threads (cgroup or watchdog; TF starts a few dozen)
    file_bytes: int = 64 * 2**20      # largest file it may write
    tmp_bytes: int = 256 * 2**20      # its private /tmp
    output_chars: int = 20_000        # output kept per cell
    channel_bytes: int = 64 * 2**20   # everything it may send back
    cpu_seconds: int = 1800           # CPU time, all threads together
    memory_mechanism: str = "auto"    # auto, cgroup-v2, cgroup-v1 or watchdog (see autograder.caps);
                                      # "auto" defers to the GRADCLINIC_CAP environment variable


@dataclass
class RunResult:
    """What came back from a sandboxed run: the records sent on its pipe and how it ended."""

    records: list
    exit_code: int
    timed_out: bool
    overflowed: bool
    seconds: float
    stderr_tail: str
    peak_memory_bytes: int = 0  # the sandbox's peak memory (cgroup or watchdog), 0 where unmeasured
    memory_cap: str = ""        # what capped memory and processes, e.g. "cgroup v1 memory controller"
    ended_by: str = ""          # "" unless a cap killed the run, e.g. "memory cap (watchdog): 3.1 GiB at kill, cap 3.0 GiB"
    cap_events: str = ""        # limits hit that did not end the run, e.g. forks refused by pids.max


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
        self.cap = None
        if not unsafe:
            self.check()
        else:
            self.cap = self._choose_cap()

    def _choose_cap(self):
        if shutil.which("prlimit") is None:
            raise SandboxUnavailable("prlimit (util-linux) is not installed: run scripts/install-system-packages as root")
        try:
            return caps.choose_cap(self.limits)
        except (caps.CapUnavailable, ValueError) as problem:
            raise SandboxUnavailable(f"memory and process caps: {problem}") from None

    def check(self):
        """Raise :class:`SandboxUnavailable` unless a sandbox can be made on this machine."""
        if shutil.which("bwrap") is None:
            raise SandboxUnavailable("bubblewrap (bwrap) is not installed: run scripts/install-system-packages "
                                     "as root, or pass --unsafe-no-sandbox to grade without isolation")
        self.as_root = os.geteuid() == 0
        if self.as_root:
            self.uid, self.gid = _sandbox_ids()
        self.cap = self._choose_cap()
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

    def _rlimits(self, cap):
        """``prlimit`` sets the rlimits and execs the rest (no code runs between fork and exec)."""
        limits = self.limits
        options = [f"--fsize={limits.file_bytes}:{limits.file_bytes}",
                   f"--cpu={limits.cpu_seconds}:{limits.cpu_seconds}", "--core=0:0", "--nofile=1024:1024"]
        if cap.backstop:  # behind a watchdog, which a fast bomb can outrun between two polls
            nproc, address_space = limits.processes * 4, limits.memory_bytes * 4  # per uid: shared by sandboxes
            options += [f"--nproc={nproc}:{nproc}", f"--as={address_space}:{address_space}"]
        return ["prlimit", *options, "--"]

    def run(self, job_dir, argv, environment):
        """Run ``argv(fd)`` sandboxed, where ``argv`` is a function of the pipe's fd number;
        collect the JSON records sent on that pipe until the run ends, times out or overflows."""
        return self.launch(job_dir, lambda fd, control_fd: argv(fd), environment).collect()

    def launch(self, job_dir, argv, environment):
        """Start ``argv(fd, control_fd)`` sandboxed and return its :class:`SandboxProcess` at
        once: ``fd`` is a record pipe for :meth:`SandboxProcess.collect`, ``control_fd`` a Unix
        socket on which a runner that serves jobs (:meth:`SandboxProcess.run_job`) says it is
        ready and receives them."""
        return SandboxProcess(self, Path(job_dir), argv, environment)


class SandboxProcess:
    """One sandboxed process and its own cap (cgroup or watchdog), pipes and private /tmp.

    Either it runs one command and is collected once (:meth:`collect`), or it is a runner that
    serves jobs one at a time (:meth:`run_job`), each on pipes of its own. A runner may warm up
    (start Python, import libraries) before any job is known; each job's wall-time limit starts
    when it is handed over. A job that ends abnormally (time limit, output cap, memory cap, or
    no word from the runner on how it ended) ends the whole process: it is never handed another.
    :meth:`discard` ends one no longer wanted."""

    def __init__(self, sandbox, job_dir, argv, environment):
        self.sandbox, self.limits, self.job_dir = sandbox, sandbox.limits, job_dir
        self.used = self.ended = False
        self.ready = None  # the runner's "ready" message, once read
        self.jobs = 0
        self.cap = sandbox.cap.new(self.limits, f"job-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        try:
            prefix = self.cap.setup()
        except OSError as problem:
            self.cap.cleanup()
            raise SandboxUnavailable(f"cannot set up the {self.cap.label} for a run: {problem}") from None
        self.read_end, write_end = os.pipe()
        self.control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        command = sandbox.command(job_dir, argv(write_end, theirs.fileno()))
        if not sandbox.unsafe:
            command = command[:command.index("--clearenv") + 1] + [
                part for key, value in environment.items() for part in ("--setenv", key, value)
            ] + command[command.index("--clearenv") + 1:]
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        else:
            env = {**os.environ, **environment}
        command = [*prefix, *sandbox._rlimits(self.cap), *command]
        try:
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.PIPE, pass_fds=(write_end, theirs.fileno()), env=env,
                                            start_new_session=True, cwd=str(job_dir) if sandbox.unsafe else "/")
        except BaseException:
            os.close(self.read_end)
            self.control.close()
            self.cap.cleanup()
            raise
        finally:
            os.close(write_end)
            theirs.close()
        self.cap.started(self.process)
        self.stderr_tail = b""  # the process's own stderr (a runner's jobs each have their own)

    def collect(self):
        """Wait for the one command to end; return its :class:`RunResult`."""
        if self.used:
            raise RuntimeError("a sandbox process runs one command only")
        self.used = True
        self.control.close()
        started = time.monotonic()
        try:
            records, timed_out, overflowed, job_stderr = self._read_records(self.read_end, None, started)
            if not (timed_out or overflowed):  # it closed its pipe: let it exit, so it is reaped whole
                _wait_briefly(self.process, EXIT_GRACE_SECONDS)
            self._end()
            outcome = self.cap.finish(self.process.returncode)
            return self._result(records, self.process.returncode, timed_out, overflowed, started,
                                self.stderr_tail, outcome)
        finally:
            self._end()
            self.cap.cleanup()

    def run_job(self, job):
        """Hand a runner one job (bytes, sent as a sealed memfd: nothing of it touches a disk the
        sandbox shares) and return its :class:`RunResult` once the job ends."""
        if self.ended or self.used:
            raise RuntimeError("this sandbox process takes no more jobs")
        if self.jobs == 0:
            os.close(self.read_end)  # jobs come with pipes of their own
        ready = self.wait_ready()
        if ready is None:
            self.ended = True
            return self._dead_runner_result()
        self.jobs += 1
        records_read, records_write = os.pipe()
        stderr_read, stderr_write = os.pipe()
        job_fd = _sealed_memfd(job)
        self.cap.begin_job()
        started = time.monotonic()
        try:
            self.control.sendmsg([b"job"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                             array.array("i", [records_write, stderr_write, job_fd]))])
        except OSError:  # the runner died: the job never started
            for fd in (records_read, stderr_read):
                os.close(fd)
            self.discard()
            return self._dead_runner_result()
        finally:
            for fd in (records_write, stderr_write, job_fd):
                os.close(fd)
        try:
            records, timed_out, overflowed, job_stderr = self._read_records(records_read, stderr_read, started)
        finally:
            os.close(records_read)
            os.close(stderr_read)
        exit_code = None if (timed_out or overflowed) else self._job_exit_code()
        outcome = self.cap.outcome(exit_code)
        if exit_code is None or outcome.killed or not ready.get("isolated"):
            self.discard()  # kills what is left of the job with the runner; never handed another
            exit_code = self.process.returncode if exit_code is None else exit_code
        return self._result(records, exit_code, timed_out, overflowed, started, job_stderr, outcome)

    def wait_ready(self):
        """The runner's "ready" message (it has imported its libraries), waiting for it if
        need be; None if the runner ended first."""
        if self.ready is None and not self.ended:
            message = self._receive(self.limits.total_seconds)
            if message is None or message.get("type") != "ready":
                self.discard()
                if self.process.returncode == 125 and b"gradclinic: cannot join cgroup" in self.stderr_tail:
                    raise SandboxUnavailable(f"the sandbox could not enter its {self.cap.label}: "
                                             f"{self.stderr_tail.decode('utf-8', 'replace').strip()}")
                return None
            self.ready = message
        return self.ready

    @property
    def serves_more(self):
        """Whether this runner may be handed another job."""
        return not self.ended and (self.ready is None or bool(self.ready.get("isolated")))

    def discard(self):
        """End the process (and any job in it); safe to call twice."""
        if not self.ended:
            self._end()
            self.cap.cleanup()

    def _end(self):
        if self.ended:
            return
        self.ended = True
        self.control.close()
        if self.jobs == 0 and not self.used:
            os.close(self.read_end)
        self.cap.stop()  # before reaping: the watchdog signals by pid
        _kill_group(self.process, self)

    def _receive(self, seconds):
        """One JSON message from the runner's control socket, or None if it ended or fell silent."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self.control, self.process.stderr], [], [], min(remaining, 1.0))
            if self.process.stderr in ready:
                self._drain_stderr()
            if self.control in ready:
                try:
                    message = self.control.recv(65536)
                except OSError:
                    return None
                if not message:
                    return None
                try:
                    return json.loads(message)
                except ValueError:
                    return None
            elif not ready and self.process.poll() is not None:
                return None
        return None

    def _job_exit_code(self):
        """How the job ended, as the runner reports it after reaping it (None: no word)."""
        message = self._receive(EXIT_GRACE_SECONDS + 5.0)
        code = message.get("code") if message and message.get("type") == "exit" else None
        return code if type(code) is int else None

    def _drain_stderr(self):
        chunk = os.read(self.process.stderr.fileno(), 65536)
        self.stderr_tail = (self.stderr_tail + chunk)[-4000:]
        return chunk

    def _read_records(self, read_end, job_stderr, started):
        """Records from ``read_end`` until it closes, the time limit passes or the cap on bytes
        is crossed; the process's stderr (and the job's, if it has its own) drained meanwhile."""
        limits = self.limits
        records, buffer, received, tail = [], b"", 0, b""
        timed_out = overflowed = False
        sources = [read_end, self.process.stderr] + ([job_stderr] if job_stderr is not None else [])
        while True:
            remaining = limits.total_seconds - (time.monotonic() - started)
            if remaining <= 0:
                timed_out = True
                break
            ready, _, _ = select.select(sources, [], [], min(remaining, 1.0))
            if self.process.stderr in ready and not self._drain_stderr():
                sources.remove(self.process.stderr)
            if job_stderr is not None and job_stderr in ready:
                chunk = os.read(job_stderr, 65536)
                tail = (tail + chunk)[-4000:]
                if not chunk:
                    sources.remove(job_stderr)
            if read_end in ready:
                chunk = os.read(read_end, 1 << 20)
                if not chunk:
                    break
                received += len(chunk)
                if received > limits.channel_bytes:
                    overflowed = True
                    break
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                records += [line for line in lines if line]
            elif not ready and self.process.poll() is not None:
                break
        return records, timed_out, overflowed, tail.decode("utf-8", "replace")

    def _result(self, records, exit_code, timed_out, overflowed, started, stderr, outcome):
        if isinstance(stderr, bytes):
            stderr = stderr.decode("utf-8", "replace")
        if exit_code == 125 and "gradclinic: cannot join cgroup" in stderr:
            raise SandboxUnavailable(f"the sandbox could not enter its {self.cap.label}: {stderr.strip()}")
        return RunResult(_parse_records(records), exit_code, timed_out, overflowed,
                         time.monotonic() - started, stderr, outcome.peak_bytes,
                         memory_cap=self.cap.label, ended_by=outcome.ended_by, cap_events=outcome.events)

    def _dead_runner_result(self):
        """The runner ended before it could take the job: a run with no records, saying why."""
        outcome = self.cap.outcome(self.process.returncode)
        return self._result([], self.process.returncode, False, False, time.monotonic(),
                            self.stderr_tail, outcome)


def _sealed_memfd(data):
    """A read-only memfd holding ``data``: the job reaches the sandbox as a descriptor."""
    fd = os.memfd_create("gradclinic-job", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SEAL)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


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


def _wait_briefly(process, seconds):
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        pass


def _kill_group(process, owner=None):
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait()
    if process.stderr:
        if owner is not None:  # what it wrote last may explain why it ended
            try:
                while owner._drain_stderr():
                    pass
            except (OSError, ValueError):
                pass
        process.stderr.close()
