"""The local executor: one fork server per DAG file, one forked process per try.

    scheduler ──(socket, JSON lines)──> fork server (flowctl + the DAG file imported)
                                          └─ fork ─> task process (own process group,
                                                     stdout/stderr = the try's log file,
                                                     result back through a pipe)

Starting a try costs a fork of a warm process, not an interpreter start and
an import of the DAG file. A try that segfaults or calls `os._exit` ends
without a result; the fork server reports how it died and nothing else is
touched. If the scheduler dies, its fork servers see the socket close and
kill their tries, so a restarted scheduler finds them gone and runs them again.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys
import time
from typing import Any

from flowctl.executors.base import Event, Finished, Job, Started
from flowctl.records import JobKey

_PRELOAD = ("pendulum", "flowctl.runtime.templating", "flowctl.runtime.runner", "flowctl.runtime.context", "flowctl.store",
            "flowctl.config", "flowctl.variables", "flowctl.connections", "flowctl.masking")


def describe_status(status: int) -> tuple[int, str]:
    """(exit code or -signal, words) from a waitpid status."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        return -sig, f"killed by {name}"
    code = os.waitstatus_to_exitcode(status)
    return code, f"exit code {code}"


def _send(sock: socket.socket, message: dict[str, Any]) -> None:
    sock.sendall(json.dumps(message).encode() + b"\n")


def _exited(pid: int) -> bool | None:
    """Whether a try's process has exited, without reaping it; None where
    Python has no `waitid` to ask (macOS before 3.13)."""
    waitid = getattr(os, "waitid", None)
    if waitid is None:
        return None
    return waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def _end_group(pid: int) -> None:
    """Kill whatever is left of a try's process group (the processes it
    started), so that nothing of a try outlives its end and overlaps its next
    try (Airflow reaps a task's group the same way). Called while the try's
    own process is alive or a zombie: its pid, the group's id, cannot have
    been given to another process yet."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


class _LineReader:
    def __init__(self) -> None:
        self.buf = bytearray()

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        self.buf.extend(data)
        out: list[dict[str, Any]] = []
        while True:
            nl = self.buf.find(b"\n")
            if nl < 0:
                return out
            line = bytes(self.buf[:nl])
            del self.buf[: nl + 1]
            if line:
                out.append(json.loads(line))


# -- the fork server process -------------------------------------------------------


def _serve(fileloc: str, sock: socket.socket) -> None:
    """The fork server's main loop. Never returns."""
    from flowctl.runtime.runner import task_process_main

    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the scheduler's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    import importlib

    for name in _PRELOAD:
        importlib.import_module(name)
    from flowctl.procs import die_with_parent, load_prctl

    load_prctl()
    me = os.getpid()
    try:
        from flowctl.loader import describe_exception, import_dag_file

        dags = {d.dag_id: d for d in import_dag_file(fileloc)}
    except BaseException as exc:  # noqa: BLE001
        message, _ = describe_exception(exc, fileloc)
        _send(sock, {"op": "import_failed", "error": message})
        os._exit(0)
    import gc

    from flowctl.runtime.runner import prepare_fork_server

    # what is loaded now is never scanned by a try's collector: its pages stay shared. No full
    # collection first: the imports leave little garbage, and it would hold the first try 9 ms
    gc.freeze()
    forked = 0  # tries started; before the second, the server makes what every try would (Jinja: 30 ms),
    # so a run of one task never waits for it and a try that renders nothing never imports it
    children: dict[int, tuple[int, int, bytearray]] = {}  # result fd -> (wire id, pid, data)
    exiting: set[int] = set()  # tries that handed their result over and are on their way out
    reader = _LineReader()
    last_reap = time.monotonic()
    # what the server says goes out when the socket takes it: a blocking send could wait on a
    # scheduler that is itself blocked sending more tries, and neither would read (hundreds of
    # slots filled at once did that)
    outbox = bytearray()
    sock.setblocking(False)

    def say(message: dict[str, Any]) -> None:
        outbox.extend(json.dumps(message).encode() + b"\n")
        flush()

    def flush() -> None:
        try:
            while outbox:
                del outbox[: sock.send(outbox)]
        except BlockingIOError:
            pass
        except OSError:  # the scheduler is gone: its end of the socket reads empty next
            outbox.clear()

    def finish(fd: int) -> None:
        key, pid, data = children.pop(fd)
        os.close(fd)
        result = None
        if data:
            try:
                result = json.loads(data)
            except ValueError:
                result = None
        _end_group(pid)
        if result is not None:
            # the try's last act was to hand its result over: report it now and reap the
            # process when it is gone, rather than wait here while the kernel tears it down
            exiting.add(pid)
            say({"op": "finished", "key": key, "result": result, "exit_code": 0, "how": "exit code 0",
                 "at": time.time()})
            return
        _, status = os.waitpid(pid, 0)
        code, how = describe_status(status)
        say({"op": "finished", "key": key, "result": None, "exit_code": code, "how": how, "at": time.time()})

    def reap() -> None:
        for pid in list(exiting):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                exiting.discard(pid)

    while True:
        fds = [sock.fileno(), *children]
        wait = 0.05 if exiting else (1.0 if children else None)
        ready, writable, _ = select.select(fds, [sock.fileno()] if outbox else [], [], wait)
        if writable:
            flush()
        if exiting:
            reap()
        for fd in ready:
            if fd == sock.fileno():
                try:
                    data = sock.recv(1 << 16)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:  # the scheduler is gone: take the tries down with us
                    for _, pid, _ in children.values():
                        try:
                            os.killpg(pid, signal.SIGKILL)
                        except OSError:
                            pass
                    os._exit(0)
                for msg in reader.feed(data):
                    if msg["op"] == "run":
                        if forked == 1:
                            prepare_fork_server(dags)
                            gc.freeze()
                        forked += 1
                        read_fd, write_fd = os.pipe()
                        pid = os.fork()
                        if pid == 0:
                            die_with_parent(me)  # a try never outlives its fork server
                            sock.close()
                            os.close(read_fd)
                            for other in children:
                                os.close(other)
                            task_process_main(dags, msg["payload"], write_fd)
                        os.close(write_fd)
                        try:
                            os.setpgid(pid, pid)  # also done by the child: no race either way
                        except OSError:
                            pass
                        children[read_fd] = (msg["key"], pid, bytearray())
                        say({"op": "started", "key": msg["key"], "pid": pid, "at": time.time()})
            else:
                chunk = os.read(fd, 1 << 16)
                if chunk:
                    children[fd][2].extend(chunk)
                else:
                    finish(fd)
        now = time.monotonic()
        if now - last_reap > 1.0:
            # a try whose pipe stays open (a forked grandchild holds it) but that has exited
            last_reap = now
            for fd, (_key, pid, _data) in list(children.items()):
                status = 0
                try:
                    exited = _exited(pid)
                    if exited:
                        _end_group(pid)  # before the reap, while the pid is still the try's
                    done, status = os.waitpid(pid, os.WNOHANG)
                    if done and exited is None:
                        _end_group(pid)  # just after it: a pid is not given out again that soon
                except ChildProcessError:
                    done = pid
                if done:
                    buf = children[fd][2]
                    os.set_blocking(fd, False)  # the try has exited: its result is in the pipe
                    try:
                        while chunk := os.read(fd, 1 << 16):
                            buf.extend(chunk)
                    except BlockingIOError:
                        pass  # a grandchild still holds the pipe open; what the try wrote is read
                    os.close(fd)
                    key, _, buf = children.pop(fd)
                    code, how = describe_status(status) if done == pid else (None, "exited")
                    try:
                        result = json.loads(buf) if buf else None
                    except ValueError:
                        result = None
                    say({"op": "finished", "key": key, "result": result, "exit_code": code, "how": how,
                         "at": time.time()})


