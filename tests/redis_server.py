"""A real redis-server on a free port for the shared-state tests (no persistence), started and stopped here.

The binary is required: the tests fail (not skip) without it — install it with ``make redis`` (Debian's
``redis-server`` package).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tests.harness import free_port

INSTALL_HINT = "redis-server not found: install it (`make redis`, or `apt-get install redis-server`)"


class RedisServer:
    """One redis-server process; ``stop`` and ``start`` again keep the port (to test a Redis restart)."""

    def __init__(self, port: int | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(INSTALL_HINT)
        self.binary = binary
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode} on port {self.port}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError(f"redis-server did not answer on port {self.port}")

    def stop(self) -> None:
        """Kill the server (SIGKILL: like a crash, nothing saved)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    """A running server for the duration of the block."""
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def redis_dump(port: int) -> bytes:
    """Every key, string value, hash field and hash value in the Redis on ``port``, joined by newlines (to
    check that no secret is stored in clear). Other Redis types fail the test: the gateway uses none."""
    import redis as sync_redis

    client = sync_redis.Redis(port=port)
    dump: list[bytes] = []
    try:
        for key in client.scan_iter("*"):
            dump.append(key)
            kind = client.type(key)
            if kind == b"string":
                dump.append(client.get(key) or b"")
            elif kind == b"hash":
                for field, value in client.hgetall(key).items():
                    dump.extend([field, value])
            else:
                raise AssertionError(f"unexpected Redis type {kind!r} for {key!r}")
    finally:
        client.close()
    return b"\n".join(dump)
