"""A Jupyter server extension: a notebook opened by its address starts its kernel at once.

Opened as ``…/lab/tree/<lesson>.ipynb`` (a new tab, a link, a reload), JupyterLab spends its first
4–5 s loading its own scripts, and only then asks the server for the notebook's kernel; the
kernel's start and the lesson's TensorFlow import (:func:`gradclinic.runtime.preload_tensorflow`)
then follow the page instead of overlapping it. With this extension on (the launcher's learner
configuration turns it on), the request for the page itself starts the notebook's session, as
JupyterLab would have started it: same path, same kernel. JupyterLab finds that session when it
opens the notebook and connects to it instead of starting another. A notebook opened from the
file browser of a running JupyterLab asks for no page, and starts its kernel as before.
"""

import asyncio
import json
import posixpath
from urllib.parse import unquote

from jupyter_core.utils import ensure_async


def _jupyter_server_extension_points():
    return [{"module": "gradclinic.early_kernel"}]


def _load_jupyter_server_extension(serverapp):
    settings = serverapp.web_app.settings
    previous = settings.get("page_config_hook")

    def page_config_hook(handler, page_config):
        start_session_for_page(serverapp, handler)
        return previous(handler, page_config) if previous else page_config

    # JupyterLab's page handler calls this for every page it serves (jupyterlab_server's LabHandler).
    settings["page_config_hook"] = page_config_hook


def notebook_in_address(tree):
    """The notebook path in a page address's ``/tree/…`` part, or None for anything else."""
    path = unquote(tree or "").removeprefix("/tree/").strip("/")
    return path if path.endswith(".ipynb") else None


def start_session_for_page(serverapp, handler):
    """Start, in the background, the session of the notebook the page ``handler`` serves."""
    path = notebook_in_address(handler.path_kwargs.get("tree"))
    if path and path not in _STARTING:  # a reload while the first start is under way starts nothing
        # (and the event loop keeps only a weak reference to a task: this one is kept until done)
        _STARTING[path] = asyncio.ensure_future(start_session(serverapp, path))
        _STARTING[path].add_done_callback(lambda _: _STARTING.pop(path, None))


_STARTING = {}  # notebook path → the task starting its session


async def start_session(serverapp, path):
    """The session JupyterLab would start for the notebook at ``path`` (relative to the server's
    root): its kernel is the one the notebook names, if this server has it. Returns the session's
    model, or None when there is nothing to start: not a notebook, no kernel named, one running."""
    sessions = serverapp.session_manager
    try:
        if await sessions.session_exists(path=path):
            return None
        # as text: read as a notebook, it would be validated and its signature checked (JupyterLab does that)
        text = await ensure_async(serverapp.contents_manager.get(path, content=True, type="file", format="text"))
        kernel_name = json.loads(text["content"])["metadata"].get("kernelspec", {}).get("name")
        if kernel_name not in await ensure_async(serverapp.kernel_spec_manager.find_kernel_specs()):
            return None  # JupyterLab will ask the learner which kernel
        return await sessions.create_session(path=path, name=posixpath.basename(path), type="notebook",
                                             kernel_name=kernel_name)
    except Exception as error:  # noqa: BLE001  the page must load whatever happens here
        serverapp.log.info("gradclinic: no early kernel for %s (%s: %s)", path, type(error).__name__, error)
        return None
