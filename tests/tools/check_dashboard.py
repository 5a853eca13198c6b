#!/usr/bin/env python3
"""Checks the Grafana provisioning files and the dashboard for what file
provisioning needs and what the contract asks; prints one line per
problem, exits 1 if any. usage: check_dashboard.py MONITORING_DIR"""
import json
import os
import re
import subprocess
import sys

import yaml

root = sys.argv[1]
problems = []


def bad(msg):
    problems.append(msg)


path = os.path.join(root, "grafana", "dashboards", "rag-system-monitoring.json")
text = open(path).read()
d = json.loads(text)
gen = subprocess.run([sys.executable, os.path.join(root, "grafana", "make_dashboard.py"), "-"],
                     capture_output=True, text=True, check=True).stdout
if gen != text:
    bad("the committed dashboard is not make_dashboard.py's output: run it again")
if "dashboard" in d:
    bad("dashboard is wrapped in the HTTP API's {\"dashboard\": ...}: provisioning reads a bare model")
if d.get("uid") != "ragd-overview" or d.get("title") != "RAG System Monitoring":
    bad("uid or title is not the fixed one")
if not isinstance(d.get("schemaVersion"), int) or d["schemaVersion"] < 36:
    bad("schemaVersion missing or older than 36")
variables = {v["name"]: v for v in d["templating"]["list"]}
if variables.get("datasource", {}).get("type") != "datasource" or variables["datasource"].get("query") != "prometheus":
    bad("no Prometheus datasource variable")
for v in ("job", "instance"):
    if v not in variables:
        bad("no %s variable" % v)

rows = [p for p in d["panels"] if p["type"] == "row"]
panels = [p for p in d["panels"] if p["type"] != "row"]
for want in ("Overview", "RAG pipeline", "HTTP (rate, errors, duration)", "Resources", "Health and SLO"):
    if want not in [r["title"] for r in rows]:
        bad("missing row %r" % want)
guide = ["Request Rate", "Response Time (P95)", "Vector Search Performance", "Cache Hit Rate",
         "GPU Memory Usage", "System Health Status"]
if [p["title"] for p in panels[:6]] != guide:
    bad("the first six panels are not the guide's: %s" % [p["title"] for p in panels[:6]])
ids = [p["id"] for p in d["panels"]]
if len(ids) != len(set(ids)):
    bad("panel ids are not unique")

exprs = []
for p in panels:
    t = p["title"]
    if p["type"] not in ("timeseries", "stat"):
        bad("%s: type %s" % (t, p["type"]))
    if p.get("datasource", {}).get("uid") != "${datasource}":
        bad("%s: datasource is not the variable" % t)
    defaults = p.get("fieldConfig", {}).get("defaults", {})
    if not defaults.get("unit"):
        bad("%s: no unit" % t)
    if not defaults.get("thresholds", {}).get("steps"):
        bad("%s: no thresholds" % t)
    if not p.get("targets"):
        bad("%s: no query" % t)
    for tg in p.get("targets", []):
        e = tg.get("expr", "")
        exprs.append((t, e))
        if tg.get("datasource", {}).get("uid") != "${datasource}":
            bad("%s: a query without the datasource variable" % t)
        for w in re.findall(r"(?:rate|increase)\([^\[]*\[([^\]]+)\]", e):
            if w not in ("$__rate_interval", "30d"):
                bad("%s: rate window [%s] instead of $__rate_interval" % (t, w))
        if "histogram_quantile" in e and "sum by (le" not in e:
            bad("%s: histogram_quantile without sum by (le)" % t)
        if "query_cache_hits_total" in e and "/" in e and "> 0)" not in e:
            bad("%s: cache ratio without a guarded denominator" % t)
        if "gpu_memory_total_bytes" in e and "/" in e and "> 0)" not in e:
            bad("%s: GPU ratio without a guarded denominator" % t)

ds = yaml.safe_load(open(os.path.join(root, "grafana", "provisioning", "datasources", "prometheus.yml")))
src = ds["datasources"][0]
if ds.get("apiVersion") != 1 or src.get("type") != "prometheus" or src.get("uid") != "prometheus-ragd":
    bad("datasource provisioning: want apiVersion 1, type prometheus, uid prometheus-ragd")
if variables["datasource"].get("current", {}).get("value") != src.get("uid"):
    bad("the datasource variable does not default to the provisioned uid")
prov = yaml.safe_load(open(os.path.join(root, "grafana", "provisioning", "dashboards", "ragd.yml")))
pp = prov["providers"][0]
if prov.get("apiVersion") != 1 or pp.get("type") != "file":
    bad("dashboard provider: want apiVersion 1 and type file")
compose = open(os.path.join(root, "docker-compose.yml")).read()
if pp["options"]["path"] not in compose:
    bad("the provider path %s is not where compose mounts the dashboards" % pp["options"]["path"])

# For the live test: every query, one per line, "title<TAB>expr".
if len(sys.argv) > 2:
    with open(sys.argv[2], "w") as f:
        for t, e in exprs:
            f.write("%s\t%s\n" % (t, e.replace("\n", " ")))

for p in problems:
    print(p)
print("%d panels, %d queries, %d problems" % (len(panels), len(exprs), len(problems)))
sys.exit(1 if problems else 0)
