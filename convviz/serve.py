"""``convviz serve``: the app for a class, as several Streamlit processes behind HAProxy.

One Streamlit process runs its sessions' scripts on one core. ``convviz serve --processes N
--port P`` starts N ``streamlit run app.py`` backends on 127.0.0.1, ports P+1 .. P+N, from
the app's folder (so its ``.streamlit/config.toml`` applies), waits until each answers
``/_stcore/health``, then runs HAProxy in the foreground on ``--address``:P in front of them
and prints ``convviz: serving http://<address>:<P> with N Streamlit processes``.

A session lives in one process: its websocket (``/_stcore/stream``), the files it uploads
(``/_stcore/upload_file/<session>/...``) and its ``/media/...`` files exist only there. So
HAProxy balances only a browser's first request; its answer carries a cookie,
``CONVVIZ_BACKEND=bK``, and every later request with that cookie goes to backend ``bK``
(:func:`haproxy_config`).

Until it is stopped the launcher watches its children. SIGINT, SIGTERM (and SIGHUP, a
closed terminal) are forwarded to every child's process group (each child runs in its own,
so a render worker a backend started goes with it); if HAProxy or a backend exits by itself,
everything is stopped and the exit code is 1. A launcher killed outright (SIGKILL) leaves
nothing behind either: each child gets SIGTERM when its parent dies (Linux
``PR_SET_PDEATHSIG``), and a small watchdog process stops every child's process group when
the launcher's pipe to it closes.

The pure helpers build what is started, without starting anything:

>>> [(b.name, b.port) for b in backends_for(8501, 3)]
[('b1', 8502), ('b2', 8503), ('b3', 8504)]
>>> streamlit_command("app.py", 8502)[1:6]
['-m', 'streamlit', 'run', 'app.py', '--server.headless']
>>> print(server_lines(backends_for(8501, 2)))
    server b1 127.0.0.1:8502 cookie b1 check
    server b2 127.0.0.1:8503 cookie b2 check
>>> url("0.0.0.0", 8501), url("::", 8501)
('http://0.0.0.0:8501', 'http://[::]:8501')
>>> check_processes(0)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
convviz.cli.CLIError: --processes must be between 1 and 64 ... Received: 0
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .cli import CLIError

#: HAProxy's port when ``--port`` is not given (Streamlit's own default); backends use P+1..
DEFAULT_PORT = 8501
#: Where HAProxy listens by default: every interface, so the students' machines reach it.
DEFAULT_ADDRESS = "0.0.0.0"
#: The most ``--processes`` accepted (and the cap of the default).
MAX_PROCESSES = 64
#: Streamlit processes per core by default. Two, measured: a Streamlit process spends much
#: of a busy class waiting for its own GIL (its sessions are threads), so 30 students on
#: 2 cores got a rerun p95 of 694 ms with 4 processes against 1026 ms with 2
#: (benchmarks/RESULTS.md, "A class on one server").
PROCESSES_PER_CORE = 2
#: Seconds a backend (and then HAProxy) may take to answer its health check.
START_TIMEOUT = 60.0
#: Seconds the children get to exit after SIGTERM/SIGINT before they are killed.
STOP_TIMEOUT = 10.0
#: HAProxy's connection limit. A browser tab holds one websocket and up to 6 HTTP/1.1
#: connections while it loads: 30 students with two tabs each need about 420; this leaves
#: room for a lecture hall of 100 (and needs about 4,000 file descriptors).
MAXCONN = 2000
#: The cookie HAProxy inserts to keep a browser on its backend.
COOKIE = "CONVVIZ_BACKEND"
#: Streamlit's health check path (200 ``ok`` once the server is up).
HEALTH_PATH = "/_stcore/health"
#: Where the backends listen: only HAProxy talks to them.
BACKEND_HOST = "127.0.0.1"
#: Lines of a failed backend's log printed with the error.
LOG_TAIL_LINES = 25

INSTALL_HINT = (
    "haproxy is not on PATH: install it (Debian/Ubuntu: `apt-get install haproxy`), or "
    "serve a single process without a proxy: `streamlit run app.py` (one core, enough for "
    "a few students)")


# ----------------------------------------------------------------------------- pure helpers
@dataclass(frozen=True)
class Backend:
    """One Streamlit process as HAProxy sees it: server (and cookie) name, host, port."""

    name: str
    host: str
    port: int


def default_processes() -> int:
    """:data:`PROCESSES_PER_CORE` per core this process may run on (its CPU affinity), at
    most :data:`MAX_PROCESSES`."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(PROCESSES_PER_CORE * cores, MAX_PROCESSES))


