"""The class on the hub (scripts/setup-hub) as its people use it, for tests/test_hub.py and the
capacity bench: the hub's REST API with root's class-admin token, a learner's own token, and
code run in a learner's own kernel through their single-user server.

Needs root: the tokens and passwords are in root-only files that setup-hub writes.
"""

import json
import time
import urllib.error
import urllib.request
import uuid

SETTINGS = "/etc/gradclinic/hub.json"


def settings():
    with open(SETTINGS) as f:
        return json.load(f)


def passwords():
    with open("/etc/gradclinic/hub-passwords") as f:
        return dict(line.split(" ", 1) for line in f.read().splitlines() if line.strip())


def hub_url():
    return f"http://127.0.0.1:{settings()['port']}"


class Hub:
    """The hub's REST API as one token sees it (the class-admin service's by default)."""

    def __init__(self, token=None, url=None):
        self.url = url or hub_url()
        self.token = token or open(settings()["admin_token_file"]).read().strip()

    def request(self, method, path, body=None, timeout=60):
        """(status, decoded JSON or text) of ``method`` on ``path`` (absolute, e.g. /hub/api/users)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Authorization": f"token {self.token}",
                                                  "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        try:
            return status, json.loads(raw or b"null")
        except ValueError:
            return status, raw.decode(errors="replace")

    def api(self, method, path, body=None, timeout=60):
        status, answer = self.request(method, f"/hub/api{path}", body, timeout)
        assert status < 400, f"{method} {path}: {status} {answer}"
        return answer

    def user_token(self, user, note="hub test"):
        """A token of ``user``'s own (what the user could make on the hub's token page)."""
        return self.api("POST", f"/users/{user}/tokens", {"note": note, "expires_in": 3600})["token"]

    def start_server(self, user, timeout=300):
        """Start ``user``'s server (if not running); return the seconds until it is ready."""
        started = time.perf_counter()
        status, answer = self.request("POST", f"/hub/api/users/{user}/server")
        assert status in (201, 202, 400), f"start {user}: {status} {answer}"  # 400: already running
        while time.perf_counter() - started < timeout:
            server = self.api("GET", f"/users/{user}")["servers"].get("")
            if server and server.get("ready"):
                return time.perf_counter() - started
            time.sleep(0.25)
        raise TimeoutError(f"{user}'s server was not ready in {timeout} s")

    def stop_server(self, user):
        self.request("DELETE", f"/hub/api/users/{user}/server")
        for _ in range(240):
            if not self.api("GET", f"/users/{user}")["servers"]:
                return
            time.sleep(0.25)


class Kernel:
    """A kernel in ``user``'s own single-user server, reached with ``token`` through the hub's proxy."""

    def __init__(self, user, token, url=None):
        self.url, self.user, self.token = url or hub_url(), user, token
        self.server = Hub(token, self.url)
        status, answer = self.server.request("POST", f"/user/{user}/api/kernels", {"name": "python3"})
        assert status == 201, f"{user}: cannot start a kernel: {status} {answer}"
        self.id = answer["id"]
        self.connect()

    def connect(self):
        """(Re)open the kernel's channels, as JupyterLab does after the hub's proxy restarted."""
        import websocket

        self.socket = websocket.create_connection(
            self.url.replace("http", "ws") + f"/user/{self.user}/api/kernels/{self.id}/channels",
            header=[f"Authorization: token {self.token}"], timeout=600)

    def run(self, code, timeout=300):
        """Run ``code``; return {"stdout", "error" (ename: evalue or None), "died", "seconds"}."""
        msg_id = uuid.uuid4().hex
        self.socket.send(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": self.user,
                       "session": uuid.uuid4().hex, "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True}}))
        started, out, error, died = time.perf_counter(), [], None, False
        self.socket.settimeout(timeout)
        while True:
            message = json.loads(self.socket.recv())
            kind, content = message.get("msg_type"), message.get("content", {})
            if kind == "status" and content.get("execution_state") in ("restarting", "dead"):
                died = True
                break
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if kind == "stream":
                out.append(content["text"])
            elif kind == "error":
                error = f"{content['ename']}: {content['evalue']}"
            elif kind == "status" and content.get("execution_state") == "idle":
                break
        return {"stdout": "".join(out), "error": error, "died": died, "seconds": time.perf_counter() - started}

    def close(self):
        self.socket.close()
        self.server.request("DELETE", f"/user/{self.user}/api/kernels/{self.id}")
