"""Runs inside the grading sandbox: execute a submission's cells, then answer the grader's calls.

Standalone on purpose: the sandbox receives a copy of this file and of ``harness.py`` and
nothing else of the course. Everything a job reports goes out as JSON lines on a pipe; the
trusted side treats every line as the learner's claim and judges it elsewhere.

Usage (inside the sandbox): ``python sandbox_runner.py RUNNER_DIR FD CONTROL_FD [MODULE,...]``.
The runner imports the modules named once, before any submission is known, and says so on
CONTROL_FD (a Unix socket to the grader). Then, for each job the grader sends on that socket
(three file descriptors: the job's record pipe, its stderr pipe, and a sealed memfd holding
the job — see :func:`read_job`), it forks a child that the parent never lets near its own
state again. When the runner can isolate its children, each child moves into namespaces of
its own (user, mount, PID, network, IPC, UTS) before it reads its job: a fresh empty /tmp and
/dev/shm, /proc hidden, PID 1 of a PID namespace that dies with it, no capabilities left. No
submission can then see the files, processes or memory of another, nor the runner's, which
never holds a submission. A runner that cannot isolate a child (no user namespaces, or
started without a sandbox) says so and the grader gives it one job only. In the child, the
job's record pipe sits at descriptor FD, where the runner's ``argv`` says.
"""

import array
import base64
import ctypes
import io
import importlib
import json
import os
import random
import re
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # harness.py, copied beside this file
import harness  # noqa: E402


class _Timeout(KeyboardInterrupt):
    """Raised by the alarm; a KeyboardInterrupt so that IPython's handlers let it through."""


class CappedText(io.TextIOBase):
    """A text sink that keeps the first ``limit`` characters and counts the rest."""

    def __init__(self, limit):
        self.limit, self.parts, self.kept, self.dropped = limit, [], 0, 0

    def write(self, text):
        text = str(text)
        room = self.limit - self.kept
        if room > 0:
            self.parts.append(text[:room])
            self.kept += min(room, len(text))
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def writable(self):
        return True

    def getvalue(self):
        note = f"\n[… {self.dropped} more characters of output not kept]" if self.dropped else ""
        return "".join(self.parts) + note


class Channel:
    """JSON lines to the grader on an inherited pipe."""

    def __init__(self, fd):
        self.stream = os.fdopen(os.dup(fd), "w", buffering=1)

    def send(self, record):
        self.stream.write(json.dumps(record, allow_nan=True) + "\n")
        self.stream.flush()


# A cell's or a call's limit counts CPU time, all threads together: a loaded grading host makes
# honest code slower but no dearer. Code that waits without computing (a sleep, a blocked read)
# is stopped after this many times the limit in wall time.
WALL_PER_CPU_SECOND = 3


def _alarm(seconds):
    def ring(signum, frame):
        if signum == signal.SIGPROF:
            raise _Timeout(f"no result after {seconds:g} s of CPU time")
        raise _Timeout(f"no result within {seconds * WALL_PER_CPU_SECOND:g} s")
    signal.signal(signal.SIGPROF, ring)
    signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    signal.setitimer(signal.ITIMER_REAL, seconds * WALL_PER_CPU_SECOND)


def _disarm():
    signal.setitimer(signal.ITIMER_PROF, 0)
    signal.setitimer(signal.ITIMER_REAL, 0)