def check_processes(processes: int | None) -> int:
    """``--processes``: None means :func:`default_processes`; else 1..:data:`MAX_PROCESSES`."""
    if processes is None:
        return default_processes()
    if not 1 <= processes <= MAX_PROCESSES:
        raise CLIError(f"--processes must be between 1 and {MAX_PROCESSES} (Streamlit "
                       f"processes; two per core is the default). Received: {processes}")
    return processes


def check_port(port: int, processes: int) -> int:
    """``--port`` P: HAProxy's port; P+1 .. P+processes must be valid ports too."""
    if port < 1 or port + processes > 65535:
        raise CLIError(f"--port must leave room for {processes} backend port(s) after it "
                       f"(1 .. {65535 - processes}). Received: {port}")
    return port


def check_address(address: str) -> str:
    """``--address``: an IP address or host name for HAProxy's ``bind`` (brackets dropped)."""
    host = address.strip().strip("[]")
    if not host or any(c.isspace() or c in "#/'\"" for c in host):
        raise CLIError(f"--address must be an IP address or host name, e.g. 0.0.0.0 "
                       f"(every interface) or 127.0.0.1. Received: {address!r}")
    return host


def backends_for(port: int, processes: int, host: str = BACKEND_HOST) -> list[Backend]:
    """The backends of ``convviz serve --port port --processes processes``: ``bK`` on
    ``host:port+K`` for K = 1 .. processes."""
    return [Backend(f"b{k}", host, port + k) for k in range(1, processes + 1)]


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def url(address: str, port: int) -> str:
    """``http://address:port`` (IPv6 addresses in brackets)."""
    return f"http://{_host(address)}:{port}"


def streamlit_command(app: str, port: int, host: str = BACKEND_HOST,
                      python: str = sys.executable) -> list[str]:
    """The command line of one backend: ``streamlit run app`` headless on ``host:port``."""
    return [python, "-m", "streamlit", "run", app,
            "--server.headless", "true",
            "--server.address", host,
            "--server.port", str(port),
            "--browser.gatherUsageStats", "false"]


def server_lines(backends: Sequence[Backend]) -> str:
    """HAProxy's ``server`` lines: each backend's cookie value is its name."""
    return "\n".join(f"    server {b.name} {_host(b.host)}:{b.port} cookie {b.name} check"
                     for b in backends)


