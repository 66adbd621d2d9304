"""gradclinic.early_kernel: the page of a notebook starts the session JupyterLab would start, and
nothing else. (In a real server: tests/test_launcher.py; JupyterLab connecting to that session
rather than starting another kernel: tests/test_browser.py.)"""

import asyncio
import json
import logging
from types import SimpleNamespace

import pytest

from gradclinic import early_kernel


class Sessions:
    def __init__(self, running=()):
        self.running, self.created = set(running), []

    async def session_exists(self, path):
        return path in self.running

    async def create_session(self, **session):
        self.created.append(session)
        return session


class Contents:
    def __init__(self, files):
        self.files = files

    def get(self, path, content, type, format):
        assert (content, type, format) == (True, "file", "text")
        if path not in self.files:
            raise FileNotFoundError(path)  # what the real one raises is an HTTPError 404
        return {"content": self.files[path]}


def notebook(kernel=None):
    metadata = {"kernelspec": {"name": kernel, "display_name": "Python 3"}} if kernel else {}
    return json.dumps({"cells": [], "metadata": metadata, "nbformat": 4, "nbformat_minor": 5})


def server(files, running=()):
    return SimpleNamespace(session_manager=Sessions(running), contents_manager=Contents(files),
                           kernel_spec_manager=SimpleNamespace(find_kernel_specs=lambda: {"python3": "/k"}),
                           log=logging.getLogger("test-early-kernel"))


@pytest.mark.parametrize("tree, path", [
    ("/tree/04_initialization/04_initialization.ipynb", "04_initialization/04_initialization.ipynb"),
    ("/tree/my%20work/lesson.ipynb", "my work/lesson.ipynb"),
    ("/tree/04_initialization", None), ("/tree/notes.md", None), (None, None), ("", None)])
def test_only_a_notebooks_address_names_a_notebook(tree, path):
    assert early_kernel.notebook_in_address(tree) == path


def test_a_notebooks_page_starts_the_session_jupyterlab_would_start():
    app = server({"04/04.ipynb": notebook("python3")})
    assert asyncio.run(early_kernel.start_session(app, "04/04.ipynb")) is not None
    assert app.session_manager.created == [{"path": "04/04.ipynb", "name": "04.ipynb", "type": "notebook",
                                            "kernel_name": "python3"}]


@pytest.mark.parametrize("files, running", [
    ({"04/04.ipynb": notebook("python3")}, {"04/04.ipynb"}),  # a second tab: its session is running
    ({"04/04.ipynb": notebook("julia-1.9")}, ()),  # a kernel this server lacks: JupyterLab asks
    ({"04/04.ipynb": notebook()}, ()),  # no kernel named
    ({}, ()),  # no such file
    ({"04/04.ipynb": "{ not json"}, ())])
def test_nothing_starts_where_jupyterlab_would_not_start_that_kernel(files, running, caplog):
    app = server(files, running)
    with caplog.at_level(logging.INFO, logger="test-early-kernel"):
        assert asyncio.run(early_kernel.start_session(app, "04/04.ipynb")) is None
    assert app.session_manager.created == []
    failed = "04/04.ipynb" not in files or files["04/04.ipynb"].startswith("{ not")
    assert ("no early kernel for 04/04.ipynb" in caplog.text) == failed


def test_the_page_hook_keeps_the_one_it_replaces_and_starts_one_session_per_notebook():
    app = server({"04/04.ipynb": notebook("python3")})
    earlier = []
    app.web_app = SimpleNamespace(settings={"page_config_hook": lambda h, c: earlier.append(h) or {**c, "x": 1}})
    early_kernel._load_jupyter_server_extension(app)
    hook = app.web_app.settings["page_config_hook"]
    page = SimpleNamespace(path_kwargs={"mode": "lab", "workspace": None, "tree": "/tree/04/04.ipynb"})

    async def load_twice():  # a reload before the first start is done
        configs = [hook(page, {"a": 0}), hook(page, {"a": 0})]
        await asyncio.gather(*early_kernel._STARTING.values())
        return configs

    assert asyncio.run(load_twice()) == [{"a": 0, "x": 1}] * 2 and earlier == [page, page]
    assert len(app.session_manager.created) == 1 and not early_kernel._STARTING
