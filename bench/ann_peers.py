#!/usr/bin/python3
"""make bench-scale, the peers: hnswlib and FAISS (Debian's python3-hnswlib
and python3-faiss) on the vectors, queries and exact answers that
build/bench_scale wrote, with ragd's graph settings (m 16, ef_construction
100, inner product).

Searching: hnswlib's own Python binding loads the very graph ragd built
(bench_scale leaves it in DIR/vectors.hnsw, hnswlib's file format; ragd's
labels are row + 1) and searches it at each ef, so recall is equal by
construction and the figures compare the two search paths alone. Building:
each library builds the first BUILD_ROWS vectors (the exact answers
recomputed for them) on a thread per CPU, beside ragd's build line at that
size in the same run (bench_scale's switch-point part); a second million-row
graph would double the run (issue 13 asks for 30 minutes). FAISS's graph is
also searched at that size; FAISS's exact flat index, the peer of ragd's
exact scan, gets every vector. Searches run one query at a time on one
thread, like ragd's figures, whose lines these sit beside. A call from
Python costs a few microseconds more than one from C: the batch q/s (all
queries in one call, one thread) leaves that out."""
import os
import sys
import time

import faiss
import hnswlib
import numpy as np

DIM, K, EFS = 384, 10, (16, 32, 64, 128, 256)
THREADS = os.cpu_count() or 1
where = sys.argv[1]
X = np.fromfile(f"{where}/vectors.f32", dtype=np.float32).reshape(-1, DIM)
Q = np.fromfile(f"{where}/queries.f32", dtype=np.float32).reshape(-1, DIM)
T = np.fromfile(f"{where}/truth.i64", dtype=np.int64).reshape(-1, K)
BUILD_ROWS = min(len(X), 20000)
HNSWLIB = getattr(hnswlib, '__version__', '0.6.2')


def report(label, one, batch, shift=0):
    lat, hit = [], 0
    for i, q in enumerate(Q):
        t = time.perf_counter()
        ids = one(q)
        lat.append((time.perf_counter() - t) * 1e3)
        hit += len(set((ids - shift).tolist()) & set(T[i].tolist()))
    t = time.perf_counter()
    batch()
    qps = len(Q) / (time.perf_counter() - t)
    lat.sort()
    p50, p99 = lat[len(lat) // 2], lat[min(len(lat) - 1, int(0.99 * len(lat)))]
    print(f"  {label:34s} recall@10 {hit / (K * len(Q)):.3f}   p50 {p50:7.3f} ms   "
          f"p99 {p99:7.3f} ms   {qps:8.0f} q/s (batch)", flush=True)


def built(what, rows, seconds):
    print(f"  {what} built (m 16, ef_construction 100, {THREADS} threads) in {seconds:.1f} s: "
          f"{rows / seconds:.0f} rows/s", flush=True)


print(f"\n== hnswlib {HNSWLIB} (python3-hnswlib) searching ragd's graph of the same "
      f"{len(X)} vectors", flush=True)
h = hnswlib.Index(space="ip", dim=DIM)
t = time.perf_counter()
h.load_index(f"{where}/vectors.hnsw")
print(f"  graph loaded in {time.perf_counter() - t:.2f} s ({h.get_current_count()} rows)", flush=True)
for ef in EFS:
    h.set_ef(ef)
    report(f"hnswlib, ef {ef}", lambda q: h.knn_query(q, k=K, num_threads=1)[0][0],
           lambda: h.knn_query(Q, k=K, num_threads=1), shift=1)
del h

print(f"\n== FAISS {faiss.__version__} (python3-faiss) IndexFlatIP, exact, on the same vectors",
      flush=True)
faiss.omp_set_num_threads(1)
flat = faiss.IndexFlatIP(DIM)
flat.add(X)
ALL_Q, ALL_T = Q, T
Q, T = Q[:100], T[:100]  # a scan of a million rows is slow here: 100 queries tell enough
report("faiss exact scan (100 queries)", lambda q: flat.search(q[None, :], K)[1][0],
       lambda: flat.search(Q, K))
Q, T = ALL_Q, ALL_T
del flat

X, T = X[:BUILD_ROWS], np.argsort(-(Q @ X[:BUILD_ROWS].T), axis=1)[:, :K]
print(f"\n== graphs built on the first {BUILD_ROWS} of them (compare with ragd's switch-point "
      f"line at that size)", flush=True)
h = hnswlib.Index(space="ip", dim=DIM)
h.init_index(max_elements=len(X), M=16, ef_construction=100)
t = time.perf_counter()
h.add_items(X, num_threads=THREADS)
built(f"hnswlib {HNSWLIB}: graph", len(X), time.perf_counter() - t)
h.set_ef(256)
report("hnswlib, ef 256", lambda q: h.knn_query(q, k=K, num_threads=1)[0][0],
       lambda: h.knn_query(Q, k=K, num_threads=1))
del h
f = faiss.IndexHNSWFlat(DIM, 16, faiss.METRIC_INNER_PRODUCT)
f.hnsw.efConstruction = 100
faiss.omp_set_num_threads(THREADS)
t = time.perf_counter()
f.add(X)
built("FAISS IndexHNSWFlat: graph", len(X), time.perf_counter() - t)
faiss.omp_set_num_threads(1)
for ef in EFS:
    f.hnsw.efSearch = ef
    report(f"faiss, ef {ef}", lambda q: f.search(q[None, :], K)[1][0], lambda: f.search(Q, K))