def haproxy_config(backends: Sequence[Backend], *, address: str = DEFAULT_ADDRESS,
                   port: int = DEFAULT_PORT, maxconn: int = MAXCONN) -> str:
    """The HAProxy configuration (tested with 2.6) that serves ``backends`` on ``address:port``.

    - ``mode http`` and ``balance leastconn``: a browser without the cookie goes to the
      backend with the fewest open connections (its open websockets are its sessions);
    - ``cookie CONVVIZ_BACKEND insert indirect nocache httponly``: HAProxy adds the cookie
      to that first answer (``nocache``: marked private, so no cache shares it) and strips it
      from the requests it forwards; a browser that sends it reaches the same server
      whatever it asks (the page, the websocket, an upload, a ``/media`` file);
    - health checks ``GET /_stcore/health`` every 2 s; ``option redispatch``: a browser
      whose backend is down starts a new session on another one instead of an error;
    - HTTP keep-alive (HAProxy's default; no ``option http-server-close``, which would close
      every backend connection after one request): the websocket upgrade switches the
      connection to a tunnel, whose idle limit is ``timeout tunnel 1h`` (Streamlit pings its
      websockets every 30 s); ``timeout client-fin``/``server-fin`` drop half-closed ones;
    - ``option forwardfor``: the student's address in ``X-Forwarded-For`` (Streamlit's
      uvicorn trusts it from 127.0.0.1); ``maxconn`` for the class (:data:`MAXCONN`).

    Backends may be on other hosts (``Backend("b3", "10.0.0.12", 8502)``): the names,
    which are the cookie values, must differ.
    """
    names = [b.name for b in backends]
    if not backends or len(set(names)) != len(names):
        raise ValueError(f"haproxy_config needs backends with distinct names. Received: {names}")
    return f"""\
# convviz serve: {len(backends)} Streamlit process(es) behind HAProxy, sticky by cookie.
# Generated by convviz.serve.haproxy_config; run with `haproxy -W -db -f THIS_FILE`.
global
    maxconn {maxconn}
    # one thread is plenty: the Python processes behind it are the bottleneck
    nbthread 1

defaults
    mode http
    option forwardfor
    option redispatch
    retries 2
    timeout connect 5s
    timeout client 5m
    timeout server 5m
    timeout client-fin 30s
    timeout server-fin 30s
    # a websocket is a tunnel once upgraded: this is its idle limit
    timeout tunnel 1h
    timeout http-request 15s
    timeout http-keep-alive 15s
    timeout queue 30s
    timeout check 5s

frontend convviz
    bind {_host(address)}:{port}
    maxconn {maxconn}
    default_backend streamlit

backend streamlit
    balance leastconn
    cookie {COOKIE} insert indirect nocache httponly
    option httpchk
    http-check send meth GET uri {HEALTH_PATH} ver HTTP/1.1 hdr Host localhost
    http-check expect status 200
    default-server inter 2s fall 3 rise 2
{server_lines(backends)}
"""


