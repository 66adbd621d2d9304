"""Memory and process caps for the grading sandbox, one interface over three mechanisms.

- :class:`CgroupV2Cap`: a child of the grader's own cgroup v2 (root on a v2 host, or an
  instructor given a delegated cgroup, e.g. ``systemd-run --user --scope -p Delegate=yes``);
  ``memory.max``, ``memory.swap.max=0``, ``pids.max``; the kernel's OOM killer acts.
- :class:`CgroupV1Cap`: children of the v1 ``memory`` and ``pids`` hierarchies (root on a
  v1 or hybrid host).
- :class:`WatchdogCap`: anywhere else. A thread of the grader polls the sandbox's whole process
  tree every 50 ms and kills it when its resident memory or its task count is over the cap.
  Polling can be outrun, so the per-uid ``RLIMIT_NPROC`` and ``RLIMIT_AS`` (4 x the caps)
  stay behind it as a backstop.

:func:`choose_cap` picks the strongest available (v2, v1, watchdog) and says why; a mechanism
can be forced with ``Limits.memory_mechanism`` or the ``GRADCLINIC_CAP`` environment variable.
Each sandboxed process gets its own cap object: ``setup()`` before the child starts (returns a
command prefix that moves the child into its cgroup before it execs anything else),
``started()``, ``stop()``, ``finish()`` (peak memory, whether the cap killed the run) and
``cleanup()``. A runner that serves several jobs in turn calls ``begin_job()`` before each and
``outcome()`` after it: the peak and the events are then the job's own where the mechanism
can restart its count (cgroup v1, the watchdog, v2 from Linux 6.12), the runner's so far where
it cannot (v2 on older kernels).
Every method is safe to use from several threads, each with its own cap object.
"""

import os
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

MECHANISMS = ("auto", "cgroup-v2", "cgroup-v1", "watchdog")
ENVIRONMENT_VARIABLE = "GRADCLINIC_CAP"
GRADER_LEAF = "gradclinic-grader"  # where a v2 grader moves itself so its cgroup can have children
POLL_SECONDS = 0.05
PAGE = os.sysconf("SC_PAGE_SIZE")


class CapUnavailable(RuntimeError):
    """This mechanism cannot cap here; the message says why."""


@dataclass(frozen=True)
class Host:
    """Where the cgroup files are. Injectable so that tests can use a fake cgroup tree and
    simulate an instructor who is not root; ``euid=None`` means this process, as it is."""

    proc_cgroup: Path = Path("/proc/self/cgroup")
    mountinfo: Path = Path("/proc/self/mountinfo")
    v1_root: Path = Path("/sys/fs/cgroup")
    v2_root: Path = None  # None: the cgroup2 mount found in mountinfo
    euid: int = None

    def writable(self, path):
        if self.euid is None:
            return os.access(path, os.W_OK)
        try:  # a simulated uid: owner or world write bits (groups and ACLs ignored)
            status = os.stat(path)
        except OSError:
            return False
        return self.euid == 0 or (status.st_uid == self.euid and status.st_mode & 0o200) or bool(status.st_mode & 0o002)


@dataclass
class CapOutcome:
    peak_bytes: int = 0
    killed: bool = False   # this cap ended the run
    ended_by: str = ""     # e.g. "memory cap (watchdog): 3.1 GiB at kill, cap 3.0 GiB"
    events: str = ""       # limits hit that did not end the run, e.g. refused forks


# -- small helpers, module-level so that the fake-tree tests can record writes ---------------------
def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


def _rmdir(path):
    os.rmdir(path)


def _read(path, default=""):
    try:
        return Path(path).read_text()
    except OSError:
        return default


def _keyed(text):
    """``key value`` lines (memory.events, memory.oom_control, pids.events) as a dict of ints."""
    values = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            values[parts[0]] = int(parts[1])
    return values


def size(n):
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


