"""``convviz serve`` (:mod:`convviz.serve`): N Streamlit processes behind HAProxy.

The helpers (the HAProxy configuration, the arguments) are tested without starting
anything. The integration tests (marker ``browser``, the marker of the tests that start a
server) run ``python -m convviz serve --processes 2 --address 127.0.0.1`` and check through
the proxy: the health check; that new browsers are spread over both processes; that a
browser's cookie keeps it on its process (an upload only the session's process accepts);
a Streamlit session over the proxied websocket that runs the Convolution page to the end;
that SIGTERM, SIGINT or SIGHUP, a dying child and a killed launcher leave no process behind
(not even one a backend started itself). The
nginx block of docs/serving.md (or of the README, once merged) is run in front of the same
processes.

They need HAProxy (``apt-get install haproxy``): without it they skip, unless
CONVVIZ_REQUIRE_PROXY=1, where a missing haproxy is a failure (as tests/conftest.py treats
chromium). The nginx tests skip without nginx. Ports come in free blocks from 8800-8899
(CONVVIZ_TEST_PORTS=LO-HI moves them). Linux only (they read /proc).
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from convviz import cli, serve

ROOT = Path(__file__).resolve().parents[2]
#: Where the tests look for haproxy and nginx (Debian installs both in /usr/sbin).
SEARCH_PATH = os.environ.get("PATH", os.defpath) + os.pathsep + "/usr/sbin"
READY_TIMEOUT = 60  # seconds for `convviz serve` to print its ready line
EXIT_TIMEOUT = 20  # seconds for it to exit once told (or once a child died)


def _skip_or_fail(reason: str):
    if os.environ.get("CONVVIZ_REQUIRE_PROXY") == "1":
        pytest.fail(f"{reason} (and CONVVIZ_REQUIRE_PROXY=1)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def haproxy() -> str:
    path = shutil.which("haproxy", path=SEARCH_PATH)
    if path is None:
        _skip_or_fail("haproxy not found: install it with `apt-get install haproxy` to run "
                      "the convviz serve tests")
    if not Path("/proc/self/stat").exists():
        pytest.skip("the convviz serve tests read /proc (Linux)")
    return path


@pytest.fixture(scope="module")
def nginx() -> str:
    path = shutil.which("nginx", path=SEARCH_PATH)
    if path is None:
        pytest.skip("nginx not found: install it with `apt-get install nginx` to test the "
                    "nginx block of docs/serving.md")
    return path


_HANDED_OUT: set[int] = set()


def free_ports(n: int) -> int:
    """The first of ``n`` consecutive ports that are free on 127.0.0.1 (and not handed out
    before in this run)."""
    lo, hi = (int(p) for p in os.environ.get("CONVVIZ_TEST_PORTS", "8800-8899").split("-"))
    starts = list(range(lo, hi - n + 2))
    random.shuffle(starts)
    for start in starts:
        block = range(start, start + n)
        if _HANDED_OUT.isdisjoint(block) and all(serve.port_free("127.0.0.1", p)
                                                 for p in block):
            _HANDED_OUT.update(block)
            return start
    pytest.fail(f"no {n} consecutive free ports in {lo}-{hi}")


# ----------------------------------------------------------------------------- processes
def _processes() -> dict[int, tuple[int, int, str, int]]:
    """Every process: pid -> (ppid, pgid, state, start time)."""
    return serve.process_table()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


class Served:
    """One ``python -m convviz serve --processes N --port P --address 127.0.0.1``."""

    def __init__(self, folder: Path, processes: int = 2, extra: tuple[str, ...] = ()):
        self.processes = processes
        self.port = free_ports(processes + 1)
        self.url = f"http://127.0.0.1:{self.port}"
        self.out, self.err = folder / "serve.out", folder / "serve.err"
        self.seen: dict[int, tuple[int, int]] = {}  # pid -> (pgid, start time)
        self.started = time.monotonic()
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "convviz", "serve", "--processes", str(processes),
                 "--port", str(self.port), "--address", "127.0.0.1", *extra],
                cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                env={**os.environ, "TMPDIR": str(folder)},  # its logs stay in the test's
                start_new_session=True)
        self.record()

    def log(self) -> str:
        return f"stdout:\n{self.out.read_text()}\nstderr:\n{self.err.read_text()}"

    def record(self) -> None:
        """Remember every process the launcher started so far (and itself)."""
        table = _processes()
        family = {self.proc.pid}
        grew = True
        while grew:
            new = {pid for pid, (ppid, *_) in table.items() if ppid in family} - family
            family |= new
            grew = bool(new)
        for pid in family & table.keys():
            self.seen[pid] = (table[pid][1], table[pid][3])

    def wait_ready(self) -> str:
        deadline = self.started + READY_TIMEOUT
        while True:
            line = self.out.read_text().strip()
            if line:
                self.ready_after = time.monotonic() - self.started
                time.sleep(0.2)  # let the launcher's children settle before recording them
                self.record()
                return line
            if self.proc.poll() is not None:
                pytest.fail(f"convviz serve exited with {self.proc.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                pytest.fail(f"convviz serve was not ready within {READY_TIMEOUT} s:\n"
                            f"{self.log()}")
            self.record()
            time.sleep(0.1)

    def child(self, needle: str) -> int:
        """The pid of the launcher's child whose command line contains ``needle``."""
        pids = [pid for pid, (ppid, *_) in _processes().items()
                if ppid == self.proc.pid and needle in _cmdline(pid)]
        assert len(pids) == 1, (needle, pids)
        return pids[0]

    def wait_exit(self) -> int:
        """The launcher's exit code (its children recorded while it runs)."""
        deadline = time.monotonic() + EXIT_TIMEOUT
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                pytest.fail(f"convviz serve did not exit within {EXIT_TIMEOUT} s:\n"
                            f"{self.log()}")
            self.record()
            time.sleep(0.02)
        return self.proc.returncode

    def leftovers(self, timeout: float = 15.0) -> list[str]:
        """What still runs, after ``timeout`` at most, of what the launcher started: a
        process seen before (same pid and start time) or one in the process group of one."""
        deadline = time.monotonic() + timeout
        while True:
            groups = {pgid for pgid, _ in self.seen.values()}
            alive = [f"{pid} (group {pgid}): {_cmdline(pid)}"
                     for pid, (_, pgid, state, start) in _processes().items()
                     if state != "Z" and (self.seen.get(pid, (None, None))[1] == start
                                          or pgid in groups)]
            if not alive or time.monotonic() > deadline:
                return alive
            time.sleep(0.1)

    def close(self) -> None:
        """Always: stop the launcher, and kill whatever it left."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=EXIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pgid in {int(line.split("group ")[1].split(")")[0])
                     for line in self.leftovers(timeout=0)}:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)


@pytest.fixture
def launch(tmp_path, haproxy):
    """``launch(processes=2, extra=())``: a started ``convviz serve``; always stopped."""
    started = []

    def start(processes: int = 2, extra: tuple[str, ...] = ()) -> Served:
        folder = tmp_path / f"serve{len(started)}"
        folder.mkdir()
        started.append(Served(folder, processes, extra))
        return started[-1]

    try:
        yield start
    finally:
        for served in started:
            served.close()


@pytest.fixture(scope="class")
def served(tmp_path_factory, haproxy):
    """One ``convviz serve --processes 2`` shared by the checks through the proxy."""
    running = Served(tmp_path_factory.mktemp("serve"))
    try:
        running.wait_ready()
        yield running
    finally:
        running.close()


# ----------------------------------------------------------------------------- HTTP
def _cookie_header(jar: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def get(base: str, path: str, jar: dict[str, str] | None = None):
    """GET ``base + path`` with the cookies of ``jar``: (status, cookies set, body)."""
    headers = {"Cookie": _cookie_header(jar)} if jar else {}
    request = urllib.request.Request(base + path, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        set_cookies = {}
        for header in response.headers.get_all("Set-Cookie") or []:
            name, value = header.split(";")[0].split("=", 1)
            set_cookies[name] = (value, header)
        return response.status, set_cookies, response.read()


def new_browser(base: str) -> dict[str, str]:
    """The cookies a browser has after loading /convolution: the proxy's cookie and
    Streamlit's XSRF cookie (set by the health check the page makes)."""
    jar: dict[str, str] = {}
    for path in ("/convolution", serve.HEALTH_PATH):
        _, set_cookies, _ = get(base, path, jar)
        jar.update((name, value) for name, (value, _) in set_cookies.items())
    assert "_streamlit_xsrf" in jar, jar
    return jar


