"""The same operations as bench_metrics.c with Python's prometheus_client
(Debian python3-prometheus-client, the design guide's choice). Prints
"RESULT key value" lines in the same units, medians of REPEATS runs."""
import statistics
import threading
import time

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

REPEATS = 5
BOUNDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
OBS = (0.0003, 0.0008, 0.0012, 0.002, 0.003, 0.004, 0.006, 0.008,
       0.012, 0.02, 0.03, 0.07, 0.2, 0.4, 1.5, 7)
METHODS = ("GET", "POST")
EPS = ("/health", "/v1/query", "/v1/documents", "/metrics")


def per_op_ns(fn, iters, threads=1):
    runs = []
    for _ in range(REPEATS):
        ts = [threading.Thread(target=fn, args=(iters,)) for _ in range(threads)]
        t0 = time.perf_counter_ns()
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        runs.append((time.perf_counter_ns() - t0) / iters)
    return statistics.median(runs)


def main():
    reg = CollectorRegistry()
    c = Counter("b", "h", registry=reg)
    h = Histogram("b_seconds", "h", buckets=BOUNDS, registry=reg)
    lh = Histogram("b_labelled_seconds", "h", ["method", "endpoint"], buckets=BOUNDS, registry=reg)

    def inc(n):
        for _ in range(n):
            c.inc()

    def observe(n):
        for i in range(n):
            h.observe(OBS[i & 15])

    def lookup_observe(n):
        for i in range(n):
            lh.labels(METHODS[i & 1], EPS[(i >> 1) & 3]).observe(OBS[i & 15])

    print(f"RESULT counter_inc_1t {per_op_ns(inc, 300000):.4f}")
    print(f"RESULT counter_inc_2t {per_op_ns(inc, 300000, 2):.4f}")
    print(f"RESULT observe_1t {per_op_ns(observe, 200000):.4f}")
    print(f"RESULT observe_2t {per_op_ns(observe, 200000, 2):.4f}")
    print(f"RESULT lookup_observe_1t {per_op_ns(lookup_observe, 100000):.4f}")
    print(f"RESULT lookup_observe_2t {per_op_ns(lookup_observe, 100000, 2):.4f}")

    big_reg = CollectorRegistry()
    big = Counter("b_series", "Ten thousand series.", ["method", "endpoint"], registry=big_reg)
    for i in range(100):
        for k in range(100):
            big.labels(f"m{i:02d}", f"/api/route/{k:02d}").inc(i * 100 + k)
    runs = []
    for _ in range(REPEATS):
        t0 = time.perf_counter_ns()
        generate_latest(big_reg)
        runs.append((time.perf_counter_ns() - t0) / 1e6)
    print(f"RESULT expose_10k_ms {statistics.median(runs):.4f}")


if __name__ == "__main__":
    main()