def join_prefix(procs_files):
    """A command prefix that writes its own pid into each ``cgroup.procs`` and then execs the
    rest: the child is inside its cgroups before it runs anything of the sandbox."""
    if not procs_files:
        return []
    script = ('while [ "$1" != -- ]; do echo $$ > "$1" || { echo "gradclinic: cannot join cgroup $1" >&2; '
              'exit 125; }; shift; done; shift; exec "$@"')
    return ["sh", "-c", script, "sh", *map(str, procs_files), "--"]


def _kill_tasks(procs_file):
    for pid in _read(procs_file).split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError, PermissionError):
            pass


def _remove(path):
    """Remove a cgroup; the kernel refuses while dying tasks are still being reaped, so retry."""
    for _ in range(100):
        try:
            _rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.05)


class _Poller(threading.Thread):
    """Calls ``sample()`` every POLL_SECONDS until stopped or until it returns True."""

    def __init__(self, sample):
        super().__init__(daemon=True, name="gradclinic-cap")
        self.sample, self.halt = sample, threading.Event()

    def run(self):
        while not self.halt.is_set():
            if self.sample():
                break
            self.halt.wait(POLL_SECONDS)

    def stop(self):
        self.halt.set()
        if self.is_alive():
            self.join()


class Cap:
    """One run's cap. Subclasses fill in the mechanism."""

    mechanism = label = ""
    backstop = False  # also set the per-uid RLIMIT_NPROC and RLIMIT_AS (the cap can be outrun)

    def __init__(self, limits, name, host=Host(), **options):
        self.limits, self.name, self.host, self.options = limits, name, host, options

    @classmethod
    def probe(cls, host):
        """Options for this mechanism on this host; raise :class:`CapUnavailable` saying why not."""
        raise NotImplementedError

    def setup(self):
        """Prepare before the child starts; return the command prefix that puts it in place."""
        return []

    def started(self, process):
        """The child (``subprocess.Popen``) is running."""

    def stop(self):
        """The run is over or being ended: stop acting on the process tree."""

    def begin_job(self):
        """A runner's next job starts: count peak memory and events from here where possible."""

    def outcome(self, returncode):
        """Peak memory, and whether this cap ended the run (or the job), so far."""
        return CapOutcome()

    def finish(self, returncode):
        """After the child was reaped: peak memory and whether this cap ended the run."""
        self.stop()
        return self.outcome(returncode)

    def cleanup(self):
        """Remove whatever setup made; safe to call twice."""


# -- cgroup v2 ------------------------------------------------------------------------------------
_v2_lock = threading.Lock()
_v2_ready = set()  # base cgroups whose subtree already delegates memory and pids


def _v2_mount(host):
    """(mount point, root of the hierarchy at that mount) of the cgroup2 filesystem."""
    if host.v2_root is not None:
        return Path(host.v2_root), "/"
    for line in _read(host.mountinfo).splitlines():
        before, _, after = line.partition(" - ")
        fields = before.split()
        if after.split()[:1] == ["cgroup2"] and len(fields) >= 5:
            return Path(fields[4]), fields[3]
    raise CapUnavailable("no cgroup2 filesystem is mounted")


def _own_path(host, controller):
    """This process's cgroup in one hierarchy, from /proc/self/cgroup (``""`` selects v2)."""
    for line in _read(host.proc_cgroup).splitlines():
        number, controllers, path = line.split(":", 2)
        if (controller == "" and number == "0" and controllers == "") or controller in controllers.split(","):
            return path
    return None


def _inside(mount, mount_root, path):
    relative = os.path.relpath(path, mount_root) if mount_root != "/" else path.lstrip("/")
    return mount if relative in ("", ".") else mount / relative


