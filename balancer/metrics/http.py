"""A small HTTP server for ``/metrics``: one thread per request, the body made by a
function (the exporter's ``scrape``). prometheus-client's own server takes a registry;
the exporter's body is a registry's output plus the per-host lines it writes itself
(``exposition``), so it is served here."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST

log = logging.getLogger(__name__)

INDEX = b"<html><body><a href='/metrics'>/metrics</a></body></html>\n"


class MetricsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], body: Callable[[], bytes]) -> None:
        self.body = body
        super().__init__(address, _Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _Handler(BaseHTTPRequestHandler):
    server: MetricsServer

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            try:
                data = self.server.body()
            except Exception:
                log.exception("rendering /metrics failed")
                self._send(
                    500, b"rendering /metrics failed; see the exporter's log\n", "text/plain"
                )
                return
            self._send(200, data, CONTENT_TYPE_LATEST)
        elif path == "/":
            self._send(200, INDEX, "text/html")
        else:
            self._send(404, b"not found\n", "text/plain")

    def _send(self, code: int, data: bytes, content_type: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s " + format, self.address_string(), *args)


def start_server(body: Callable[[], bytes], port: int, address: str = "") -> MetricsServer:
    """Serve ``body()`` on ``address:port`` (port 0: any free one) in a daemon thread."""
    server = MetricsServer((address, port), body)
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
    return server