def maxconn_for(fd_limit: int, wanted: int = MAXCONN) -> int:
    """The ``maxconn`` HAProxy can keep with ``fd_limit`` file descriptors (the hard limit,
    which HAProxy raises its soft limit to): two a connection, plus some to spare.

    >>> maxconn_for(524288), maxconn_for(1024)
    (2000, 462)
    """
    return max(1, min(wanted, (fd_limit - 100) // 2))


def _fd_limit() -> int:
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return 1 << 20
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return 1 << 20 if hard == resource.RLIM_INFINITY else hard


def find_haproxy() -> str:
    """The ``haproxy`` executable on PATH (also /usr/sbin, where Debian puts it), else a
    CLIError saying how to install it or serve one process instead."""
    path = os.environ.get("PATH", os.defpath)
    found = shutil.which("haproxy", path=path)
    if found is None and "/usr/sbin" not in path.split(os.pathsep):
        found = shutil.which("haproxy", path=path + os.pathsep + "/usr/sbin")
    if found is None:
        raise CLIError(INSTALL_HINT)
    return found


def resolve_app(app: str | os.PathLike | None) -> Path:
    """``--app``: the Streamlit script; by default ``app.py`` in the current folder, else the
    one of this checkout (an editable install)."""
    if app is not None:
        candidates = [Path(app)]
    else:
        candidates = [Path("app.py"), Path(__file__).resolve().parents[1] / "app.py"]
    for path in candidates:
        if path.is_file():
            return path.resolve()
    raise CLIError(f"no Streamlit app at {str(candidates[0])!r}: pass --app PATH/TO/app.py")


def port_free(host: str, port: int) -> bool:
    """Whether a server could listen on ``host:port`` now (as HAProxy and uvicorn do, with
    SO_REUSEADDR)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except socket.gaierror:
        return False
    family, kind, proto, _, where = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(where)
        except OSError:
            return False
    return True


def _probe_host(address: str) -> str:
    return {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(address, address)


def _healthy(health_url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(health_url, timeout=timeout) as response:
            return response.status == 200
    except OSError:
        return False


def _tail(path: Path | None, lines: int = LOG_TAIL_LINES) -> str:
    if path is None or not path.exists():
        return ""
    text = path.read_text(errors="replace").strip().splitlines()[-lines:]
    return "\n".join(f"    {line}".rstrip() for line in text)


# ----------------------------------------------------------------------------- processes
def live_groups(pgids: Sequence[int]) -> set[int]:
    """Which of the process groups ``pgids`` still have a running process (zombies, dead
    but not yet reaped by their new parent, do not count)."""
    wanted = set(pgids)
    proc = Path("/proc")
    if not proc.is_dir():  # not Linux: ask the kernel, zombies included
        alive = set()
        for pgid in wanted:
            try:
                os.killpg(pgid, 0)
                alive.add(pgid)
            except (ProcessLookupError, PermissionError):
                pass
        return alive
    return {pgid for _, pgid, state, _ in process_table().values()
            if state != "Z" and pgid in wanted}


def process_table() -> dict[int, tuple[int, int, str, int]]:
    """Every process of this Linux machine: ``pid -> (ppid, pgid, state, start time)``
    (``/proc/<pid>/stat``; a process that ends while it is read is left out)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        table[int(entry.name)] = (int(fields[1]), int(fields[2]), fields[0], int(fields[19]))
    return table


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


try:  # children get SIGTERM when the launcher dies, however it dies (Linux)
    _PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None
except (OSError, AttributeError):  # pragma: no cover
    _PRCTL = None
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child, before exec
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, int(signal.SIGTERM))


#: The watchdog: reads the children's process groups from stdin, one a line; "done" means
#: the launcher stopped them itself. If stdin closes first (the launcher was killed), it
#: stops those groups (SIGTERM, then SIGKILL after STOP_TIMEOUT; Linux: it reads /proc).
#: Signals to the launcher's terminal or group are not for it: the launcher handles those.
_WATCHDOG = """\
# convviz serve: watchdog
import os, signal, sys, time
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)
groups = []
for line in sys.stdin:
    if line.strip() == "done":
        sys.exit(0)
    groups.append(int(line))
def send(sig, group):
    try:
        os.killpg(group, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False
def running():  # a process of the groups that is not a zombie
    try:
        pids = os.listdir("/proc")
    except OSError:  # no /proc: zombies count
        return any(send(0, group) for group in groups)
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) in groups:
            return True
    return False
for group in groups:
    send(signal.SIGTERM, group)
deadline = time.monotonic() + float(sys.argv[1])
while time.monotonic() < deadline and running():
    time.sleep(0.1)
for group in groups:
    send(signal.SIGKILL, group)
"""


@dataclass
class _Child:
    what: str  # "Streamlit process b1 (port 8502)"
    proc: subprocess.Popen
    log: Path | None

    @property
    def pgid(self) -> int:
        return self.proc.pid  # each child leads its own process group


class _Stopped(Exception):
    """A stop signal arrived."""


class _Failure(Exception):
    """A child failed; the message says which and how (with the tail of its log)."""


def _note(message: str) -> None:
    print(f"convviz: {message}", file=sys.stderr, flush=True)


class Launcher:
    """Starts, watches and stops the backends and HAProxy of one ``convviz serve``."""

    def __init__(self, app: Path, backends: Sequence[Backend], haproxy: str, *,
                 address: str, port: int, start_timeout: float = START_TIMEOUT,
                 stop_timeout: float = STOP_TIMEOUT):
        self.app = app
        self.backends = list(backends)
        self.haproxy = haproxy
        self.address = address
        self.port = port
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.children: list[_Child] = []
        self.signals: list[int] = []
        self.watchdog: subprocess.Popen | None = None
        self.tmp: Path | None = None

    # -- signals
    def _on_signal(self, signum, frame) -> None:
        self.signals.append(signum)

    def _check(self) -> None:
        """Raise :class:`_Stopped` on a stop signal, :class:`_Failure` if a child exited."""
        if self.signals:
            raise _Stopped
        for child in self.children:
            code = child.proc.poll()
            if code is not None:
                how = f"was killed by {signal.Signals(-code).name}" if code < 0 else \
                    f"exited with code {code}"
                tail = _tail(child.log)
                if child.log is None:
                    tail = " (its messages are above)"
                elif tail:
                    tail = f" The end of its log ({child.log}):\n{tail}"
                raise _Failure(f"{child.what} {how}; stopping everything.{tail}")

    # -- children
    def _spawn(self, what: str, argv: list[str], *, cwd: Path | None = None,
               log: Path | None = None) -> _Child:
        out = open(log, "wb") if log is not None else None
        try:
            proc = subprocess.Popen(
                argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT if out is not None else None,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                start_new_session=True, preexec_fn=_die_with_parent)
        finally:
            if out is not None:
                out.close()
        child = _Child(what, proc, log)
        self.children.append(child)
        self._tell_watchdog(str(child.pgid))
        return child

    def _start_watchdog(self) -> None:
        self.watchdog = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, str(self.stop_timeout)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, start_new_session=True,
            text=True)

    def _tell_watchdog(self, line: str) -> None:
        if self.watchdog is not None and self.watchdog.stdin is not None:
            try:
                self.watchdog.stdin.write(line + "\n")
                self.watchdog.stdin.flush()
            except (BrokenPipeError, ValueError):
                pass

    def _stop_all(self) -> None:
        """Forward the stop signal (SIGTERM unless it was SIGINT) to every child's group,
        HAProxy first; kill what is left after :attr:`stop_timeout`, or at a second signal."""
        first = len(self.signals)
        sig = signal.SIGINT if self.signals[:1] == [signal.SIGINT] else signal.SIGTERM
        for child in reversed(self.children):
            _killpg(child.pgid, sig)
        deadline = time.monotonic() + self.stop_timeout
        groups = [child.pgid for child in self.children]
        while time.monotonic() < deadline and len(self.signals) == first:
            leaders = [child for child in self.children if child.proc.poll() is None]
            if not leaders and not live_groups(groups):
                break
            time.sleep(0.1)
        for child in self.children:  # stragglers: a child's own children included
            _killpg(child.pgid, signal.SIGKILL)
        for child in self.children:
            child.proc.wait()
        if self.watchdog is not None:
            self._tell_watchdog("done")
            if self.watchdog.stdin is not None:
                try:
                    self.watchdog.stdin.close()
                except BrokenPipeError:
                    pass
            self.watchdog.wait()

    # -- the run
    def run(self) -> int:
        """Serve until a stop signal (exit code 0) or a child's failure (1)."""
        self.tmp = Path(tempfile.mkdtemp(prefix="convviz-serve-"))
        handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        previous = {s: signal.signal(s, self._on_signal) for s in handled}
        code = 1
        try:
            self._serve()
        except _Stopped:
            code = 0
            _note(f"{signal.Signals(self.signals[0]).name}: stopping")
        except _Failure as exc:
            print(f"convviz serve: error: {exc}", file=sys.stderr, flush=True)
        finally:
            try:
                self._stop_all()
            finally:
                for s, handler in previous.items():
                    signal.signal(s, handler)
        if code == 0:
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            _note(f"logs kept in {self.tmp}")
        return code

    def _serve(self) -> None:
        self._start_watchdog()
        started = time.monotonic()
        first, last = self.backends[0].port, self.backends[-1].port
        _note(f"starting {len(self.backends)} Streamlit process(es) of {self.app} on "
              f"{BACKEND_HOST}:{first}" + (f"-{last}" if last != first else "")
              + f" (logs in {self.tmp})")
        assert self.tmp is not None
        by_name = {}
        for b in self.backends:
            by_name[b.name] = self._spawn(
                f"Streamlit process {b.name} (port {b.port})",
                streamlit_command(self.app.name, b.port, b.host),
                cwd=self.app.parent, log=self.tmp / f"{b.name}.log")
        pending = list(self.backends)
        deadline = started + self.start_timeout
        while pending:
            self._check()
            pending = [b for b in pending
                       if not _healthy(f"{url(b.host, b.port)}{HEALTH_PATH}")]
            if pending and time.monotonic() > deadline:
                child = by_name[pending[0].name]
                raise _Failure(f"{child.what} did not answer {HEALTH_PATH} within "
                               f"{self.start_timeout:g} s; stopping everything. The end of "
                               f"its log ({child.log}):\n{_tail(child.log)}")
            if pending:
                time.sleep(0.2)
        up = time.monotonic()
        _note(f"{len(self.backends)} Streamlit process(es) healthy after {up - started:.1f} s; "
              f"starting HAProxy")

        config = self.tmp / "haproxy.cfg"
        maxconn = maxconn_for(_fd_limit())
        if maxconn < MAXCONN:
            _note(f"the file descriptor limit ({_fd_limit()}) allows HAProxy {maxconn} "
                  f"connections, not {MAXCONN}: raise it with `ulimit -n`")
        config.write_text(haproxy_config(self.backends, address=self.address, port=self.port,
                                         maxconn=maxconn))
        self._spawn("HAProxy", [self.haproxy, "-W", "-db", "-f", str(config)])
        proxy_health = f"{url(_probe_host(self.address), self.port)}{HEALTH_PATH}"
        deadline = time.monotonic() + self.start_timeout
        while not _healthy(proxy_health):
            self._check()
            if time.monotonic() > deadline:
                raise _Failure(f"HAProxy did not answer {proxy_health} within "
                               f"{self.start_timeout:g} s (its messages are above); "
                               "stopping everything.")
            time.sleep(0.1)
        _note(f"ready after {time.monotonic() - started:.1f} s")
        if self.address in ("0.0.0.0", "::"):
            _note(f"on the network: http://{socket.gethostname()}:{self.port} (or this "
                  f"machine's IP address)")
        print(f"convviz: serving {url(self.address, self.port)} with {len(self.backends)} "
              f"Streamlit process{'es' * (len(self.backends) != 1)}", flush=True)
        while True:
            self._check()
            time.sleep(0.25)


