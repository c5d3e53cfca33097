"""Two ways to reach the emulator, both ending in the same `handle(HttpRequest) -> HttpResponse`.

1. In process: a `before-send.connect` hook on a real boto3 client. botocore emits it after
   serializing and signing each attempt; a handler that returns an `AWSResponse` replaces the HTTP
   send, so the real serializer, response parser and retry handler all run (retries go through the
   hook again).
2. Over HTTP: a `ThreadingHTTPServer` on loopback, for clients configured with `endpoint_url` or
   `AWS_ENDPOINT_URL_CONNECT`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders

if TYPE_CHECKING:
    from botocore.client import BaseClient

from connect_emulator.model import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

Dispatcher = Callable[[HttpRequest], HttpResponse]
HOOK_EVENT = "before-send.connect"


class _RawBody:
    """The minimal raw-response object botocore reads an `AWSResponse` body from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body

    def read(self, *_: Any) -> bytes:
        body, self._body = self._body, b""
        return body


def _body_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    if hasattr(body, "read"):
        data = body.read()
        if hasattr(body, "seek"):
            body.seek(0)  # botocore rewinds the body itself before a retry; stay consistent
        return data if isinstance(data, bytes) else str(data).encode("utf-8")
    return bytes(body)


class BotocoreHook:
    """A `before-send` handler answering every request of a client from the emulator."""

    def __init__(self, dispatch: Dispatcher) -> None:
        self._dispatch = dispatch

    def __call__(self, request: Any, **_: Any) -> AWSResponse:
        headers = {str(k): (v.decode() if isinstance(v, bytes) else str(v)) for k, v in request.headers.items()}
        http_request = HttpRequest.from_url(request.method, request.url, headers, _body_bytes(request.body))
        response = self._dispatch(http_request)
        answer = HTTPHeaders.from_dict(dict(response.headers))
        return AWSResponse(request.url, response.status, answer, _RawBody(response.body))


def attach_hook(client: BaseClient, dispatch: Dispatcher, unique_id: str) -> None:
    service = client.meta.service_model.service_name
    if service != "connect":
        raise ValueError(f"the Connect emulator attaches to a 'connect' client, not {service!r}")
    # A before-send handler answers the response; botocore-stubs 1.43 types handlers as returning None.
    client.meta.events.register(HOOK_EVENT, BotocoreHook(dispatch), unique_id=unique_id)  # type: ignore[arg-type]


def detach_hook(client: BaseClient, unique_id: str) -> None:
    client.meta.events.unregister(HOOK_EVENT, unique_id=unique_id)


# ------------------------------------------------------------------------------------ HTTP server


def _handler_class(dispatch: Dispatcher) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 30  # idle keep-alive connections end after this many seconds

        def _dispatch(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path, _, query = self.path.partition("?")
            headers = {key.lower(): value for key, value in self.headers.items()}
            response = dispatch(HttpRequest(self.command, path, query, headers, body))
            self.send_response(response.status)
            for key, value in response.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _dispatch

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug(format, *args)

    return Handler


def make_server(dispatch: Dispatcher, host: str, port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), _handler_class(dispatch))
    server.daemon_threads = True
    return server


def server_url(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    shown = host.decode() if isinstance(host, bytes) else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


@contextlib.contextmanager
def serve_in_thread(dispatch: Dispatcher, host: str, port: int) -> Iterator[str]:
    """Serve on a daemon thread for the duration of the `with` block; yields the endpoint URL."""
    server = make_server(dispatch, host, port)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    url = server_url(server)
    logger.info("connect emulator listening url=%s", url)
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def serve_blocking(dispatch: Dispatcher, host: str, port: int) -> None:
    """Serve until interrupted (Ctrl-C)."""
    server = make_server(dispatch, host, port)
    logger.info("connect emulator listening url=%s", server_url(server))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        logger.info("connect emulator stopped")
    finally:
        server.server_close()