class CgroupV2Cap(Cap):
    """A child of the grader's own v2 cgroup: ``memory.max``, no swap, ``pids.max``.

    The v2 rule "no processes in a cgroup that hands controllers to its children" means the
    grader (and whatever shares its cgroup) first moves into a leaf, ``gradclinic-grader``,
    as systemd's delegation notes ask of a delegated cgroup's owner; sandboxes are its siblings.
    """

    mechanism, label = "cgroup-v2", "cgroup v2 memory.max"

    @classmethod
    def probe(cls, host):
        mount, mount_root = _v2_mount(host)
        own_path = _own_path(host, "")
        if own_path is None:
            raise CapUnavailable(f"{host.proc_cgroup} names no cgroup v2 for this process")
        base = _inside(mount, mount_root, own_path)
        if base.name == GRADER_LEAF:  # moved there by an earlier run of this grader
            base = base.parent
        offered = _read(base / "cgroup.controllers").split()
        if not {"memory", "pids"} <= set(offered):
            raise CapUnavailable(f"the cgroup v2 {base} offers controllers {offered or 'none'}: "
                                 "memory and pids are not available to it")
        for target in (base, base / "cgroup.subtree_control", base / "cgroup.procs"):
            if not host.writable(target):
                raise CapUnavailable(f"the cgroup v2 {base} is not writable by this user "
                                     "(not delegated: try systemd-run --user --scope -p Delegate=yes)")
        try:
            cls._delegate(base, mount)
        except OSError as problem:
            raise CapUnavailable(f"cannot hand memory and pids to children of the cgroup v2 {base}: {problem}") from None
        return {"base": base}

    @staticmethod
    def _delegate(base, mount):
        with _v2_lock:
            if base in _v2_ready:
                return
            enabled = set(_read(base / "cgroup.subtree_control").split())
            if not {"memory", "pids"} <= enabled:
                if base != mount:  # the root cgroup is exempt from the no-internal-processes rule
                    leaf = base / GRADER_LEAF
                    leaf.mkdir(exist_ok=True)
                    moved = set()
                    for _ in range(5):  # processes may fork while being moved
                        waiting = set(_read(base / "cgroup.procs").split()) - moved
                        if not waiting:
                            break
                        for pid in sorted(waiting):
                            try:
                                _write(leaf / "cgroup.procs", pid)
                            except ProcessLookupError:
                                pass
                        moved |= waiting
                _write(base / "cgroup.subtree_control", "+memory +pids")
            probe = base / f"gradclinic-probe-{uuid.uuid4().hex[:8]}"
            probe.mkdir()
            _rmdir(probe)
            _v2_ready.add(base)

    def setup(self):
        self.path = self.options["base"] / f"gradclinic-{self.name}"
        self.path.mkdir()
        try:
            _write(self.path / "memory.max", str(self.limits.memory_bytes))
            _write(self.path / "pids.max", str(self.limits.processes))
            for setting, value in (("memory.swap.max", "0"),  # no swapping past the cap (absent without swap accounting)
                                   ("memory.oom.group", "1")):  # the OOM killer takes the whole sandbox
                try:
                    _write(self.path / setting, value)
                except OSError:
                    pass
        except OSError:
            self.cleanup()
            raise
        self.sampler = None
        return join_prefix([self.path / "cgroup.procs"])

    def started(self, process):
        # memory.peak is new in Linux 5.19: before it, sample memory.current.
        self.sampled = 0
        if not (self.path / "memory.peak").exists():
            def sample():
                self.sampled = max(self.sampled, int(_read(self.path / "memory.current", "0") or 0))
            self.sampler = _Poller(sample)
            self.sampler.start()

    def stop(self):
        if getattr(self, "sampler", None):
            self.sampler.stop()

    def _events(self):
        return (_keyed(_read(self.path / "memory.events")).get("oom_kill", 0),
                _keyed(_read(self.path / "pids.events")).get("max", 0))

    def begin_job(self):
        self.sampled, self.baseline = 0, self._events()
        self._close_peak()
        self.job_peak = _restarted_peak(self.path / "memory.peak")

    def _close_peak(self):
        if getattr(self, "job_peak", None) is not None:
            os.close(self.job_peak)
            self.job_peak = None

    def outcome(self, returncode):
        job_peak = getattr(self, "job_peak", None)
        peak = (os.pread(job_peak, 64, 0).decode() if job_peak is not None else _read(self.path / "memory.peak")).strip()
        peak = int(peak) if peak.isdigit() else getattr(self, "sampled", 0)
        kills, refused = (now - before for now, before in zip(self._events(), getattr(self, "baseline", (0, 0))))
        outcome = CapOutcome(peak_bytes=peak)
        if kills:
            outcome.killed = True
            outcome.ended_by = (f"memory cap ({self.label}): killed by the kernel's OOM killer at "
                                f"{size(peak)}, cap {size(self.limits.memory_bytes)}")
        if refused:
            outcome.events = f"process cap (cgroup v2 pids.max {self.limits.processes}) refused {refused} new tasks"
        return outcome

    def cleanup(self):
        self._close_peak()
        path = getattr(self, "path", None)
        if path is None or not path.exists():
            return
        self.stop()
        if (path / "cgroup.kill").exists():  # Linux 5.14+: kills every task, however it forks
            try:
                _write(path / "cgroup.kill", "1")
            except OSError:
                pass
        else:
            _kill_tasks(path / "cgroup.procs")
        _remove(path)


