"""JupyterHub, patient with the course's own service: `python deploy/hub/course_hub.py -f CONFIG`.

JupyterHub 5 gives a managed service ten one-second tries to answer and exits when it has not
(``JupyterHub.start_service``, not configurable). The course service is a whole Jupyter server
with JupyterLab and nbgrader's extensions: 8–20 s to start on a loaded two-core machine. This
hub waits ``service_start_timeout`` more seconds for a managed service whose process is still
running, and gives up only when it exits or that time is over. Everything else is JupyterHub.
"""

import signal

from jupyterhub.app import JupyterHub
from jupyterhub.objects import Server
from jupyterhub.utils import AnyTimeoutError
from traitlets import Integer


class CourseHub(JupyterHub):
    service_start_timeout = Integer(
        180, config=True, help="Seconds a managed service may take to answer after JupyterHub's own ten tries.")

    async def start_service(self, service_name, service, ssl_context=None):
        if await super().start_service(service_name, service, ssl_context):
            return True
        if not (service.managed and service.url) or await service.spawner.poll() is not None:
            return False
        self.log.warning("service %s is slow to start: waiting up to %s s more", service_name, self.service_start_timeout)
        try:
            await Server.from_orm(service.orm.server).wait_up(
                http=True, timeout=self.service_start_timeout, ssl_context=ssl_context)
        except AnyTimeoutError:
            return False
        self.log.info("service %s is up", service_name)
        return True


if __name__ == "__main__":
    # scripts/setup-hub starts the hub as a shell's background job, which ignores SIGINT, and the
    # servers and services the hub starts would inherit that: JupyterHub stops each with SIGINT
    # first and waits 10 s for it (Spawner.interrupt_timeout), on every stop and restart.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    CourseHub.launch_instance()