class ForkServer:
    """The scheduler's handle on one fork server."""

    _open: set[socket.socket] = set()  # every server's socket in this process

    def __init__(self, fileloc: str) -> None:
        self.fileloc = fileloc
        parent, child = socket.socketpair()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            os.setpgid(0, 0)  # outlive a kill of the scheduler's group, to take our tries down
            parent.close()
            for other in list(ForkServer._open):  # else a sibling never sees its socket close
                other.close()
            # and nothing else of the scheduler's leaks into tries (the wake FIFO, say)
            keep = child.fileno()
            os.closerange(3, keep)
            os.closerange(keep + 1, 1 << 16)
            try:
                _serve(fileloc, child)
            finally:
                os._exit(1)
        child.close()
        self.pid = pid
        self.sock = parent
        ForkServer._open.add(parent)
        self.reader = _LineReader()
        self.keys: set[int] = set()
        self.alive = True

    def send(self, wire: int, payload: dict[str, Any]) -> None:
        self.keys.add(wire)
        try:
            _send(self.sock, {"op": "run", "key": wire, "payload": payload})
        except OSError:
            pass  # the server is gone; poll reports it and its jobs



    def close(self, wait: bool = True) -> None:
        if self.alive:
            self.alive = False
            ForkServer._open.discard(self.sock)
            self.sock.close()
            if not self.keys:  # no try of ours in it: end it now, not when a slow DAG import is over
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except OSError:
                    pass
        if wait:
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass


