#!/usr/bin/env python3
"""Receives Alertmanager webhook notifications on 127.0.0.1 and appends each
one, with the time it arrived, as a JSON line to a file.
usage: webhook_receiver.py OUT.jsonl   (prints "listening on PORT")"""
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OUT = sys.argv[1]


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(OUT, "a") as f:
            f.write(json.dumps({"received": time.time(), "payload": json.loads(body)}) + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print("listening on %d" % server.server_address[1], flush=True)
server.serve_forever()
