"""What the tests' fake servers share: a quiet HTTP/1.1 request handler
that answers JSON, and a threading server with room for many connections
at once (the benchmarks open 100). Standard library."""
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class JSONHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, code, body, headers=()):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)


class Server(ThreadingHTTPServer):
    request_queue_size = 256
    daemon_threads = True


def serve(handler):
    """Serves on a free loopback port, after printing "listening on PORT"."""
    server = Server(("127.0.0.1", 0), handler)
    print("listening on %d" % server.server_address[1], flush=True)
    server.serve_forever()