def _restarted_peak(path):
    """An open ``memory.peak`` whose reads count from now, or None. From Linux 6.12 a write to
    memory.peak restarts the peak seen through that open file (others are unaffected); older
    kernels refuse the write, and the cgroup's lifetime peak is all there is."""
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return None
    try:
        os.write(fd, b"reset\n")
    except OSError:
        os.close(fd)
        return None
    return fd


# -- cgroup v1 ------------------------------------------------------------------------------------
class CgroupV1Cap(Cap):
    """Children of the v1 memory and pids hierarchies, under the grader's own cgroups there
    (so that limits set on the grader still bound its sandboxes)."""

    mechanism, label = "cgroup-v1", "cgroup v1 memory controller"
    near = 0.95  # max_usage at least this share of the cap counts as "reached it"

    @classmethod
    def probe(cls, host):
        bases = {}
        for controller, marker in (("memory", "memory.limit_in_bytes"), ("pids", "tasks")):
            mount = Path(host.v1_root) / controller
            if not (mount / "cgroup.procs").exists() or not (mount / marker).exists():
                raise CapUnavailable(f"no cgroup v1 {controller} hierarchy at {mount}")
            own = _own_path(host, controller)
            candidates = ([mount / own.lstrip("/")] if own and own != "/" else []) + [mount]
            writable = [path for path in candidates if path.is_dir() and host.writable(path)]
            if not writable:
                raise CapUnavailable(f"the cgroup v1 {controller} hierarchy at {mount} is not writable by this user")
            base = writable[0]
            probe = base / f"gradclinic-probe-{uuid.uuid4().hex[:8]}"
            try:
                probe.mkdir()
                _rmdir(probe)
            except OSError as problem:
                raise CapUnavailable(f"cannot make a cgroup v1 {controller} group in {base}: {problem}") from None
            bases[controller] = base
        return {"bases": bases}

    def setup(self):
        self.paths = {}
        try:
            for controller, base in self.options["bases"].items():
                path = base / f"gradclinic-{self.name}"
                path.mkdir()
                self.paths[controller] = path
            memory = self.paths["memory"]
            _write(memory / "memory.limit_in_bytes", str(self.limits.memory_bytes))
            if (memory / "memory.memsw.limit_in_bytes").exists():  # no swapping past the cap
                _write(memory / "memory.memsw.limit_in_bytes", str(self.limits.memory_bytes))
            _write(self.paths["pids"] / "pids.max", str(self.limits.processes))
        except OSError:
            self.cleanup()
            raise
        return join_prefix([path / "cgroup.procs" for path in self.paths.values()])

    def begin_job(self):
        memory = self.paths["memory"]
        _write(memory / "memory.max_usage_in_bytes", "0")  # restarts the peak from current usage
        self.baseline = (_keyed(_read(memory / "memory.oom_control")).get("oom_kill", 0),
                         int(_read(memory / "memory.failcnt", "0").strip() or 0),
                         _keyed(_read(self.paths["pids"] / "pids.events")).get("max", 0))

    def outcome(self, returncode):
        memory = self.paths["memory"]
        kills_before, failures_before, refused_before = getattr(self, "baseline", (0, 0, 0))
        peak = _read(memory / "memory.max_usage_in_bytes").strip()
        peak = int(peak) if peak.isdigit() else 0
        control = _keyed(_read(memory / "memory.oom_control"))
        if "oom_kill" in control:  # Linux 4.13+
            killed = control["oom_kill"] > kills_before
        else:  # older kernels: the limit was hit, usage reached it, and the run died of SIGKILL
            failures = int(_read(memory / "memory.failcnt", "0").strip() or 0) - failures_before
            killed = failures > 0 and peak >= self.near * self.limits.memory_bytes and returncode in (-9, 137)
        outcome = CapOutcome(peak_bytes=peak, killed=killed)
        if killed:
            outcome.ended_by = (f"memory cap ({self.label}): killed by the kernel's OOM killer at "
                                f"{size(peak)}, cap {size(self.limits.memory_bytes)}")
        refused = _keyed(_read(self.paths["pids"] / "pids.events")).get("max", 0) - refused_before
        if refused:
            outcome.events = f"process cap (cgroup v1 pids.max {self.limits.processes}) refused {refused} new tasks"
        return outcome

    def cleanup(self):
        for path in getattr(self, "paths", {}).values():
            if path.exists():
                _kill_tasks(path / "cgroup.procs")
                _remove(path)