def run_cells(shell, cells, limits, channel):
    """Execute each cell like a notebook does, sending one record per cell."""
    for index, source in enumerate(cells):
        stdout, stderr = CappedText(limits["output_chars"]), CappedText(limits["output_chars"])
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = stdout, stderr
        timed_out, started = False, time.monotonic()
        try:
            _alarm(limits["cell_seconds"])
            result = shell.run_cell(source, store_history=True, silent=False)
        except _Timeout:  # raised outside the user's code (IPython lets KeyboardInterrupt out)
            timed_out, result = True, None
        finally:
            _disarm()
            sys.stdout, sys.stderr = saved
        error = error_traceback = None
        if result is not None and not result.success:
            exc = result.error_in_exec or result.error_before_exec
            timed_out = timed_out or isinstance(exc, _Timeout)
            error = f"{type(exc).__name__}: {exc}" if exc is not None else "error"
            error_traceback = harness.learner_traceback(exc) if exc is not None else None
        channel.send({"type": "cell", "index": index, "stdout": stdout.getvalue(),
                      "stderr": stderr.getvalue(), "error": error, "traceback": error_traceback,
                      "timed_out": timed_out, "seconds": round(time.monotonic() - started, 3)})


def answer_calls(namespace, calls, inputs, limits, channel):
    """Call each requested function and send its plain-data answer (arrays as base64 .npz)."""
    import numpy as np

    hung = set()  # functions that already ran out of time: one hang costs one timeout, not one per case
    for index, call in enumerate(calls):
        outputs = harness.ArrayStore(prefix=f"c{index}_")  # keys unique across the run's answers
        function, missing = harness.lookup_function(namespace, call["function"])
        if call["function"] in hung:
            missing = {"error": "Timeout: skipped, an earlier call of this function ran out of time",
                       "error_type": "Timeout"}
        quiet = CappedText(0), CappedText(0)
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = quiet
        try:
            _alarm(limits["call_seconds"])
            answer = missing or harness.invoke(function, call, harness.ScopedStore(inputs, outputs))
        except KeyboardInterrupt as stop:
            answer = {"error": f"Timeout: {stop or 'interrupted'}", "error_type": "Timeout"}
            hung.add(call["function"])
        finally:
            _disarm()
            sys.stdout, sys.stderr = saved
        buffer = io.BytesIO()
        np.savez(buffer, **outputs.arrays)
        channel.send({"type": "answer", "index": index, "answer": answer,
                      "arrays": base64.b64encode(buffer.getvalue()).decode("ascii")})


def warm_up(modules):
    """Import ``modules`` before any learner code runs. Python's ``random`` is left as it was
    (TensorFlow draws from it on import), so a warmed run computes what a cold one would."""
    state = random.getstate()
    try:
        for name in modules:
            importlib.import_module(name)
    finally:
        random.setstate(state)


def read_job(fd):
    """A job: one JSON line (``cells``: sources to run, in order; ``calls``; ``limits``: seconds
    per cell and per call, characters of output kept per cell), then the calls' arrays (.npz)."""
    import numpy as np

    with os.fdopen(fd, "rb") as f:
        header = json.loads(f.readline())
        with np.load(io.BytesIO(f.read()), allow_pickle=False) as arrays:
            inputs = harness.ArrayStore({k: arrays[k] for k in arrays.files})
    return header, inputs


def run_job(job_fd, records_fd, figures):
    """Run one job in this process: its cells, then its calls; records go to ``records_fd``."""
    channel = Channel(records_fd)
    # Sent before the learner's code runs, so the grader can trust these figures.
    channel.send({"type": "started", **figures})
    header, inputs = read_job(job_fd)
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance(colors="NoColor")
    # A cell's time limit fires in the runner's alarm handler: the cell's output shows where the
    # learner's code stopped, never the runner's frame.
    shell.set_custom_exc((_Timeout,), lambda shell, kind, error, tb, tb_offset=None: [harness.learner_traceback(error)])
    run_cells(shell, header["cells"], header["limits"], channel)
    answer_calls(shell.user_ns, header["calls"], inputs, header["limits"], channel)
    # This process was forked for the job: its CPU time counts from the fork (set-up included).
    channel.send({"type": "done", "job_cpu_seconds": round(time.process_time(), 3)})


# -- isolating a job from the runner and from every other job ----------------------------------
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 0x1, 0x2, 0x4, 0x8, 0x20
MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE = 0x1000, 0x2000, 0x4000, 0x40000
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT = 1, 4, 24, 38, 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
_libc = ctypes.CDLL(None, use_errno=True)


