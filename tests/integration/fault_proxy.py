"""A loopback HTTP proxy in front of the moto server that fails chosen requests: fault injection over real HTTP.

Every request is forwarded to moto unchanged, and named by its AWS operation (``dynamodb:BatchWriteItem``,
``ec2:StopInstances``, read from the JSON protocol's ``X-Amz-Target`` header or the query protocol's ``Action``).
A test lists the operations of a clean pass (:attr:`FaultProxy.calls`), then fails the Nth one, or every call
after a point: the proxy answers that call with an AWS error the SDK does not retry (AccessDenied), so "the call
failed" means exactly one failed request, whatever botocore's and PynamoDB's retry settings are.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

_SERVICE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "content-encoding"}


def operation(headers: dict[str, str], body: bytes) -> str:
    """``service:Operation`` of one request."""
    auth = headers.get("authorization", "")
    found = _SERVICE.search(auth)
    service = found.group(1) if found else "unknown"
    target = headers.get("x-amz-target")
    if target:
        return f"{service}:{target.rsplit('.', 1)[-1]}"
    try:
        action = parse_qs(body.decode("utf-8", "replace")).get("Action", ["?"])[0]
    except Exception:
        action = "?"
    return f"{service}:{action}"


def _error(op: str) -> tuple[int, dict[str, str], bytes]:
    service = op.split(":", 1)[0]
    if service == "dynamodb":
        body = json.dumps(
            {"__type": "com.amazonaws.dynamodb.v20120810#AccessDeniedException", "message": f"injected fault: {op}"}
        )
        return 400, {"Content-Type": "application/x-amz-json-1.0"}, body.encode()
    if service == "ec2":
        xml = (
            "<Response><Errors><Error><Code>UnauthorizedOperation</Code>"
            f"<Message>injected fault: {op}</Message></Error></Errors><RequestID>fault</RequestID></Response>"
        )
        return 403, {"Content-Type": "text/xml"}, xml.encode()
    xml = (
        "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
        f"<Message>injected fault: {op}</Message></Error><RequestId>fault</RequestId></ErrorResponse>"
    )
    return 403, {"Content-Type": "text/xml"}, xml.encode()


class FaultProxy:
    """Forwards to ``upstream``; ``should_fail(index, op)`` decides per request (index counts from 1)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.calls: list[str] = []
        self.failed: list[str] = []
        self.should_fail: Callable[[int, str], bool] = lambda _n, _op: False
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: object) -> None:
                return None

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                op = operation(headers, body)
                with proxy._lock:
                    proxy.calls.append(op)
                    fail = proxy.should_fail(len(proxy.calls), op)
                    if fail:
                        proxy.failed.append(op)
                if fail:
                    status, out_headers, data = _error(op)
                else:
                    req = urllib.request.Request(
                        proxy.upstream + self.path,
                        data=body if self.command != "GET" or body else None,
                        method=self.command,
                        headers={k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP},
                    )
                    try:
                        with urllib.request.urlopen(req, timeout=60) as resp:
                            status, data = resp.status, resp.read()
                            out_headers = {k: v for k, v in resp.headers.items() if k.lower() not in _HOP_BY_HOP}
                    except urllib.error.HTTPError as exc:
                        status, data = exc.code, exc.read()
                        out_headers = {k: v for k, v in exc.headers.items() if k.lower() not in _HOP_BY_HOP}
                self.send_response(status)
                for k, v in out_headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _relay

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def reset(self, should_fail: Callable[[int, str], bool] | None = None) -> None:
        with self._lock:
            self.calls.clear()
            self.failed.clear()
            self.should_fail = should_fail or (lambda _n, _op: False)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