# -- watchdog -------------------------------------------------------------------------------------
def _process_table(proc):
    """{pid: (ppid, resident bytes, threads)} from /proc/PID/stat, one read per process."""
    table = {}
    for entry in os.scandir(proc):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"{entry.path}/stat", "rb") as f:
                stat = f.read()
        except OSError:  # exited meanwhile
            continue
        fields = stat[stat.rfind(b")") + 2:].split()  # the command name may hold spaces and ")"
        try:  # after the name: state ppid ... num_threads (20th of the file) ... rss in pages (24th)
            table[int(entry.name)] = (int(fields[1]), int(fields[21]) * PAGE, int(fields[17]))
        except (IndexError, ValueError):  # an exiting process's stat can come back truncated
            continue
    return table


def process_tree(root, proc="/proc"):
    """The resident bytes, task count (threads included) and pids of ``root`` and all its
    descendants. Inside the sandbox's PID namespace orphans are re-parented to its init, which
    descends from ``root``, so nothing of the sandbox escapes the tree."""
    table = _process_table(proc)
    children = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    tree, waiting = [], [root] if root in table else []
    while waiting:
        pid = waiting.pop()
        tree.append(pid)
        waiting += children.get(pid, [])
    # Resident set sizes count pages shared between processes (forks, shared libraries) once
    # per process: cheap, and an overestimate; see proportional_memory before killing.
    return sum(table[p][1] for p in tree), sum(table[p][2] for p in tree), tree


def proportional_memory(pids, proc="/proc"):
    """The tree's memory with shared pages split between their sharers (Pss from smaps_rollup,
    which walks page tables: read only when the resident sum is over the cap); None when a
    process's smaps_rollup cannot be read."""
    total = 0
    for pid in pids:
        try:
            with open(f"{proc}/{pid}/smaps_rollup", "rb") as f:
                text = f.read()
        except FileNotFoundError:  # exited meanwhile
            continue
        except OSError:
            return None
        for line in text.splitlines():
            if line.startswith(b"Pss:"):
                total += int(line.split()[1]) * 1024
                break
    return total


