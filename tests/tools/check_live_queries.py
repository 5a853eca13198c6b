#!/usr/bin/env python3
"""Sends every dashboard query and every rule expression to a live
Prometheus and checks that each parses and returns data.

usage: check_live_queries.py PROM_URL DASHBOARD_QUERIES_FILE

Dashboard queries (title<TAB>expr) get the dashboard's variables filled in.
Recording rules must return data; alerting rules must parse, and every
metric they read must have data. GPU queries may be empty on a machine
without a GPU, the graph's recall estimate while the vector index is exact
(the hash embedder's), and queries of ALERTS while no alert fires: they
are reported, not failed. Prints a line per query."""
import json
import re
import sys
import urllib.parse
import urllib.request

PROM, QFILE = sys.argv[1], sys.argv[2]
GPU = re.compile(r"gpu_memory|gpu_utilization|device:gpu")
RECALL = re.compile(r"ragd_vector_index_recall_estimate")
FUNCS = set("""sum avg min max count rate irate increase histogram_quantile scalar vector by without on
ignoring group_left group_right and or unless predict_linear abs time offset bool le topk bottomk
count_values quantile stddev stdvar label_replace label_join clamp clamp_min clamp_max""".split())
failures = 0


def query(expr):
    url = PROM + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            d = json.load(r)
    except urllib.error.HTTPError as e:
        d = json.load(e)
    return d


def report(ok, what, detail=""):
    global failures
    if not ok:
        failures += 1
    print("  %s %s%s" % ("ok  " if ok else "FAIL", what, detail))


for line in open(QFILE):
    title, expr = line.rstrip("\n").split("\t", 1)
    e = expr.replace("$__rate_interval", "1m").replace("$job", ".*").replace("$instance", ".*")
    d = query(e)
    n = len(d.get("data", {}).get("result", [])) if d.get("status") == "success" else -1
    if n == 0 and GPU.search(e):
        report(True, "panel %r: parses; empty (no GPU on this machine)" % title)
    elif n == 0 and RECALL.search(e):
        report(True, "panel %r: parses; empty (exact vector index: no graph to check)" % title)
    elif n == 0 and "ALERTS" in e:
        report(True, "panel %r: parses; empty (no alert firing now)" % title)
    else:
        report(n > 0, "panel %r" % title, "" if n > 0 else ": %s" % (d.get("error") or "no data"))

with urllib.request.urlopen(PROM + "/api/v1/rules", timeout=10) as r:
    groups = json.load(r)["data"]["groups"]
for g in groups:
    for rule in g["rules"]:
        name = rule["name"]
        d = query(rule["query"])
        if d.get("status") != "success":
            report(False, "rule %s" % name, ": %s" % d.get("error"))
            continue
        n = len(d["data"]["result"])
        if rule["type"] == "recording":
            if n == 0 and GPU.search(rule["query"]):
                report(True, "recording rule %s: parses; empty (no GPU on this machine)" % name)
            else:
                report(n > 0, "recording rule %s" % name, "" if n else ": no data")
            continue
        # alerting rule: every metric it reads has data
        q = re.sub(r'"[^"]*"', "", rule["query"])
        q = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", q)
        q = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", q)
        names = {m for m in re.findall(r"(?<![a-zA-Z0-9_:])[a-zA-Z_:][a-zA-Z0-9_:]*(?![a-zA-Z0-9_:])(?!\s*\()", q)
                 if m not in FUNCS and not re.fullmatch(r"[0-9eE]+", m)}
        names = {m for m in names if not re.fullmatch(r"[a-z]", m)}
        missing = [m for m in sorted(names)
                   if not GPU.search(m) and not RECALL.search(m) and not query('count({__name__="%s"})' % m)["data"]["result"]]
        report(not missing, "alert %s (reads %s)" % (name, ", ".join(sorted(names))),
               ": no data for %s" % missing if missing else "")
print("%d failures" % failures)
sys.exit(1 if failures else 0)
