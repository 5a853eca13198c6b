#!/usr/bin/env python3
"""A small OpenAI-compatible embeddings server for ragd's tests, on
127.0.0.1 only. Standard library.

usage: fake_embedder.py DIM  (prints "listening on PORT", serves until killed)

POST /v1/embeddings  {"model", "input": [...]} -> {"data": [{"index", "embedding"}]}
POST /control        {"mode": "ok" | "error500" | "slow" | "malformed" | "flaky429"}
                     flaky429 answers 429 (Retry-After: 0) once, then works.
GET  /stats          requests seen, last model, last Authorization, batch sizes
"""
import hashlib
import json
import sys
import threading
import time

from fakehttp import JSONHandler, serve

DIM = int(sys.argv[1])
state = {"mode": "ok", "requests": 0, "model": None, "auth": None, "batches": []}
lock = threading.Lock()


def vector(text):
    h = hashlib.sha256(text.encode()).digest()
    return [((h[i % 32] ^ (i * 7)) % 255) / 255.0 - 0.5 for i in range(DIM)]


class Handler(JSONHandler):

    def do_GET(self):
        if self.path == "/stats":
            with lock:
                self.answer(200, {"requests": state["requests"], "model": state["model"],
                                  "auth": state["auth"], "batches": state["batches"]})
        else:
            self.answer(404, {"error": "no"})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/control":
            with lock:
                state["mode"] = json.loads(body)["mode"]
            return self.answer(200, {"ok": True})
        if self.path != "/v1/embeddings":
            return self.answer(404, {"error": "no"})
        req = json.loads(body)
        with lock:
            state["requests"] += 1
            state["model"] = req.get("model")
            state["auth"] = self.headers.get("Authorization")
            state["batches"].append(len(req["input"]))
            mode = state["mode"]
            if mode == "flaky429":
                state["mode"] = "ok"
        if mode == "error500":
            return self.answer(500, {"error": {"message": "model crashed"}})
        if mode == "flaky429":
            return self.answer(429, {"error": {"message": "slow down"}}, [("Retry-After", "0")])
        if mode == "slow":
            time.sleep(3)
        if mode == "malformed":
            return self.answer(200, b'{"data": [{"embedding": "not a list"}]}')
        data = [{"object": "embedding", "index": i, "embedding": vector(t)} for i, t in enumerate(req["input"])]
        self.answer(200, {"object": "list", "data": data, "model": req.get("model")})


serve(Handler)
