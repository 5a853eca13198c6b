#!/usr/bin/python3
"""make bench-scale, the keyword peer: Xapian 1.4 (Debian's python3-xapian)
on the chunk terms and queries that build/bench_keywords wrote: one
document per chunk (its terms, no positions), an on-disk database
committed every 10,000 chunks without fsync (as ragd's), BM25 with ragd's
parameters (k1 1.2, b 0.75, no length floor), each query the OR of its
distinct terms as a Xapian user would write it (ragd also leaves out
common terms when a rarer one is there). Single thread, one query at a
time; a call from Python costs a few microseconds more than one from C."""
import math
import os
import sys
import time

import xapian

where = sys.argv[1] + "/kw"
path = where + "/peer.xapian"
names = ["typical (2-4 Zipf words)", "all common (2-4 of the 20 most frequent words)",
         "topic (3 words of a chunk's topic + 1 common)"]

t0 = time.perf_counter()
db = xapian.WritableDatabase(path, xapian.DB_CREATE_OR_OVERWRITE | xapian.DB_NO_SYNC)
n = 0
with open(where + "/terms.txt", encoding="utf-8") as f:
    for line in f:
        doc = xapian.Document()
        for t in line.split():
            doc.add_term(t)
        n += 1
        db.replace_document(n, doc)
        if n % 10000 == 0:
            db.commit()
db.commit()
build = time.perf_counter() - t0
db.close()
print(f"  peer Xapian {xapian.version_string()} (python3): indexing {n / build:.0f} chunks/s")

db = xapian.Database(path)
enq = xapian.Enquire(db)
enq.set_weighting_scheme(xapian.BM25Weight(1.2, 0, 1, 0.75, 0))
sets = {}
with open(where + "/queries.txt", encoding="utf-8") as f:
    for line in f:
        s, q = line.rstrip("\n").split("\t")
        sets.setdefault(int(s), []).append(list(dict.fromkeys(q.lower().split())))


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, math.ceil(p * len(v)) - 1)]


for s in sorted(sets):
    lat = []
    for terms in sets[s]:
        t = time.perf_counter()
        enq.set_query(xapian.Query(xapian.Query.OP_OR, terms))
        m = enq.get_mset(0, 10)
        ids = [x.docid for x in m]
        lat.append((time.perf_counter() - t) * 1e3)
    print(f"  {names[s]:<48} peer {pct(lat, 0.5):7.2f} / {pct(lat, 0.99):7.2f}")
