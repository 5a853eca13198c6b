#!/usr/bin/env python3
"""make bench-scale, the whole server: ragd filled to --chunks chunks
(default 1,000,000) of synthetic Markdown (bench/ingest_bench.py's
documents, fixed seed, about 6 chunks each) through POST
/v1/documents/batch, then measured as a user meets it:
  - bulk ingestion: documents/s over the time the batches took to be
    acknowledged (each answer comes after its commit), one client;
  - start-up to /ready on that store, three times, and resident memory
    once ready;
  - queries through HTTP with wrk (1, 2 and 4 connections, --seconds each,
    200 queries of 2-4 words of ranks 50 to 5,000, top_k 10, query cache
    off): q/s, p50 and p99, for keyword and hybrid.
With --peer RAGD (another build, the same store format) start-up and
queries alternate between the two binaries on the same store, so that
they are compared in one run. Figures are printed, not asserted; wrk and
the server share the machine's cores.

usage: server_scale.py RAGD DIR [--chunks N] [--batch N] [--seconds S] [--peer RAGD]
"""
import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ingest_bench import document, post, vocabulary  # noqa: E402

LUA = """
local f = io.open(os.getenv("QUERIES"))
local qs = {}
for l in f:lines() do qs[#qs + 1] = l end
f:close()
local mode = os.getenv("MODE")
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", "/v1/query", {["Content-Type"] = "application/json"},
    '{"query":"' .. qs[(n % #qs) + 1] .. '","mode":"' .. mode .. '","top_k":10}')
end
"""


def serve(ragd, data, port, log):
    return subprocess.Popen([ragd, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data,
                             "--access-log", "off", "--max-batch", "5000", "--max-body", "256MiB",
                             "--cache-entries", "0"], stdout=subprocess.DEVNULL, stderr=log)


def ready(port, p, timeout=600):
    """Seconds until /ready answers 200 (the process started just before)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if p.poll() is not None:
            sys.exit("ragd stopped while starting")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=5) as r:
                if r.status == 200:
                    return time.monotonic() - t0
        except OSError:
            pass
        time.sleep(0.02)
    sys.exit("ragd was not ready in time")


def stop(p):
    p.send_signal(signal.SIGTERM)
    p.wait()


def chunks(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as r:
        text = r.read().decode()
    return int(sum(float(l.split()[-1]) for l in text.splitlines()
                   if l.startswith("ragd_vector_index_vectors{")))


def rss_mib(p):
    with open(f"/proc/{p.pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1)) / 1024


def wrk(port, mode, conns, seconds, lua, queries):
    out = subprocess.run(["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency", "-s", lua,
                          f"http://127.0.0.1:{port}"], capture_output=True, text=True, check=True,
                         env=dict(os.environ, MODE=mode, QUERIES=queries)).stdout
    if "Non-2xx" in out:
        sys.exit(f"wrk: errors from ragd:\n{out}")

    def ms(pct):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        return float(m.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[m.group(2)]
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), ms(50), ms(99)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ragd")
    ap.add_argument("dir")
    ap.add_argument("--chunks", type=int, default=1000000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--peer")
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    data = os.path.join(a.dir, "data")
    log = open(os.path.join(a.dir, "ragd.log"), "w")
    port = 18000 + os.getpid() % 2000
    rng = random.Random(5)
    words, weights = vocabulary(rng)

    p = serve(a.ragd, data, port, log)
    ready(port, p)
    docs = have = 0
    busy = 0.0
    while have < a.chunks:
        body = "".join(json.dumps({"id": f"d{docs + k}", "content": document(rng, words, weights,
                                                                             docs + k),
                                   "content_type": "text/markdown"}) + "\n"
                       for k in range(a.batch)).encode()
        t0 = time.monotonic()
        post(port, "/v1/documents/batch", body, "application/x-ndjson")
        busy += time.monotonic() - t0
        docs += a.batch
        have = chunks(port)
        if docs % (a.batch * 20) == 0:
            print(f"  ... {docs} documents, {have} chunks", flush=True)
    stop(p)
    print(f"== the whole server at {have:,} chunks ({docs:,} Markdown documents of about 8 KB, "
          f"hash embedder, {os.cpu_count()} CPUs)")
    print(f"  bulk ingestion, batches of {a.batch}, one client: {docs / busy:,.0f} documents/s "
          f"({have / busy:,.0f} chunks/s; {busy:.0f} s acknowledged)")

    queries = os.path.join(a.dir, "queries.txt")
    with open(queries, "w") as f:
        for _ in range(200):
            f.write(" ".join(words[rng.randrange(50, 5000)] for _ in range(rng.randint(2, 4))) + "\n")
    lua = os.path.join(a.dir, "query.lua")
    with open(lua, "w") as f:
        f.write(LUA)
    bins = [("ragd", a.ragd)] + ([("peer", a.peer)] if a.peer else [])
    starts = {name: [] for name, _ in bins}
    rss = {}
    figures = {}
    for _ in range(3):  # start-up alternates; the last start of each is measured
        for name, ragd in bins:
            p = serve(ragd, data, port, log)
            starts[name].append(ready(port, p))
            rss[name] = rss_mib(p)
            if len(starts[name]) == 3:
                for mode in ("keyword", "hybrid"):
                    for conns in (1, 2, 4):
                        figures[(name, mode, conns)] = wrk(port, mode, conns, a.seconds, lua, queries)
            stop(p)
    for name, ragd in bins:
        print(f"  {name} ({ragd}): start-up to /ready "
              + ", ".join(f"{s:.1f}" for s in starts[name])
              + f" s; resident once ready {rss[name]:,.0f} MiB")
        for mode in ("keyword", "hybrid"):
            one = figures[(name, mode, 1)][0]
            row = "; ".join(f"{c} client{'s' if c > 1 else ''} {q:,.0f} q/s, p50 {p50:.1f} / "
                            f"p99 {p99:.1f} ms"
                            for c in (1, 2, 4) for q, p50, p99 in [figures[(name, mode, c)]])
            print(f"    {mode:8s} {row}; 4 / 1 clients {figures[(name, mode, 4)][0] / one:.2f}x")


if __name__ == "__main__":
    main()