def _sys(result, what):
    if result != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"{what}: {os.strerror(number)}")


def _mount(source, target, kind, flags=0, options=None):
    _sys(_libc.mount(source.encode() if source else None, target.encode(), kind.encode() if kind else None,
                     ctypes.c_ulong(flags), options.encode() if options else None), f"mount {target}")


def _write_once(path, text):
    with open(path, "w") as f:
        f.write(text)


def enter_namespaces(tmp_bytes):
    """Move this (single-threaded) process into new namespaces and give it a fresh /tmp and
    /dev/shm. The next child it forks is PID 1 of the new PID namespace."""
    uid, gid = os.getuid(), os.getgid()
    _sys(_libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "dumpable")  # or /proc/self/uid_map is not ours to write
    _sys(_libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS),
         "unshare")
    _write_once("/proc/self/setgroups", "deny")
    _write_once("/proc/self/uid_map", f"{uid} {uid} 1")
    _write_once("/proc/self/gid_map", f"{gid} {gid} 1")
    _sys(_libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "not dumpable")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    with open("/proc/self/mountinfo", "rb") as table:  # field 5 is the mount point, octal-escaped
        points = sorted({os.fsdecode(re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m[1], 8)]), line.split()[4]))
                         for line in table}, key=len)
    _fresh_tmpfs("/tmp", tmp_bytes, points)
    if os.path.isdir("/dev/shm"):
        _fresh_tmpfs("/dev/shm", tmp_bytes, points)
    os.chdir("/tmp")  # the working directory was the runner's /tmp, now covered


