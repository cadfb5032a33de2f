"""Real receivers on 127.0.0.1 for what pir sends: a Slack incoming-webhook stand-in and an SMTP sink.

Used by the reminder tests and the publishing tests, through the fixtures ``receiver`` and ``smtp`` in
conftest.py (one per test, stopped after it).
"""

from __future__ import annotations

import json
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

SECRET_PATH = "/services/T0000/B0000/s3cr3tW3bh00kT0ken"


class Receiver:
    """A Slack-webhook-like endpoint: records JSON bodies; answers ``fail`` 500s first, then "ok".

    ``status`` and ``echo`` shape the failures: a 4xx refusal, and an error page that quotes the request's
    URL (as real gateways and Slack's "no_service" pages do), percent-encoded too."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.fail = 0
        self.status = 500
        self.echo = False
        self.attempts = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.attempts += 1
                if receiver.fail > 0:
                    receiver.fail -= 1
                    status, body = receiver.status, b"internal_error"
                    if receiver.echo:
                        url = f"http://{self.headers.get('Host')}{self.path}"
                        body = f"no_service: {url} (path {self.path}, {quote(url, safe='')})".encode()
                else:
                    receiver.bodies.append(json.loads(data))
                    status, body = 200, b"ok"
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}{SECRET_PATH}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class SmtpSink(socketserver.ThreadingTCPServer):
    """Just enough SMTP (RFC 5321) to receive messages: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT."""

    allow_reuse_address = True
    daemon_threads = True

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], str]] = []
        super().__init__(("127.0.0.1", 0), _SmtpHandler)
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class _SmtpHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        sink: SmtpSink = self.server  # type: ignore[assignment]
        self.wfile.write(b"220 localhost ESMTP sink\r\n")
        sender, rcpts = "", []
        while line := self.rfile.readline():
            verb = line.decode().strip().split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.wfile.write(b"250 localhost\r\n")
            elif verb == "MAIL":
                sender, rcpts = line.decode().strip()[10:], []
                self.wfile.write(b"250 OK\r\n")
            elif verb == "RCPT":
                rcpts.append(line.decode().strip()[8:])
                self.wfile.write(b"250 OK\r\n")
            elif verb == "DATA":
                self.wfile.write(b"354 go ahead\r\n")
                data = []
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    # The client doubles a line's leading dot (RFC 5321 4.5.2, transparency); undo it.
                    data.append(chunk[1:].decode() if chunk.startswith(b"..") else chunk.decode())
                sink.messages.append((sender, rcpts, "".join(data)))
                self.wfile.write(b"250 OK queued\r\n")
            elif verb == "QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 OK\r\n")
