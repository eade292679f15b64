#!/usr/bin/env python3
"""HTTPS webhook receiver used by Breeze's end-to-end tests as an independent oracle.

Every POST is checked with the `standardwebhooks` package from PyPI (never with Breeze code),
once per secret listed in --secrets-file, and recorded as one JSON line in --log. See
README.md beside this file for the command line and the log format, which the Node receiver
(webhook_receiver.mjs) shares.

Python 3.11, standard library + standardwebhooks==1.1.0 only.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

RECEIVER = "python"
MAX_BODY = 1024 * 1024  # 1 MiB
IO_TIMEOUT = 30.0  # seconds, per socket operation (TLS handshake included)


class TooLarge(Exception):
    pass


class BadRequest(Exception):
    pass


def warn(msg: str) -> None:
    print(f"webhook_receiver.py: {msg}", file=sys.stderr, flush=True)


def _reject_constant(name: str) -> None:
    # Python's json accepts NaN/Infinity, JSON (and the Node receiver) does not.
    raise ValueError(f"not JSON: {name}")


def parse_json(raw: bytes) -> tuple[bool, object]:
    """(True, value) when the body is UTF-8 JSON, else (False, None)."""
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        json.dumps(value)  # nesting too deep to write back counts as not JSON
        return True, value
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False, None


def load_secrets(path: str) -> list[tuple[str, str]]:
    try:
        with open(path, encoding="utf-8") as f:
            entries = json.load(f)
    except (OSError, ValueError) as e:
        warn(f"cannot read secrets file {path}: {e}")
        return []
    if not isinstance(entries, list):
        warn(f"secrets file {path} is not a JSON array")
        return []
    out = []
    for entry in entries:
        if isinstance(entry, dict) and isinstance(entry.get("secret"), str):
            out.append((str(entry.get("name")), entry["secret"]))
    return out


def verified_with(secrets_file: str, body: bytes, headers: dict[str, str]) -> list[str]:
    names = []
    for name, secret in load_secrets(secrets_file):
        try:
            Webhook(secret).verify(body, headers, json_parse=False)
        except Exception:  # bad secret, missing/malformed headers, stale timestamp, bad signature
            continue
        names.append(name)
    return names


def read_status_file(path: str | None) -> int | None:
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read().strip()
    except OSError:
        return None
    try:
        status = int(text)
    except ValueError:
        warn(f"status file {path} does not hold an integer: {text!r}")
        return None
    if not 200 <= status <= 599:
        warn(f"status file {path}: {status} is outside 200-599, ignored")
        return None
    return status


class Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, args: argparse.Namespace, ctx: ssl.SSLContext):
        super().__init__(("127.0.0.1", 0), Handler)
        self.args = args
        self.ssl_context = ctx
        self.log_lock = threading.Lock()

    def finish_request(self, request, client_address):
        # The TLS handshake runs here, in the connection's own thread, so one slow or
        # failing client never blocks accept() for the others.
        request.settimeout(IO_TIMEOUT)
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            warn(f"TLS handshake with {client_address[0]}:{client_address[1]} failed: {e}")
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        warn(f"error while serving {client_address}: {sys.exc_info()[1]!r}")

    def append_log(self, record: dict) -> None:
        line = (json.dumps(record, ensure_ascii=True, separators=(",", ":")) + "\n").encode("ascii")
        with self.log_lock:
            fd = os.open(self.args.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                view = memoryview(line)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Receiver

    def log_request(self, code="-", size="-"):
        pass  # the JSON log is the record; errors still go to stderr via log_error

    def _send(self, status: int, body: bytes, content_type: str, extra: dict | None = None) -> None:
        self.send_response(status)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        if status in (204, 304):
            body = b""
        else:
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if body:
            self.wfile.write(body)
        self.wfile.flush()

    def _send_json(self, status: int, extra: dict | None = None) -> None:
        ok = 200 <= status < 300
        self._send(status, json.dumps({"ok": ok}).encode(), "application/json", extra)

    def do_GET(self):
        if self.path.split("?", 1)[0] == "/health":
            self._send(200, b"ok", "text/plain")
        else:
            self._send(404, b"not found", "text/plain")

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            line = self.rfile.readline(1024)
            if not line.endswith(b"\n"):
                raise BadRequest("bad chunk size line")
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise BadRequest("bad chunk size") from None
            if size < 0:
                raise BadRequest("bad chunk size")
            if size == 0:
                while True:  # trailers, up to the blank line
                    trailer = self.rfile.readline(8192)
                    if trailer in (b"\r\n", b"\n", b""):
                        return bytes(body)
            if len(body) + size > MAX_BODY:
                raise TooLarge()
            chunk = self.rfile.read(size)
            if len(chunk) != size:
                raise BadRequest("truncated chunk")
            body += chunk
            if self.rfile.readline(3) not in (b"\r\n", b"\n"):
                raise BadRequest("missing CRLF after chunk")

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            return b""
        try:
            length = int(length_header)
        except ValueError:
            raise BadRequest("bad Content-Length") from None
        if length < 0:
            raise BadRequest("bad Content-Length")
        if length > MAX_BODY:
            raise TooLarge()
        body = self.rfile.read(length)
        if len(body) != length:
            raise BadRequest("truncated body")
        return body

    def do_POST(self):
        received_at = time.time()
        args = self.server.args
        hdr = {name: self.headers.get(name) for name in ("webhook-id", "webhook-timestamp", "webhook-signature")}
        record = {
            "receiver": RECEIVER,
            "path": self.path,
            "id": hdr["webhook-id"],
            "timestamp": hdr["webhook-timestamp"],
            "signature": hdr["webhook-signature"],
            "verifiedWith": [],
            "body": None,
            "receivedAt": received_at,
        }
        try:
            body = self._read_body()
        except TooLarge:
            self.close_connection = True  # the rest of the body is never read
            record["status"] = 413
            self.server.append_log(record)
            self._send_json(413)
            return
        except BadRequest as e:
            self.close_connection = True
            warn(f"bad request body: {e}")
            record["status"] = 400
            self.server.append_log(record)
            self._send_json(400)
            return

        present = {k: v for k, v in hdr.items() if v is not None}
        record["verifiedWith"] = verified_with(args.secrets_file, body, present)
        is_json, value = parse_json(body)
        if is_json:
            record["body"] = value
        else:
            record["bodyText"] = body.decode("utf-8", errors="replace")

        extra = None
        status = read_status_file(args.status_file)
        if status is None:
            if args.redirect_to:
                status, extra = 307, {"Location": args.redirect_to}
            else:
                status = 200 if record["verifiedWith"] else 400
        record["status"] = status
        self.server.append_log(record)
        self._send_json(status, extra)


def write_port_file(path: str, port: int) -> None:
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="ascii") as f:
        f.write(f"{port}\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cert", required=True, help="PEM certificate chain (leaf first)")
    p.add_argument("--key", required=True, help="PEM private key")
    p.add_argument("--secrets-file", required=True, help='JSON [{"name": ..., "secret": "whsec_..."}], read per request')
    p.add_argument("--log", required=True, help="JSON-lines file, one line per POST")
    p.add_argument("--port-file", required=True, help="the listening port is written here once ready")
    p.add_argument("--status-file", help="when it holds an integer, every POST is answered with that status")
    p.add_argument("--redirect-to", help="answer every POST with 307 to this URL")
    args = p.parse_args()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)

    server = Receiver(args, ctx)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    write_port_file(args.port_file, server.server_address[1])

    while not stop.wait(1.0):
        if not thread.is_alive():
            warn("server loop ended unexpectedly")
            return 1
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
