#!/usr/bin/env python3
"""A fake Prometheus HTTP API for ragd's dashboard tests, on 127.0.0.1
only. Standard library. It answers any query with synthetic series, so
that the dashboard can be loaded with as many series as a test wants.

usage: fake_prometheus.py  (prints "listening on PORT", serves until killed)

GET /api/v1/query_range  a matrix: a query holding "endpoint" gets
                         ENDPOINT_SERIES series (10 instances x endpoints),
                         any other INSTANCE_SERIES (one per instance); one
                         point per step from start to end
GET /api/v1/query        the same series as a vector
GET /api/v1/alerts       one firing alert
GET /stats               the requests seen: path and query string, in order
"""
import json
import math
import sys
import threading
import urllib.parse

from fakehttp import JSONHandler, serve

ENDPOINT_SERIES = 160
INSTANCE_SERIES = 10
seen = []
lock = threading.Lock()


def series_labels(query):
    if "endpoint" in query:
        return [{"instance": "10.0.0.%d:8050" % (k % 10), "endpoint": "/e%d" % (k // 10), "method": "GET"}
                for k in range(ENDPOINT_SERIES)]
    return [{"instance": "10.0.0.%d:8050" % k, "component": "c%d" % k, "device": "cuda:%d" % k,
             "outcome": "o%d" % k, "reason": "r%d" % k, "gen_ai_token_type": "t%d" % k,
             "document_type": "d%d" % k, "mountpoint": "/m%d" % k, "alertname": "A%d" % k}
            for k in range(INSTANCE_SERIES)]


def value(k, t):
    return 0.5 + 0.4 * math.sin(t / 300.0 + k)


class Handler(JSONHandler):

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        if u.path == "/stats":
            with lock:
                return self.answer(200, {"seen": seen})
        with lock:
            seen.append(self.path)
        if u.path == "/api/v1/alerts":
            return self.answer(200, {"status": "success", "data": {"alerts": [
                {"labels": {"alertname": "FakeAlert", "severity": "warning", "instance": "10.0.0.1:8050"},
                 "state": "firing", "value": "1"}]}})
        labels = series_labels(q.get("query", ""))
        if u.path == "/api/v1/query_range":
            start, end, step = float(q["start"]), float(q["end"]), float(q["step"])
            n = int((end - start) // step) + 1
            result = [{"metric": l, "values": [[start + i * step, str(value(k, start + i * step))] for i in range(n)]}
                      for k, l in enumerate(labels)]
            return self.answer(200, {"status": "success", "data": {"resultType": "matrix", "result": result}})
        if u.path == "/api/v1/query":
            t = float(q.get("time", 0))
            result = [{"metric": l, "value": [t, str(value(k, t))]} for k, l in enumerate(labels)]
            return self.answer(200, {"status": "success", "data": {"resultType": "vector", "result": result}})
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()


serve(Handler)
