"""A `symbackprop serve` process for the serve tests, and plain HTTP to it over the loopback address only.

The server is started as a user starts it (``python -m symbackprop serve --no-browser``); its address is read
from the line it prints. Requests go to that address alone (127.0.0.1), through urllib.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import selectors
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOOPBACK_URL = re.compile(r"http://127\.0\.0\.1:(\d+)/")


@contextlib.contextmanager
def running_server(time_limit: float = 5, start_within: float = 120):
    """Yield (url, process) of a server on 127.0.0.1 with a free port; stopped (and reaped) afterwards."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    process = subprocess.Popen([sys.executable, "-m", "symbackprop", "serve", "--no-browser",
                                "--time-limit", str(time_limit)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, env=env, text=True)
    try:
        url = _address(process, start_within)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        process.stdout.close()
        process.stderr.close()


def _address(process, within: float) -> str:
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not selector.select(timeout=1):
            if process.poll() is not None:
                break
            continue
        line = process.stdout.readline()
        found = LOOPBACK_URL.search(line)
        if found:
            return found.group(0)
        if not line and process.poll() is not None:
            break
    detail = process.stderr.read()[-2000:] if process.poll() is not None else f"nothing within {within} s"
    raise AssertionError(f"the server did not print its address: {detail}")


def request(url: str, path: str, data=None, raw: bytes | None = None, timeout: float = 120,
            headers=None) -> tuple[int, dict | str]:
    """(status, JSON answer or text) of a GET (no data) or a POST of ``data`` as JSON (or ``raw`` bytes)."""
    assert url.startswith("http://127.0.0.1:"), url       # loopback only, never any other address
    body = raw if raw is not None else (json.dumps(data).encode() if data is not None else None)
    call = urllib.request.Request(url.rstrip("/") + path, data=body, headers={"Content-Type": "application/json",
                                                                             **(headers or {})})
    try:
        with urllib.request.urlopen(call, timeout=timeout) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (Linux's /proc)."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                queue += [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                pass
    return found


def rss_mib(pids) -> float:
    """The resident memory of the processes ``pids`` together, in MiB."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def listening_addresses(port: int) -> set[str]:
    """The local addresses of the TCP sockets listening on ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, port_hex = fields[1].rsplit(":", 1)
            if int(port_hex, 16) == port and fields[3] == "0A":     # 0A: LISTEN
                found.add(_address_text(address))
    return found


def _address_text(hex_address: str) -> str:
    if len(hex_address) == 8:
        return ".".join(str(b) for b in reversed(bytes.fromhex(hex_address)))
    return hex_address
