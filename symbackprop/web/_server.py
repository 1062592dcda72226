"""Starting the server: a socket bound to the address asked for (a free port by default), uvicorn on it."""
from __future__ import annotations

import ipaddress
import socket
import sys
import threading

from ..errors import SymbackpropError

LOOPBACK = "127.0.0.1"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port`` (0: a free port); an address that cannot be used is bad input."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICSERV)
    except socket.gaierror as error:
        raise SymbackpropError(f"--host {host}: not an address of this machine ({error.strerror}); "
                               f"accepted: an IP address or a host name, e.g. 127.0.0.1") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as error:
        sock.close()
        raise SymbackpropError(f"--port {port}: cannot listen on {host}:{port}: {error.strerror}; "
                               f"choose another port, or 0 for a free one") from None
    sock.listen(128)
    return sock


def serve(host: str = LOOPBACK, port: int = 0, open_browser: bool = True, budget: float = 30.0,
          workers: int = 2, out=sys.stdout) -> None:
    """Serve the page until interrupted; prints its address once the workers are ready."""
    try:
        import uvicorn
        from ._app import create_app
    except ImportError as error:
        raise SymbackpropError(f"symbackprop serve needs {error.name}: pip install 'symbackprop[serve]'") from None
    from ._pool import WorkerPool
    sock = listen(host, port)
    bound_port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{bound_port}/"

    def ready():
        print(f"symbackprop serve: {url} (Ctrl+C to stop)", file=out, flush=True)
        if open_browser:
            import webbrowser
            threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()

    hosts = ["127.0.0.1", "localhost", "::1", host] if is_loopback(host) else ["*"]
    app = create_app(WorkerPool(size=workers, budget=budget), allowed_hosts=hosts, on_ready=ready)
    config = uvicorn.Config(app, log_level="warning", access_log=False, limit_concurrency=256,
                            timeout_graceful_shutdown=5, lifespan="on")
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