def run(processes: int | None = None, port: int = DEFAULT_PORT,
        address: str = DEFAULT_ADDRESS, app: str | os.PathLike | None = None,
        start_timeout: float = START_TIMEOUT, print_config: bool = False) -> int:
    """``convviz serve``: check the arguments, then serve until stopped; the exit code.

    Usage errors (and a missing ``haproxy``) raise :class:`convviz.cli.CLIError` (exit 2)
    before anything starts. ``print_config`` prints the HAProxy configuration and returns.
    """
    processes = check_processes(processes)
    port = check_port(port, processes)
    address = check_address(address)
    if not start_timeout > 0:
        raise CLIError(f"--start-timeout must be a positive number of seconds. "
                       f"Received: {start_timeout}")
    backends = backends_for(port, processes)
    if print_config:
        sys.stdout.write(haproxy_config(backends, address=address, port=port))
        return 0
    haproxy = find_haproxy()
    app_path = resolve_app(app)
    for host, p in [(address, port)] + [(b.host, b.port) for b in backends]:
        if not port_free(host, p):
            raise CLIError(f"cannot listen on {_host(host)}:{p} (in use, or not an address of "
                           f"this machine): convviz serve --port {port} needs ports {port} to "
                           f"{port + processes}; pick another --port")
    launcher = Launcher(app_path, backends, haproxy, address=address, port=port,
                        start_timeout=start_timeout)
    return launcher.run()
