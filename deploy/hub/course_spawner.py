"""The single-user server of a learner on one machine, with its memory limit enforced.

JupyterHub's ``Spawner.mem_limit`` is advisory for a local spawner: LocalProcessSpawner only
passes it to the server as ``MEM_LIMIT``. :class:`CourseSpawner` is LocalProcessSpawner whose
server (and every kernel it starts) runs in a memory cgroup of its own, created by the hub
(root) before the server starts:

- cgroup v1 (this machine, and hosts booted with the hybrid hierarchy):
  ``/sys/fs/cgroup/memory/gradclinic-hub/<user>`` with ``memory.limit_in_bytes`` (and
  ``memory.memsw.limit_in_bytes`` where swap is accounted), plus ``pids.max`` in the ``pids``
  hierarchy; the kernel's OOM killer ends the largest process inside, in practice the kernel
  that allocated, and the learner's server stays up;
- cgroup v2: ``/sys/fs/cgroup/gradclinic-hub/<user>`` with ``memory.max``, ``memory.swap.max=0``
  and ``pids.max`` (the hub must run in the root cgroup or a delegated one).

The server is moved into its cgroup by the spawned process itself, as root, just before it
drops to the learner's uid (``make_preexec_fn``), so nothing runs outside it. The learner cannot
raise the limit: the cgroup's files belong to root. With no writable cgroup the hub refuses to
start a server rather than pretend (``CourseSpawner.require_limit``).
"""

import os
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner
from traitlets import Bool, Integer, Unicode

CGROUP_ROOT = Path("/sys/fs/cgroup")


def _writable(path):
    return path.is_dir() and os.access(path, os.W_OK)


class CourseSpawner(LocalProcessSpawner):
    cgroup_name = Unicode("gradclinic-hub", config=True, help="Parent cgroup of the learners' servers.")
    pids_limit = Integer(1024, config=True, help="Most tasks (processes and threads) one server may run.")
    require_limit = Bool(True, config=True, help="Refuse to start a server whose memory limit cannot be enforced.")

    def cgroup_directories(self):
        """The cgroup directories this user's server runs in, and how they are enforced."""
        if _writable(CGROUP_ROOT / "memory"):  # v1
            found = [("memory", CGROUP_ROOT / "memory" / self.cgroup_name / self.user.name)]
            if _writable(CGROUP_ROOT / "pids"):
                found.append(("pids", CGROUP_ROOT / "pids" / self.cgroup_name / self.user.name))
            return "cgroup-v1", found
        controllers = CGROUP_ROOT / "cgroup.controllers"
        if controllers.is_file() and "memory" in controllers.read_text().split() and _writable(CGROUP_ROOT):
            return "cgroup-v2", [("unified", CGROUP_ROOT / self.cgroup_name / self.user.name)]
        return None, []

    def _make_cgroup(self):
        mechanism, directories = self.cgroup_directories()
        if mechanism is None:
            if self.require_limit and self.mem_limit:
                raise RuntimeError("no writable memory cgroup on this host: the memory limit cannot be enforced")
            self._cgroup_procs = []
            return
        limit = str(self.mem_limit) if self.mem_limit else "max"
        for kind, directory in directories:
            if mechanism == "cgroup-v2":
                parent = directory.parent
                parent.mkdir(exist_ok=True)
                (CGROUP_ROOT / "cgroup.subtree_control").write_text("+memory +pids")
                (parent / "cgroup.subtree_control").write_text("+memory +pids")
            directory.mkdir(parents=True, exist_ok=True)
            if kind == "memory":
                (directory / "memory.limit_in_bytes").write_text(limit if self.mem_limit else "-1")
                if (directory / "memory.memsw.limit_in_bytes").exists():
                    (directory / "memory.memsw.limit_in_bytes").write_text(limit if self.mem_limit else "-1")
            elif kind == "pids":
                (directory / "pids.max").write_text(str(self.pids_limit))
            else:
                (directory / "memory.max").write_text(limit)
                (directory / "memory.swap.max").write_text("0")
                (directory / "pids.max").write_text(str(self.pids_limit))
        self._cgroup_procs = [str(directory / "cgroup.procs") for _, directory in directories]
        self.log.info("%s's server: memory %s, tasks %s (%s)", self.user.name, limit, self.pids_limit, mechanism)

    def make_preexec_fn(self, name):
        drop_privileges = super().make_preexec_fn(name)
        procs = list(getattr(self, "_cgroup_procs", []))

        def preexec():
            for path in procs:  # still root here: join the cgroup, then become the learner
                with open(path, "w") as f:
                    f.write(str(os.getpid()))
            drop_privileges()

        return preexec

    async def start(self):
        self._make_cgroup()
        return await super().start()

    async def stop(self, now=False):
        await super().stop(now=now)
        for _, directory in self.cgroup_directories()[1]:
            try:
                directory.rmdir()  # fails while a stray process is left inside: kept, harmless
            except OSError:
                pass
