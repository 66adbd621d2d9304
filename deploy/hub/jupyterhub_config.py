"""JupyterHub for one class on one machine: the config scripts/setup-hub runs (and tests/test_hub.py).

Everything listens on 127.0.0.1; put a TLS-terminating reverse proxy in front to serve a
network. The class's facts (accounts, ports, limits) come from the settings file setup-hub
writes, /etc/gradclinic/hub.json (root only); this file is the policy:

- sign-in: the hub's default PAMAuthenticator (the accounts' Unix passwords), only the class's
  accounts allowed;
- single-user servers: CourseSpawner (course_spawner.py: LocalProcessSpawner with a memory
  cgroup per learner) running `jupyterhub-singleuser` in the course's environment
  (/opt/gradclinic/bin/course-env), threads set for the machine, nothing of the hub's
  environment passed on (no PYTHONPATH into the instructor's files);
- nbgrader: the course's formgrader is a hub-managed service (`/services/<course>/`) running as
  the instructor in the course directory; group `formgrade-<course>` may open it, group
  `nbgrader-<course>` holds the class; the exchange is the shared folder setup-exchange makes;
- idle servers are stopped by jupyterhub-idle-culler, a hub service;
- restarting the hub (setup-hub run again) leaves the learners' servers running.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from course_spawner import CourseSpawner  # noqa: E402

c = get_config()  # noqa: F821 (JupyterHub provides it)
settings = json.load(open(os.environ.get("GRADCLINIC_HUB_SETTINGS", "/etc/gradclinic/hub.json")))
course, instructor, learners = settings["course_id"], settings["instructor"], settings["learners"]
port, state = settings["port"], settings["state_dir"]

# -- where it listens and keeps its state ---------------------------------------------------
c.JupyterHub.bind_url = f"http://127.0.0.1:{port}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{port + 1}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{port + 2}"
c.ConfigurableHTTPProxy.command = [settings["proxy"]]
c.ConfigurableHTTPProxy.pid_file = os.path.join(state, "proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{os.path.join(state, 'jupyterhub.sqlite')}"
c.JupyterHub.cookie_secret_file = os.path.join(state, "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = os.path.join(state, "jupyterhub.pid")
c.JupyterHub.cleanup_servers = False  # a hub restart must not stop anyone's kernels
c.JupyterHub.log_datefmt = "%Y-%m-%d %H:%M:%S"

# -- who may sign in ------------------------------------------------------------------------
c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.open_sessions = False  # no logind session per server (none in a container)
c.Authenticator.allowed_users = {instructor, *learners}
c.JupyterHub.load_groups = {
    f"formgrade-{course}": {"users": [instructor]},
    f"nbgrader-{course}": {"users": [instructor, *learners]},
}

# -- single-user servers --------------------------------------------------------------------
threads = str(settings["threads"])
c.JupyterHub.spawner_class = CourseSpawner
c.Spawner.cmd = ["/opt/gradclinic/bin/course-env", "jupyterhub-singleuser"]
c.Spawner.ip = "127.0.0.1"
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.env_keep = ["LANG", "LC_ALL"]  # not PATH or PYTHONPATH: course-env sets them
c.Spawner.environment = {"OMP_NUM_THREADS": threads, "TF_NUM_INTRAOP_THREADS": threads,
                         "TF_NUM_INTEROP_THREADS": threads, "TF_CPP_MIN_LOG_LEVEL": "2"}
c.Spawner.mem_limit = settings["mem_limit"]  # enforced by CourseSpawner's cgroup
c.CourseSpawner.pids_limit = settings["pids_limit"]
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180

# -- nbgrader's course service and the idle culler ------------------------------------------
c.JupyterHub.services = [
    {
        "name": course,
        "url": f"http://127.0.0.1:{port + 3}",
        "command": ["/opt/gradclinic/bin/course-env", "jupyterhub-singleuser",
                    f"--ServerApp.root_dir={settings['course_dir']}"],
        "user": instructor,
        "cwd": settings["course_dir"],
        "environment": {"JUPYTERHUB_DEFAULT_URL": "/lab", "OMP_NUM_THREADS": threads,
                        "TF_NUM_INTRAOP_THREADS": threads, "TF_NUM_INTEROP_THREADS": threads},
        "oauth_no_confirm": True,
    },
    {
        "name": "idle-culler",
        "command": [sys.executable, "-m", "jupyterhub_idle_culler",
                    f"--timeout={settings['idle_timeout']}", f"--cull-every={settings['cull_every']}"],
    },
    {
        # What root's tools use (setup-hub --stop, the capacity bench, the hub test): a token in a
        # root-only file, allowed to start and stop servers and to issue a user's own token.
        "name": "class-admin",
        "api_token": open(settings["admin_token_file"]).read().strip(),
    },
]
c.JupyterHub.load_roles = [
    {"name": f"formgrade-{course}", "groups": [f"formgrade-{course}"],
     "scopes": [f"access:services!service={course}", "list:services", f"read:services!service={course}"]},
    {"name": f"nbgrader-{course}", "groups": [f"nbgrader-{course}"],
     "scopes": ["list:services", f"read:services!service={course}"]},
    # A server's token may do what its owner may (the assignment list asks the hub for services).
    {"name": "server", "scopes": ["inherit"]},
    {"name": "idle-culler", "services": ["idle-culler"],
     "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"]},
    {"name": "class-admin", "services": ["class-admin"],
     "scopes": ["list:users", "read:users", "read:groups", "admin:servers", "tokens", "list:services", "read:services"]},
]