def _fresh_tmpfs(directory, size, points):
    """Cover ``directory`` with an empty tmpfs, keeping the sandbox's read-only binds below it (a
    Python environment or toolkit that lives under /tmp): each of ``points`` (mount points,
    shortest first) below it is bound again, read-only as it was, from the covered tree. Nothing
    else of the runner's directory shows through."""
    kept = []
    for point in points:
        if point.startswith(directory + "/") and not any(point.startswith(k + "/") for k in kept):
            kept.append(point)  # one below another comes with it (MS_REC)
    covered = os.open(directory, os.O_PATH | os.O_DIRECTORY)
    _mount("tmpfs", directory, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode=1777")
    for point in kept:
        os.makedirs(point, exist_ok=True)
        _mount(f"/proc/self/fd/{covered}/{os.path.relpath(point, directory)}", point, None, MS_BIND | MS_REC)
    os.close(covered)


def become_job_init():
    """In the first child of the new PID namespace: die with the parent, see no process but
    its own, and keep no capability in the new user namespace (so no mount made here can be
    undone). The kernel refuses a new proc mount where the sandbox's own is partly covered
    (bubblewrap covers /proc/sys and others), so /proc becomes a read-only tmpfs holding only
    ``/proc/self``: this process's own entry, which TensorFlow reads (``/proc/self/exe``)."""
    _sys(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "parent death signal")
    stage = "/tmp/.gradclinic-proc"  # in the job's fresh /tmp, removed below
    os.mkdir(stage)
    _mount("/proc/self", stage, None, MS_BIND | MS_REC)
    _mount("tmpfs", "/proc", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4096,mode=755")
    os.mkdir("/proc/self")
    _mount(stage, "/proc/self", None, MS_MOVE)
    os.rmdir(stage)
    _mount(None, "/proc", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for capability in range(64):
        if _libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0 and ctypes.get_errno() == 22:
            break  # EINVAL: past the last capability this kernel knows
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable (x2): all empty
    _sys(_libc.capset(header, data), "capset")
    _sys(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no new privileges")


def _exit_code(status):
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code  # killed by a signal: as a shell reports it


def serve_job(job_fds, records_slot, figures, isolate, tmp_bytes):
    """In the runner's freshly forked child: isolate, then run the job in PID 1 of its own
    namespace (or here, without isolation); never returns."""
    records_fd, stderr_fd, job_fd = job_fds
    try:
        os.dup2(records_fd, records_slot)  # where the runner's argv says the record pipe is
        os.dup2(stderr_fd, 1)
        os.dup2(stderr_fd, 2)
        job_fd = os.dup2(job_fd, records_slot + 1)
        os.closerange(3, records_slot)
        os.closerange(records_slot + 2, 1 << 16)  # the control socket above all: no way back to the runner
        if isolate:
            enter_namespaces(tmp_bytes)
            child = os.fork()
            if child:  # stays outside the new PID namespace only to report how its init ended
                os.close(job_fd)
                os.close(records_slot)
                os._exit(_exit_code(os.waitpid(child, 0)[1]))
            become_job_init()
        run_job(job_fd, records_slot, figures)
    except BaseException as problem:  # say why on stderr; the grader reports a run with no "done"
        os.write(2, f"gradclinic runner: {type(problem).__name__}: {problem}\n".encode())
        os._exit(70)
    os._exit(0)  # at once: TensorFlow's teardown would keep the grader waiting for the pipe to close


def can_isolate(tmp_bytes):
    """Whether a child of this process can enter namespaces of its own (tried in a child)."""
    child = os.fork()
    if child == 0:
        try:
            os.closerange(3, 1 << 16)
            enter_namespaces(tmp_bytes)
            grandchild = os.fork()
            if grandchild == 0:
                become_job_init()
                os._exit(0)
            os._exit(_exit_code(os.waitpid(grandchild, 0)[1]))
        except BaseException:
            os._exit(1)
    return os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]) == 0


def _receive_job(control):
    """The next job's three descriptors, or None when the grader closed the socket."""
    fds = array.array("i")
    message, ancillary, _, _ = control.recvmsg(64, socket.CMSG_SPACE(3 * fds.itemsize))
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[:len(payload) - len(payload) % fds.itemsize])
    if not message:
        for fd in fds:
            os.close(fd)
        return None
    if len(fds) != 3:
        raise RuntimeError(f"a job came with {len(fds)} descriptors, not 3")
    return tuple(fds)


def main(records_slot, control_fd, modules=(), may_isolate=True, tmp_bytes=256 * 2**20):
    control = socket.socket(fileno=control_fd)
    kernel_cpu, before_imports = time.process_time(), time.monotonic()
    warm_up(("IPython.core.interactiveshell", *modules))
    imports = {"kernel_cpu_seconds": round(kernel_cpu, 3),
               "import_cpu_seconds": round(time.process_time() - kernel_cpu, 3),
               "import_seconds": round(time.monotonic() - before_imports, 3)}
    isolate = may_isolate and can_isolate(tmp_bytes)
    _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # a job cannot read the runner's memory through /proc
    control.sendall(json.dumps({"type": "ready", "isolated": isolate, **imports}).encode())
    for job in range(1 << 62):
        job_fds = _receive_job(control)
        if job_fds is None:
            return
        # The runner's start-up is charged to its first job: summed over jobs, it counts once.
        figures = {**(imports if job == 0 else dict.fromkeys(imports, 0.0)), "job": job, "isolated": isolate}
        child = os.fork()
        if child == 0:
            serve_job(job_fds, records_slot, figures, isolate, tmp_bytes)
        for fd in job_fds:
            os.close(fd)
        control.sendall(json.dumps({"type": "exit", "code": _exit_code(os.waitpid(child, 0)[1])}).encode())
        if not isolate:
            return


if __name__ == "__main__":
    warm = [name for name in (sys.argv[4].split(",") if len(sys.argv) > 4 else []) if name]
    main(int(sys.argv[2]), int(sys.argv[3]), warm, may_isolate=os.environ.get("GRADCLINIC_ISOLATE_JOBS", "1") == "1",
         tmp_bytes=int(os.environ.get("GRADCLINIC_TMP_BYTES", 256 * 2**20)))