class LocalExecutor:
    """Runs jobs in forked processes on this machine; the engine limits how many."""

    name = "local"

    def __init__(self) -> None:
        self._servers: dict[str, ForkServer] = {}  # fileloc + version -> server
        self._by_fd: dict[int, ForkServer] = {}
        self._ids: dict[int, JobKey] = {}  # wire id -> key
        self._wire: dict[JobKey, int] = {}  # key -> wire id
        self._next_id = 1
        self._pids: dict[JobKey, int] = {}
        self.wake_fds: list[int] = []  # also wake `poll` when one of these is readable
        self._kill_on_start: set[JobKey] = set()

    def server_for(self, fileloc: str, version: str = "") -> ForkServer:
        """The fork server for this file; a changed file gets a new one."""
        ident = f"{fileloc}\0{version}"
        server = self._servers.get(ident)
        if server is None or not server.alive:
            for old_ident, old in list(self._servers.items()):
                if old.fileloc == fileloc and not old.keys:
                    self._by_fd.pop(old.sock.fileno(), None)
                    old.close()
                    del self._servers[old_ident]
            server = ForkServer(fileloc)
            self._servers[ident] = server
            self._by_fd[server.sock.fileno()] = server
        return server

    def prepare(self, fileloc: str, version: str) -> None:
        self.server_for(fileloc, version)

    def submit(self, job: Job) -> None:
        wire = self._next_id
        self._next_id += 1
        self._ids[wire] = job.key
        self._wire[job.key] = wire
        server = self.server_for(job.fileloc, job.version)
        server.send(wire, job.payload)

    def running(self) -> int:
        return len(self._wire)

    def pid_of(self, key: JobKey) -> int | None:
        return self._pids.get(key)

    def _done(self, wire: int) -> JobKey | None:
        key = self._ids.pop(wire, None)
        if key is not None:
            self._wire.pop(key, None)
            self._pids.pop(key, None)
            self._kill_on_start.discard(key)
        return key

    def poll(self, timeout: float) -> list[Event]:
        events: list[Event] = []
        fds = [*self._by_fd, *self.wake_fds]
        if not fds:
            if timeout > 0:
                time.sleep(timeout)
            return events
        ready, _, _ = select.select(fds, [], [], max(0.0, timeout))
        host = socket.gethostname()
        for fd in ready:
            if fd in self.wake_fds:
                try:
                    os.read(fd, 4096)  # drain the pokes; the caller's next tick looks at the store
                except BlockingIOError:
                    pass
                continue
            server = self._by_fd.get(fd)
            if server is None:
                continue
            try:
                data = server.sock.recv(1 << 16)
            except OSError:
                data = b""
            if not data:
                events.extend(self._server_died(server, "its fork server died"))
                continue
            for msg in server.reader.feed(data):
                op = msg["op"]
                wire = msg.get("key")
                key = self._ids.get(wire) if isinstance(wire, int) else None
                if op == "started":
                    if key is None:
                        continue
                    self._pids[key] = msg["pid"]
                    events.append(Started(key, msg["pid"], host, msg.get("at")))
                    if key in self._kill_on_start:  # killed before we knew its pid
                        self._kill_on_start.discard(key)
                        self.kill(key, hard=True)
                elif op == "finished":
                    server.keys.discard(msg["key"])
                    key = self._done(msg["key"])
                    if key is not None:
                        events.append(Finished(key, msg["result"], msg["exit_code"], msg["how"], msg.get("at")))
                elif op == "import_failed":
                    events.extend(self._server_died(server, f"the DAG file failed to import: {msg['error']}",
                                                    lost=False))
        return events

    def _server_died(self, server: ForkServer, why: str, lost: bool = True) -> list[Event]:
        """Every job of a dead server ends; with `lost`, its process may still
        run (the engine makes sure it is gone before the task runs again)."""
        events: list[Event] = []
        for wire in sorted(server.keys):
            key = self._ids.get(wire)
            pid = self._pids.get(key) if key is not None else None
            self._done(wire)
            if key is not None:
                result = None if lost else {"state": "failed", "error": why, "xcom": {}}
                events.append(Finished(key, result, None, why, lost=lost, pid=pid))
        server.keys.clear()
        self._by_fd.pop(server.sock.fileno(), None)
        server.close()
        return events

    def kill(self, key: JobKey, hard: bool = False) -> None:
        pid = self._pids.get(key)
        if pid is None:
            if key in self._wire:
                self._kill_on_start.add(key)
            return
        try:
            os.killpg(pid, signal.SIGKILL if hard else signal.SIGTERM)
        except OSError:
            pass

    def shutdown(self, grace: float = 0.0) -> list[Event]:
        """Wait up to `grace` s for running jobs, kill the rest, stop the servers."""
        events: list[Event] = []
        deadline = time.monotonic() + grace
        while self._wire and time.monotonic() < deadline:
            events.extend(self.poll(min(0.2, max(0.0, deadline - time.monotonic()))))
        if self._wire:
            for key in list(self._wire):
                self.kill(key, hard=True)
            end = time.monotonic() + 5
            while self._wire and time.monotonic() < end:
                events.extend(self.poll(0.2))
        for server in self._servers.values():
            server.close(wait=False)
        for server in self._servers.values():
            server.close()
        self._servers.clear()
        self._by_fd.clear()
        return events