class WatchdogCap(Cap):
    """A thread of the grader that polls the sandbox's process tree and kills it when over."""

    mechanism, label = "watchdog", "watchdog"
    backstop = True

    @classmethod
    def probe(cls, host):
        if not Path("/proc/self/stat").exists():
            raise CapUnavailable("/proc is not mounted")
        return {}

    def setup(self):
        self.peak, self.reason, self.poller, self.process = 0, "", None, None
        return []

    def started(self, process):
        self.process = process
        self.poller = _Poller(self._sample)
        self.poller.start()

    def _sample(self):
        try:
            resident, tasks, tree = process_tree(self.process.pid)
        except OSError as problem:  # fail closed: a cap that cannot see must not let the run go on
            self.reason, tree = f"watchdog could not read the process tree ({problem})", [self.process.pid]
            return self._kill(tree)
        if resident > self.limits.memory_bytes and len(tree) > 1:  # shared pages counted twice?
            proportional = proportional_memory(tree)
            resident = resident if proportional is None else proportional
        self.peak = max(self.peak, resident)
        if resident > self.limits.memory_bytes:
            self.reason = f"memory cap (watchdog): {size(resident)} at kill, cap {size(self.limits.memory_bytes)}"
        elif tasks > self.limits.processes:
            self.reason = f"process cap (watchdog): {tasks} tasks at kill, cap {self.limits.processes}"
        else:
            return False
        return self._kill(tree)

    def _kill(self, tree):
        # Not yet reaped (returncode None), so the group id cannot have been reused.
        if self.process.returncode is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in tree[1:]:  # bwrap's inner processes start their own session: kill them too
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        return True

    def stop(self):
        if self.poller:
            self.poller.stop()

    def begin_job(self):
        self.peak = 0

    def outcome(self, returncode):
        return CapOutcome(peak_bytes=self.peak, killed=bool(self.reason), ended_by=self.reason)


# -- choosing -------------------------------------------------------------------------------------
ORDER = (CgroupV2Cap, CgroupV1Cap, WatchdogCap)  # strongest first: the kernel enforces cgroups


@dataclass
class CapChoice:
    """The mechanism chosen for a Sandbox, why, and why the stronger ones were passed over."""

    cap: type
    options: dict
    reason: str
    passed_over: list = field(default_factory=list)
    host: Host = Host()

    @property
    def mechanism(self):
        return self.cap.mechanism

    @property
    def label(self):
        return self.cap.label

    def new(self, limits, name):
        return self.cap(limits, name, self.host, **self.options)

    def explain(self):
        others = "; ".join(self.passed_over)
        return f"{self.label}: {self.reason}" + (f" ({others})" if others else "")


def requested_mechanism(limits):
    """``Limits.memory_mechanism`` when not "auto", else ``GRADCLINIC_CAP``, else "auto"."""
    wanted = getattr(limits, "memory_mechanism", "auto") or "auto"
    source = "Limits.memory_mechanism"
    if wanted == "auto" and os.environ.get(ENVIRONMENT_VARIABLE):
        wanted, source = os.environ[ENVIRONMENT_VARIABLE].strip(), ENVIRONMENT_VARIABLE
    if wanted not in MECHANISMS:
        raise ValueError(f"{source}={wanted!r}: choose one of {', '.join(MECHANISMS)}")
    return wanted, source


def choose_cap(limits, force=None, host=Host()):
    """The strongest mechanism available here, or the forced one (``force``, else
    ``limits.memory_mechanism``, else ``GRADCLINIC_CAP``). Raises :class:`CapUnavailable` when
    a forced mechanism cannot work here."""
    if force is not None:
        if force not in MECHANISMS:
            raise ValueError(f"force={force!r}: choose one of {', '.join(MECHANISMS)}")
        wanted, source = force, "force"
    else:
        wanted, source = requested_mechanism(limits)
    if wanted != "auto":
        cap = next(c for c in ORDER if c.mechanism == wanted)
        try:
            options = cap.probe(host)
        except CapUnavailable as problem:
            raise CapUnavailable(f"{wanted} was forced ({source}) but is not available here: {problem}") from None
        return CapChoice(cap, options, f"forced by {source}", host=host)
    passed_over = []
    for cap in ORDER:
        try:
            options = cap.probe(host)
        except CapUnavailable as problem:
            passed_over.append(f"{cap.mechanism}: {problem}")
            continue
        reason = {"cgroup-v2": "the grader's cgroup v2 can have children with memory and pids",
                  "cgroup-v1": "the v1 memory and pids hierarchies are writable",
                  "watchdog": "no writable cgroup with memory and pids controllers"}[cap.mechanism]
        return CapChoice(cap, options, reason, passed_over, host)
    raise CapUnavailable("no way to cap memory here: " + "; ".join(passed_over))
