#!/usr/bin/env python3
"""make bench, ingestion through the server: synthetic Markdown documents of
about 8 KB (fixed seed) posted to ragd, in the same run:
  - one document a request (POST /v1/documents: one commit, one fsync each),
    the way documents went in before batches: the baseline;
  - batches of --batch documents (POST /v1/documents/batch), prepared on one
    thread (--ingest-workers 1), then on one per CPU (the default);
  - the same batches from two clients at once (one prepares while the other
    commits).
Each configuration gets a fresh data directory and server; rounds alternate
configurations and the median of the rounds is printed. Figures are printed,
not asserted. Usage: ingest_bench.py RAGD [--docs N] [--batch N] [--rounds N]
"""
import argparse
import http.client
import itertools
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

WORDS = None


def vocabulary(rng):
    syl = ["ka", "ro", "mi", "ten", "sa", "lo", "ver", "qui", "da", "ne", "pol", "ux",
           "ri", "sta", "mon", "el", "gra", "fi", "bu", "cor", "an", "te", "lux", "vo"]
    words = sorted({"".join(rng.choice(syl) for _ in range(2 + i % 3)) for i in range(20000)})
    weights = [1.0 / (r + 1) for r in range(len(words))]  # Zipf
    # cumulative once: random.choices sums the weights on every call
    # otherwise (three quarters of a million-chunk fill's time went there);
    # the draws are the same
    return words, list(itertools.accumulate(weights))


def document(rng, words, cum_weights, i):
    """About 8 KB of Markdown: a title and six sections of prose."""
    parts = [f"# Document {i}\n"]
    for s in range(6):
        parts.append(f"\n## Section {s} of {i}\n\n")
        text = rng.choices(words, cum_weights=cum_weights, k=160)
        for k in range(0, len(text), 19):
            parts.append(" ".join(text[k:k + 19]).capitalize() + ". ")
    return "".join(parts)


def start(ragd, data, extra):
    log = open(os.path.join(data, "ragd.log"), "w+")
    p = subprocess.Popen([ragd, "serve", "--listen", "127.0.0.1:0", "--data-dir",
                          os.path.join(data, "d"), "--access-log", "off", "--max-batch",
                          "5000", "--max-body", "256MiB"] + extra,
                         stdout=subprocess.DEVNULL, stderr=log)
    for _ in range(200):
        log.seek(0)
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", log.read())
        if m:
            return p, int(m.group(1))
        time.sleep(0.05)
    p.kill()
    sys.exit("ragd did not start")


def post(port, path, body, ctype):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    c.request("POST", path, body, {"Content-Type": ctype})
    r = c.getresponse()
    data = r.read()
    c.close()
    if r.status not in (200, 201):
        sys.exit(f"{path}: HTTP {r.status}: {data[:200]!r}")
    return data


def run_one_by_one(port, docs):
    t0 = time.monotonic()
    for i, d in enumerate(docs):
        post(port, "/v1/documents",
             json.dumps({"id": f"d{i}", "content": d, "content_type": "text/markdown"}),
             "application/json")
    return len(docs) / (time.monotonic() - t0)


def batches(docs, size, offset=0):
    out = []
    for b in range(0, len(docs), size):
        out.append("".join(
            json.dumps({"id": f"d{offset + b + k}", "content": d,
                        "content_type": "text/markdown"}) + "\n"
            for k, d in enumerate(docs[b:b + size])).encode())
    return out


def run_batches(port, docs, size, clients):
    work = batches(docs, size)
    lock = threading.Lock()

    def client():
        while True:
            with lock:
                if not work:
                    return
                body = work.pop(0)
            post(port, "/v1/documents/batch", body, "application/x-ndjson")

    t0 = time.monotonic()
    ts = [threading.Thread(target=client) for _ in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return len(docs) / (time.monotonic() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ragd")
    ap.add_argument("--docs", type=int, default=4000)
    ap.add_argument("--single", type=int, default=500, help="documents sent one by one")
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    rng = random.Random(7)
    words, weights = vocabulary(rng)
    docs = [document(rng, words, weights, i) for i in range(a.docs)]
    size = sum(len(d) for d in docs) / len(docs)
    configs = [
        ("one document a request", [], lambda p: run_one_by_one(p, docs[:a.single])),
        (f"batches of {a.batch}, 1 worker", ["--ingest-workers", "1"],
         lambda p: run_batches(p, docs, a.batch, 1)),
        (f"batches of {a.batch}, workers: one per CPU", [],
         lambda p: run_batches(p, docs, a.batch, 1)),
        (f"batches of {a.batch}, 2 clients, workers: one per CPU", [],
         lambda p: run_batches(p, docs, a.batch, 2)),
    ]
    rates = {name: [] for name, _, _ in configs}
    for _ in range(a.rounds):
        for name, extra, fn in configs:
            tmp = tempfile.mkdtemp(prefix="ragd-ingest-bench.")
            p, port = start(a.ragd, tmp, extra)
            try:
                rates[name].append(fn(port))
            finally:
                p.terminate()
                p.wait()
                shutil.rmtree(tmp)
    print(f"== ingestion through the server: {a.docs} Markdown documents of "
          f"{size / 1024:.1f} KiB ({a.single} one by one), hash embedder, "
          f"median of {a.rounds} rounds, {os.cpu_count()} CPUs")
    base = statistics.median(rates[configs[0][0]])
    for name, _, _ in configs:
        med = statistics.median(rates[name])
        runs = ", ".join(f"{r:.0f}" for r in rates[name])
        print(f"  {name:52s} {med:7.0f} documents/s  ({med / base:4.1f}x; runs {runs})")
        print(f"RESULT ingest_docs_per_s{{config=\"{name}\"}} {med:.1f}")


if __name__ == "__main__":
    main()
