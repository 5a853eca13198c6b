#!/usr/bin/env python3
"""An OpenAI-compatible chat completions server for ragd's tests and
benchmarks, on 127.0.0.1 only. Standard library.

usage: fake_chat.py  (prints "listening on PORT", serves until killed)

POST /v1/chat/completions  streams (chunked SSE) or answers whole:
     the reply is "tok0 tok1 ..." (TOKENS tokens, one per chunk, DELAY s apart)
GET  /v1/models            one model, "fake-model"
POST /control  {"mode": M, "tokens": N, "delay": S, "first_delay": S}
     modes: ok; flaky429 / flaky500 (one failure, then ok); error500, error400
     (always); cut (half the tokens, then the connection closes mid-stream);
     malformed (an event that is not JSON); wrong_shape (choices is not a
     list); no_usage (no usage chunk even when asked); stream_error (an
     error object mid-stream).
GET  /stats    requests, completed and aborted streams, the last request's
               body and Authorization header
"""
import json
import socket
import sys
import threading
import time

from fakehttp import JSONHandler, serve

state = {"mode": "ok", "tokens": 8, "delay": 0.0, "first_delay": 0.0, "requests": 0,
         "completed": 0, "aborted": 0, "last": None, "auth": None}
lock = threading.Lock()


class Handler(JSONHandler):
    def setup(self):
        super().setup()
        # as real servers do: each event leaves at once (no Nagle delay)
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def event(self, obj):
        self.chunk(b"data: " + (obj if isinstance(obj, bytes) else json.dumps(obj).encode()) + b"\n\n")

    def do_GET(self):
        if self.path == "/stats":
            with lock:
                return self.answer(200, {k: state[k] for k in
                                         ("requests", "completed", "aborted", "last", "auth")})
        if self.path == "/v1/models":
            return self.answer(200, {"object": "list", "data": [{"id": "fake-model", "object": "model"}]})
        self.answer(404, {"error": {"message": "no such path"}})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/control":
            with lock:
                state.update(json.loads(body))
            return self.answer(200, {"ok": True})
        if self.path != "/v1/chat/completions":
            return self.answer(404, {"error": {"message": "no such path"}})
        req = json.loads(body)
        with lock:
            state["requests"] += 1
            state["last"] = req
            state["auth"] = self.headers.get("Authorization")
            mode, n = state["mode"], state["tokens"]
            delay, first_delay = state["delay"], state["first_delay"]
            if mode in ("flaky429", "flaky500"):
                state["mode"] = "ok"
        if mode in ("flaky429",):
            return self.answer(429, {"error": {"message": "slow down"}}, [("Retry-After", "0")])
        if mode in ("flaky500", "error500"):
            return self.answer(500, {"error": {"message": "model crashed"}})
        if mode == "error400":
            return self.answer(400, {"error": {"message": "bad request, says the fake"}})
        words = ["tok%d " % i for i in range(n)]
        usage = {"prompt_tokens": 100 + len(json.dumps(req["messages"])) % 100, "completion_tokens": n,
                 "total_tokens": 0}
        usage["total_tokens"] = usage["prompt_tokens"] + n
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()),
                "model": req.get("model")}
        if not req.get("stream"):
            return self.answer(200, {"id": "chatcmpl-fake", "object": "chat.completion",
                                     "choices": [{"index": 0, "message": {"role": "assistant",
                                                  "content": "".join(words)}, "finish_reason": "stop"}],
                                     "usage": usage})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            time.sleep(first_delay)
            self.event(dict(base, choices=[{"index": 0, "delta": {"role": "assistant", "content": ""},
                                            "finish_reason": None}]))
            if mode == "malformed":
                self.event(b"{not json")
            if mode == "wrong_shape":
                self.event(dict(base, choices="none"))
            for i, w in enumerate(words):
                if mode == "cut" and i == n // 2:
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if mode == "stream_error" and i == n // 2:
                    self.event({"error": {"message": "out of memory on the GPU"}})
                if i:
                    time.sleep(delay)
                self.event(dict(base, choices=[{"index": 0, "delta": {"content": w}, "finish_reason": None}]))
            self.event(dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}]))
            if (req.get("stream_options") or {}).get("include_usage") and mode != "no_usage":
                self.event(dict(base, choices=[], usage=usage))
            self.event(b"[DONE]")
            self.chunk(b"")
            with lock:
                state["completed"] += 1
        except (BrokenPipeError, ConnectionResetError):
            with lock:
                state["aborted"] += 1
            self.close_connection = True


serve(Handler)
