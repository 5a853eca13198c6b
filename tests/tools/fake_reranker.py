#!/usr/bin/env python3
"""A reranker for ragd's tests, on 127.0.0.1 only, speaking the /rerank
APIs ragd reads: Hugging Face TEI (POST /rerank -> [{"index","score"}]) and
Cohere/Jina (POST /v1/rerank -> {"results":[{"index","relevance_score"}]}).
A text scores the number of times it holds the boost word (default
"zebra"), so a test knows the order it must see. Standard library.

usage: fake_reranker.py  (prints "listening on PORT", serves until killed)
POST /control {"mode": "ok" | "error500" | "malformed" | "slow", "boost": WORD}
GET  /stats   requests, the last body and Authorization header
"""
import json
import threading
import time

from fakehttp import JSONHandler, serve

state = {"mode": "ok", "boost": "zebra", "requests": 0, "last": None, "auth": None}
lock = threading.Lock()


class Handler(JSONHandler):
    def do_GET(self):
        if self.path == "/stats":
            with lock:
                return self.answer(200, {k: state[k] for k in ("requests", "last", "auth")})
        self.answer(404, {"error": "no"})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        if self.path == "/control":
            with lock:
                state.update(body)
            return self.answer(200, {"ok": True})
        if self.path not in ("/rerank", "/v1/rerank"):
            return self.answer(404, {"error": "no"})
        with lock:
            state["requests"] += 1
            state["last"] = body
            state["auth"] = self.headers.get("Authorization")
            mode, boost = state["mode"], state["boost"]
        if mode == "error500":
            return self.answer(500, {"error": "model crashed"})
        if mode == "slow":
            time.sleep(3)
        if mode == "malformed":
            return self.answer(200, {"unexpected": True})
        texts = body["texts"] if self.path == "/rerank" else body["documents"]
        scored = sorted(((t.lower().count(boost), i) for i, t in enumerate(texts)), reverse=True)
        if self.path == "/rerank":
            return self.answer(200, [{"index": i, "score": float(s)} for s, i in scored])
        return self.answer(200, {"results": [{"index": i, "relevance_score": float(s)} for s, i in scored]})


serve(Handler)