def upload(base: str, session_id: str, jar: dict[str, str]) -> tuple[int, str]:
    """PUT a small file to ``session_id``'s uploads, as ``st.file_uploader`` does: (status,
    body). Only the process the session lives in accepts it (204)."""
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"note.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
            f"--{boundary}--\r\n").encode()
    request = urllib.request.Request(
        f"{base}/_stcore/upload_file/{session_id}/{uuid.uuid4().hex}", data=body, method="PUT",
        headers={"Cookie": _cookie_header(jar), "X-Xsrftoken": jar["_streamlit_xsrf"],
                 "Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@contextlib.contextmanager
def streamlit_session(base: str, jar: dict[str, str], page: str = "convolution",
                      timeout: float = 45.0):
    """A Streamlit session over ``base``'s websocket that has run ``page`` to the end.

    The browser (captured with Chromium) opens ``/_stcore/stream`` with the subprotocols
    ``streamlit, <XSRF token>``, its cookies and its Origin, and sends one BackMsg,
    ``rerun_script`` with the page's name (and empty widget states, plus context_info); the
    server answers ``new_session`` (with the session id), the page's deltas, then
    ``script_finished``.
    """
    from streamlit.proto import BackMsg_pb2, ForwardMsg_pb2
    from websockets.sync.client import connect

    host = base.split("://", 1)[1]
    with connect(f"ws://{host}/_stcore/stream", origin=base,
                 subprotocols=["streamlit", jar["_streamlit_xsrf"]],
                 additional_headers={"Cookie": _cookie_header(jar)},
                 max_size=None, open_timeout=10) as ws:
        back = BackMsg_pb2.BackMsg()
        back.rerun_script.page_name = page
        back.rerun_script.query_string = ""
        back.rerun_script.context_info.timezone = "UTC"
        back.rerun_script.context_info.url = f"{base}/{page}"
        ws.send(back.SerializeToString())
        session_id, kinds, exceptions, status = None, [], [], None
        deadline = time.monotonic() + timeout
        while status is None:
            message = ForwardMsg_pb2.ForwardMsg()
            message.ParseFromString(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            kind = message.WhichOneof("type")
            kinds.append(kind)
            if kind == "new_session":
                session_id = message.new_session.initialize.session_id
            elif kind == "delta" and message.delta.WhichOneof("type") == "new_element":
                element = message.delta.new_element
                if element.WhichOneof("type") == "exception":
                    exceptions.append(element.exception.message)
            elif kind == "script_finished":
                status = ForwardMsg_pb2.ForwardMsg.ScriptFinishedStatus.Name(
                    message.script_finished)
        yield SimpleNamespace(ws=ws, session_id=session_id, kinds=kinds, status=status,
                              exceptions=exceptions)


# ----------------------------------------------------------------------------- helpers
def _sections(config: str) -> dict[str, list[str]]:
    """HAProxy config text -> {section header: its lines}, comments dropped, spaces single."""
    sections: dict[str, list[str]] = {}
    current = None
    for raw in config.splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line:
            continue
        if not line[0].isspace():
            current = line.strip()
            sections[current] = []
        else:
            sections[current].append(" ".join(line.split()))
    return sections


def test_backends_are_the_ports_after_the_proxy():
    backends = serve.backends_for(8501, 3)
    assert backends == [serve.Backend("b1", "127.0.0.1", 8502),
                        serve.Backend("b2", "127.0.0.1", 8503),
                        serve.Backend("b3", "127.0.0.1", 8504)]


def test_config_balances_new_browsers_and_sticks_by_cookie():
    config = serve.haproxy_config(serve.backends_for(9000, 3), address="0.0.0.0", port=9000)
    s = _sections(config)
    assert list(s) == ["global", "defaults", "frontend convviz", "backend streamlit"]
    assert "mode http" in s["defaults"]
    assert "option forwardfor" in s["defaults"]
    assert "timeout tunnel 1h" in s["defaults"]
    assert f"maxconn {serve.MAXCONN}" in s["global"]
    assert f"maxconn {serve.MAXCONN}" in s["frontend convviz"]
    assert "bind 0.0.0.0:9000" in s["frontend convviz"]
    assert "default_backend streamlit" in s["frontend convviz"]
    backend = s["backend streamlit"]
    assert "balance leastconn" in backend
    assert "cookie CONVVIZ_BACKEND insert indirect nocache httponly" in backend
    assert "option httpchk" in backend
    assert ("http-check send meth GET uri /_stcore/health ver HTTP/1.1 hdr Host localhost"
            in backend)
    assert "http-check expect status 200" in backend
    assert [line for line in backend if line.startswith("server ")] == [
        "server b1 127.0.0.1:9001 cookie b1 check",
        "server b2 127.0.0.1:9002 cookie b2 check",
        "server b3 127.0.0.1:9003 cookie b3 check",
    ]
    # keep-alive, HAProxy's default: no option closes connections after each request
    lines = [line for section in s.values() for line in section]
    assert not [line for line in lines if line.startswith(("option http-server-close",
                                                           "option httpclose"))]
    # every timeout has a unit (HAProxy reads a bare number as milliseconds)
    timeouts = [line for line in lines if line.startswith("timeout ")]
    assert len(timeouts) >= 8
    assert all(re.fullmatch(r"timeout [a-z-]+ \d+(ms|s|m|h)", t) for t in timeouts), timeouts


def test_config_other_hosts_and_ipv6():
    backends = [serve.Backend("b1", "10.0.0.11", 8502), serve.Backend("b2", "10.0.0.12", 8502),
                serve.Backend("b3", "::1", 8503)]
    s = _sections(serve.haproxy_config(backends, address="::", port=80))
    assert "bind [::]:80" in s["frontend convviz"]
    assert [line for line in s["backend streamlit"] if line.startswith("server ")] == [
        "server b1 10.0.0.11:8502 cookie b1 check",
        "server b2 10.0.0.12:8502 cookie b2 check",
        "server b3 [::1]:8503 cookie b3 check",
    ]
    for wrong in ([], [serve.Backend("b1", "a", 1), serve.Backend("b1", "b", 2)]):
        with pytest.raises(ValueError, match="distinct names"):
            serve.haproxy_config(wrong)


@pytest.mark.parametrize("processes, address", [(1, "127.0.0.1"), (3, "0.0.0.0"),
                                                (serve.MAX_PROCESSES, "::")])
def test_haproxy_accepts_the_config(haproxy, tmp_path, processes, address):
    path = tmp_path / "haproxy.cfg"
    path.write_text(serve.haproxy_config(serve.backends_for(8501, processes), address=address))
    result = subprocess.run([haproxy, "-c", "-f", str(path)], capture_output=True, text=True,
                            timeout=30)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "[WARNING]" not in output and "[ALERT]" not in output, output


def test_live_groups_leave_out_the_dead():
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpgid(0))"],
                          capture_output=True, text=True, start_new_session=True, check=True)
    gone = int(done.stdout)
    assert serve.live_groups([os.getpgid(0), gone]) == {os.getpgid(0)}


def test_streamlit_command():
    assert serve.streamlit_command("app.py", 8502, python="python3") == [
        "python3", "-m", "streamlit", "run", "app.py", "--server.headless", "true",
        "--server.address", "127.0.0.1", "--server.port", "8502",
        "--browser.gatherUsageStats", "false"]


def test_processes_default_to_two_per_core_and_absurd_counts_are_refused():
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert serve.check_processes(None) == min(2 * cores, serve.MAX_PROCESSES)
    assert serve.check_processes(1) == 1
    assert serve.check_processes(serve.MAX_PROCESSES) == serve.MAX_PROCESSES
    for wrong in (0, -1, serve.MAX_PROCESSES + 1, 1000):
        with pytest.raises(cli.CLIError, match=f"between 1 and 64.*Received: {wrong}"):
            serve.check_processes(wrong)


def test_ports_and_addresses():
    assert serve.check_port(65534, 1) == 65534
    for port, processes in ((65535, 1), (65530, 6), (0, 2), (-1, 1)):
        with pytest.raises(cli.CLIError, match="--port"):
            serve.check_port(port, processes)
    assert serve.check_address(" [::1] ") == "::1"
    assert serve.check_address("classroom.lan") == "classroom.lan"
    for wrong in ("", " ", "0.0.0.0 # x", "a b"):
        with pytest.raises(cli.CLIError, match="--address"):
            serve.check_address(wrong)
    assert serve.url("127.0.0.1", 8501) == "http://127.0.0.1:8501"
    assert serve.url("::1", 80) == "http://[::1]:80"


def test_app_is_found_from_the_checkout(tmp_path, monkeypatch):
    assert serve.resolve_app(None) == ROOT / "app.py"
    monkeypatch.chdir(tmp_path)
    assert serve.resolve_app(None) == ROOT / "app.py"  # an editable install's checkout
    (tmp_path / "app.py").write_text("import streamlit as st\n")
    assert serve.resolve_app(None) == tmp_path / "app.py"
    with pytest.raises(cli.CLIError, match="--app"):
        serve.resolve_app("missing.py")


def test_cli_arguments_and_defaults():
    parser = cli.build_parser()
    args, extras = parser.parse_known_args(["serve"])
    assert (args.command, extras) == ("serve", [])
    assert (args.processes, args.port, args.address, args.app) == (None, 8501, "0.0.0.0", None)
    assert (args.start_timeout, args.print_config) == (serve.START_TIMEOUT, False)
    args, _ = parser.parse_known_args(["serve", "--processes", "4", "--port", "9000",
                                       "--address", "127.0.0.1", "--app", "x/app.py"])
    assert (args.processes, args.port, args.address, args.app) == (4, 9000, "127.0.0.1",
                                                                    "x/app.py")
    assert "serve" in cli.__doc__


@pytest.mark.parametrize("argv, message", [
    (["--processes", "0"], "--processes must be between 1 and 64"),
    (["--processes", "65"], "--processes must be between 1 and 64"),
    (["--port", "65535"], "--port must leave room"),
    (["--start-timeout", "0"], "--start-timeout must be"),
    (["--bogus"], "serve takes no --bogus"),
])
def test_cli_refuses_bad_arguments(capsys, argv, message):
    assert cli.main(["serve", *argv]) == cli.EXIT_USAGE
    assert message in capsys.readouterr().err


def test_python_m_convviz_serve_refuses_absurd_counts():
    result = subprocess.run([sys.executable, "-m", "convviz", "serve", "--processes", "65"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("convviz serve: error: --processes must be between 1 "
                                    "and 64"), result.stderr


def test_without_haproxy_it_says_how_to_install_it(capsys, monkeypatch):
    monkeypatch.setattr(serve.shutil, "which", lambda *args, **kwargs: None)

    def must_not_start(*args, **kwargs):
        raise AssertionError("nothing may start without haproxy")

    monkeypatch.setattr(serve, "Launcher", must_not_start)
    assert cli.main(["serve", "--processes", "2"]) == 2
    err = capsys.readouterr().err
    assert "haproxy is not on PATH" in err
    assert "apt-get install haproxy" in err
    assert "streamlit run app.py" in err  # the single-process way


def test_print_config(capsys):
    assert cli.main(["serve", "--processes", "3", "--port", "9100", "--address", "127.0.0.1",
                     "--print-config"]) == 0
    assert capsys.readouterr().out == serve.haproxy_config(
        serve.backends_for(9100, 3), address="127.0.0.1", port=9100)


def test_ports_in_use_are_refused_before_anything_starts(capsys, monkeypatch):
    monkeypatch.setattr(serve, "find_haproxy", lambda: "haproxy")
    monkeypatch.setattr(serve, "Launcher", None)  # calling it would fail the test
    port = free_ports(3)
    with socket.socket() as busy:
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # it may be in TIME_WAIT
        busy.bind(("127.0.0.1", port + 2))
        busy.listen()
        code = cli.main(["serve", "--processes", "2", "--port", str(port),
                         "--address", "127.0.0.1"])
    assert code == 2
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port + 2}" in err and "pick another --port" in err, err


# ----------------------------------------------------------------------------- nginx block
def nginx_block() -> str:
    """The ```nginx block of docs/serving.md (or of the README, once merged)."""
    for name in ("docs/serving.md", "README.md"):
        path = ROOT / name
        if path.exists():
            for block in re.findall(r"```nginx\n(.*?)```", path.read_text(), re.S):
                if "convviz_client" in block:
                    return block
    pytest.fail("no ```nginx block with the convviz_client cookie in docs/serving.md or "
                "README.md")


def nginx_conf(folder: Path, listen: int, backends: tuple[int, int]) -> Path:
    """nginx.conf around the documented block: listening on 127.0.0.1:``listen``, its two
    servers moved to ``backends``, every file in ``folder``."""
    block = nginx_block()
    moves = {"listen 8501;": f"listen 127.0.0.1:{listen};",
             "server 127.0.0.1:8502;": f"server 127.0.0.1:{backends[0]};",
             "server 127.0.0.1:8503;": f"server 127.0.0.1:{backends[1]};"}
    for old, new in moves.items():
        assert block.count(old) == 1, f"the nginx block has no single {old!r}"
        block = block.replace(old, new)
    temp = "\n".join(f"    {kind}_temp_path {folder / kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    path = folder / "nginx.conf"
    path.write_text(f"worker_processes 1;\npid {folder / 'nginx.pid'};\n"
                    f"error_log {folder / 'error.log'};\ndaemon off;\n"
                    f"events {{ worker_connections 256; }}\n"
                    f"http {{\n    access_log off;\n{temp}\n{block}\n}}\n")
    return path


def _nginx(nginx: str, conf: Path, *args: str) -> list[str]:
    return [nginx, "-p", str(conf.parent), "-e", str(conf.parent / "error.log"),
            "-c", str(conf), *args]


def test_nginx_accepts_the_documented_block(nginx, tmp_path):
    conf = nginx_conf(tmp_path, 8501, (8502, 8503))
    result = subprocess.run(_nginx(nginx, conf, "-t"), capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


# ----------------------------------------------------------------------------- through HAProxy
@pytest.mark.browser
class TestThroughHAProxy:
    """Checks through the proxy of one running ``convviz serve --processes 2``."""

    def test_ready_line_and_health(self, served):
        assert served.out.read_text() == (f"convviz: serving http://127.0.0.1:{served.port} "
                                          f"with 2 Streamlit processes\n")
        status, _, body = get(served.url, serve.HEALTH_PATH)
        assert (status, body) == (200, b"ok")

    def test_new_browsers_are_spread_over_the_processes(self, served):
        cookies = []
        for _ in range(2):
            status, set_cookies, body = get(served.url, "/convolution")
            assert status == 200 and b"<html" in body.lower()
            value, header = set_cookies[serve.COOKIE]
            assert "httponly" in header.lower()
            cookies.append(value)
        assert sorted(cookies) == ["b1", "b2"]

    def test_a_session_runs_the_page_over_the_proxied_websocket(self, served):
        jar = new_browser(served.url)
        with streamlit_session(served.url, jar) as session:
            assert session.status == "FINISHED_SUCCESSFULLY"
            assert session.session_id
            assert session.kinds[0] == "new_session" and "delta" in session.kinds
            assert "page_not_found" not in session.kinds
            assert session.exceptions == []

    def test_the_cookie_keeps_a_browser_on_its_process(self, served):
        jar = new_browser(served.url)
        mine = jar[serve.COOKIE]
        other = {"b1": "b2", "b2": "b1"}[mine]
        # with the cookie, HAProxy never sets it again (it would, naming the new process, if it
        # sent the request elsewhere)
        for path in ("/convolution", serve.HEALTH_PATH) * 3:
            status, set_cookies, _ = get(served.url, path, jar)
            assert status == 200 and serve.COOKIE not in set_cookies
        # an XSRF token that the other process issued works on this one: it is not per process
        _, set_cookies, _ = get(f"http://127.0.0.1:{served.port + int(other[1:])}",
                                serve.HEALTH_PATH)
        jar["_streamlit_xsrf"] = set_cookies["_streamlit_xsrf"][0]
        with streamlit_session(served.url, jar) as session:
            assert session.status == "FINISHED_SUCCESSFULLY"
            # only the session's process accepts its uploads: every one with the cookie does
            for _ in range(4):
                assert upload(served.url, session.session_id, jar) == (204, "")
            # the other process does not know the session, through the proxy or directly
            status, body = upload(served.url, session.session_id, {**jar, serve.COOKIE: other})
            assert status == 400 and "Invalid session_id" in body
            for name, expected in ((mine, 204), (other, 400)):
                direct = f"http://127.0.0.1:{served.port + int(name[1:])}"
                assert upload(direct, session.session_id, jar)[0] == expected

    def test_the_documented_nginx_block_keeps_a_session(self, served, nginx, tmp_path):
        listen = free_ports(1)
        backends = (served.port + 1, served.port + 2)
        conf = nginx_conf(tmp_path, listen, backends)
        proc = subprocess.Popen(_nginx(nginx, conf), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            base = f"http://127.0.0.1:{listen}"
            deadline = time.monotonic() + 10
            while not serve._healthy(base + serve.HEALTH_PATH, timeout=1):
                assert proc.poll() is None, (conf.parent / "error.log").read_text()
                assert time.monotonic() < deadline, "nginx did not answer within 10 s"
                time.sleep(0.1)
            jar = new_browser(base)
            assert "convviz_client" in jar
            for path in ("/convolution", serve.HEALTH_PATH):  # set once, not again
                assert "convviz_client" not in get(base, path, jar)[1]
            with streamlit_session(base, jar) as session:
                assert session.status == "FINISHED_SUCCESSFULLY" and session.exceptions == []
                statuses = [upload(base, session.session_id, jar)[0] for _ in range(4)]
                direct = [upload(f"http://127.0.0.1:{port}", session.session_id, jar)[0]
                          for port in backends]
            assert statuses == [204] * 4
            assert sorted(direct) == [204, 400]  # the session lives in one process only
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


# ----------------------------------------------------------------------------- stopping
@pytest.mark.browser
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP],
                         ids=["SIGTERM", "SIGINT", "SIGHUP"])
def test_a_stop_signal_stops_everything(launch, sig):
    served = launch()
    served.wait_ready()
    names = " ".join(_cmdline(pid) for pid in served.seen)
    assert names.count("streamlit run app.py") == 2 and "haproxy -W -db -f" in names
    assert "convviz serve: watchdog" in names
    served.proc.send_signal(sig)
    assert served.wait_exit() == 0, served.log()
    assert served.leftovers(timeout=5) == []
    assert f"convviz: {sig.name}: stopping" in served.err.read_text()


@pytest.mark.browser
@pytest.mark.parametrize("victim", ["backend", "haproxy"])
def test_a_dying_child_stops_everything(launch, victim):
    served = launch()
    served.wait_ready()
    if victim == "backend":
        pid = served.child(f"--server.port {served.port + 2}")
        message = f"Streamlit process b2 (port {served.port + 2}) was killed by SIGKILL"
    else:
        pid = served.child("haproxy -W -db")
        message = "HAProxy was killed by SIGKILL"
    os.kill(pid, signal.SIGKILL)
    assert served.wait_exit() == 1, served.log()
    assert served.leftovers(timeout=5) == []
    err = served.err.read_text()
    assert f"convviz serve: error: {message}; stopping everything" in err, err
    assert "convviz: logs kept in" in err


@pytest.mark.browser
def test_a_killed_launcher_leaves_nothing_behind(launch):
    served = launch()
    served.wait_ready()
    served.proc.kill()
    assert served.wait_exit() == -signal.SIGKILL
    assert served.leftovers(timeout=15) == []


GRANDCHILD_APP = """\
import subprocess
import sys

import streamlit as st

if "child" not in st.session_state:  # a process of the session's own, as a render worker is
    st.session_state.child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(300)  # {tag}"])
st.write(f"child {{st.session_state.child.pid}}")
"""


@pytest.mark.browser
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_what_a_backend_started_goes_with_it(launch, tmp_path, sig):
    tag = f"convviz serve test grandchild {uuid.uuid4().hex}"
    app = tmp_path / "app.py"
    app.write_text(GRANDCHILD_APP.format(tag=tag))
    served = launch(processes=1, extra=("--app", str(app)))
    served.wait_ready()
    with streamlit_session(served.url, new_browser(served.url), page="") as session:
        assert session.status == "FINISHED_SUCCESSFULLY" and session.exceptions == []
    grandchildren = [pid for pid in _processes() if tag in _cmdline(pid)]
    assert len(grandchildren) == 1
    served.record()
    assert grandchildren[0] in served.seen
    served.proc.send_signal(sig)
    served.wait_exit()
    assert served.leftovers(timeout=15) == []


@pytest.mark.browser
def test_a_backend_that_does_not_start_in_time_stops_everything(launch):
    served = launch(extra=("--start-timeout", "0.01"))
    assert served.wait_exit() == 1
    assert served.out.read_text() == ""  # never ready
    err = served.err.read_text()
    assert "did not answer /_stcore/health within 0.01 s; stopping everything" in err, err
    assert re.search(r"The end of its log \(\S+/b\d\.log\)", err), err
    assert served.leftovers(timeout=5) == []
