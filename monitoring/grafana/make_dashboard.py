#!/usr/bin/env python3
"""Writes monitoring/grafana/dashboards/rag-system-monitoring.json, the
"RAG System Monitoring" dashboard, as a bare dashboard model that Grafana's
file provisioning reads as it is (not the HTTP API's {"dashboard": ...}
wrapper the design guide used).

Generated so that every panel is built the same way (datasource, unit,
thresholds, job/instance filters, $__rate_interval); the JSON is committed
and `make test` checks that it is this script's output.

usage: make_dashboard.py [OUT]   (default: the committed path; "-" for stdout)
"""
import json
import os
import sys

DS = {"type": "prometheus", "uid": "${datasource}"}
SEL = 'job=~"$job",instance=~"$instance"'
RI = "$__rate_interval"

panels = []
next_id = [1]
y = [0]


def pid():
    next_id[0] += 1
    return next_id[0] - 1


def row(title):
    panels.append({"type": "row", "title": title, "id": pid(), "collapsed": False,
                   "gridPos": {"h": 1, "w": 24, "x": 0, "y": y[0]}, "panels": []})
    y[0] += 1


def thresholds(steps):
    return {"mode": "absolute",
            "steps": [{"color": c, "value": v} for c, v in steps]}


def panel(kind, title, targets, unit, x, w, h=8, steps=None, extra=None, description=""):
    p = {
        "type": kind, "title": title, "id": pid(), "datasource": DS,
        "description": description,
        "gridPos": {"h": h, "w": w, "x": x, "y": y[0]},
        "targets": [{"refId": chr(65 + i), "datasource": DS, "expr": e, "legendFormat": l}
                    for i, (e, l) in enumerate(targets)],
        "fieldConfig": {"defaults": {"unit": unit,
                                     "thresholds": thresholds(steps or [("green", None)])},
                        "overrides": []},
        "options": {},
    }
    if kind == "timeseries":
        p["fieldConfig"]["defaults"]["custom"] = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10,
                                                  "showPoints": "never", "spanNulls": False,
                                                  "thresholdsStyle": {"mode": "line" if steps else "off"}}
        p["options"] = {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                        "tooltip": {"mode": "multi", "sort": "desc"}}
    if kind == "stat":
        p["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "colorMode": "background", "graphMode": "none", "textMode": "value_and_name",
                        "justifyMode": "auto", "orientation": "auto"}
    if extra:
        for k, v in extra.items():
            p["fieldConfig"]["defaults"][k] = v
    panels.append(p)


def hq(q, metric, by=""):
    return 'histogram_quantile(%s, sum by (le%s) (rate(%s_bucket{%s}[%s])))' % (q, by, metric, SEL, RI)


def ratio(num, den):
    """num / den with the denominator guarded: no NaN on an idle service."""
    return "(%s) / ((%s) > 0)" % (num, den)


HEALTH_MAPPINGS = [{"type": "value", "options": {
    "1": {"text": "Healthy", "color": "green", "index": 0},
    "0.5": {"text": "Degraded", "color": "yellow", "index": 1},
    "0": {"text": "Unhealthy", "color": "red", "index": 2}}}]

# --- row 1: the design guide's six panels, with corrected queries --------------
row("Overview")
panel("timeseries", "Request Rate",
      [('sum by (method, endpoint) (rate(http_requests_total{%s}[%s]))' % (SEL, RI), "{{method}} {{endpoint}}")],
      "reqps", 0, 12, description="Requests per second by method and route template.")
panel("timeseries", "Response Time (P95)",
      [(hq("0.95", "http_request_duration_seconds"), "P95")],
      "s", 12, 12, steps=[("green", None), ("red", 2)],
      description="The service's P95 (buckets summed by le first). HighResponseTime fires above 2 s for 5 minutes.")
y[0] += 8
panel("timeseries", "Vector Search Performance",
      [(ratio("sum(rate(vector_search_duration_seconds_sum{%s}[%s]))" % (SEL, RI),
              "sum(rate(vector_search_duration_seconds_count{%s}[%s]))" % (SEL, RI)), "Avg search time")],
      "s", 0, 12, description="Average vector search time: rate of _sum over rate of _count.")
panel("timeseries", "Cache Hit Rate",
      [(ratio("sum(rate(query_cache_hits_total{%s}[%s]))" % (SEL, RI),
              "sum(rate(query_cache_hits_total{%s}[%s])) + sum(rate(query_cache_misses_total{%s}[%s]))" % (SEL, RI, SEL, RI)),
        "Hit rate")],
      "percentunit", 12, 12, steps=[("red", None), ("green", 0.5)],
      extra={"min": 0, "max": 1},
      description="Hits over lookups; empty while there are no lookups. LowCacheHitRate fires below 50 % for 10 minutes.")
y[0] += 8
panel("timeseries", "GPU Memory Usage",
      [("100 * gpu_memory_used_bytes{%s} / (gpu_memory_total_bytes{%s} > 0)" % (SEL, SEL), "{{instance}} {{device}}")],
      "percent", 0, 12, steps=[("green", None), ("red", 90)], extra={"min": 0, "max": 100},
      description="Per device. Empty on a machine without an NVIDIA GPU (gpu_count 0).")
panel("stat", "System Health Status",
      [("component_health_status{%s}" % SEL, "{{component}}")],
      "none", 12, 12, steps=[("red", None), ("yellow", 0.5), ("green", 1)],
      extra={"mappings": HEALTH_MAPPINGS},
      description="Each component: Healthy (1), Degraded (0.5), Unhealthy (0). Details on /ready.")
y[0] += 8

# --- RAG pipeline ----------------------------------------------------------------
row("RAG pipeline")
panel("timeseries", "Document processing P95 by type",
      [(hq("0.95", "document_processing_duration_seconds", ", document_type"), "{{document_type}}")],
      "s", 0, 8, description="Parse to commit, per document type.")
panel("timeseries", "Embedding generation",
      [(hq(q, "embedding_generation_duration_seconds"), "P%s" % n) for q, n in (("0.5", "50"), ("0.95", "95"), ("0.99", "99"))],
      "s", 8, 8, steps=[("green", None), ("red", 1)],
      description="One embedder call. SlowEmbeddings fires when P95 > 1 s for 5 minutes.")
panel("timeseries", "Vector search",
      [(hq(q, "vector_search_duration_seconds"), "P%s" % n) for q, n in (("0.5", "50"), ("0.95", "95"), ("0.99", "99"))],
      "s", 16, 8, steps=[("green", None), ("red", 0.1)],
      description="One index search. SlowVectorSearch fires when P95 > 100 ms for 5 minutes.")
y[0] += 8
panel("timeseries", "Cache hit ratio",
      [(ratio("sum(rate(query_cache_hits_total{%s}[%s]))" % (SEL, RI),
              "sum(rate(query_cache_hits_total{%s}[%s])) + sum(rate(query_cache_misses_total{%s}[%s]))" % (SEL, RI, SEL, RI)),
        "hit ratio")],
      "percentunit", 0, 8, extra={"min": 0, "max": 1})
panel("stat", "Documents",
      [("sum(active_documents_count{%s})" % SEL, "documents")], "short", 8, 5)
panel("stat", "Embeddings",
      [("sum(total_embeddings_count{%s})" % SEL, "embeddings")], "short", 13, 5)
panel("stat", "Cache entries",
      [("sum(ragd_query_cache_entries{%s})" % SEL, "entries")], "short", 18, 6)
y[0] += 8

# --- retrieval quality -----------------------------------------------------------------
row("Retrieval quality")
panel("timeseries", "Queries without results",
      [(ratio('sum by (mode) (rate(ragd_queries_without_results_total{%s}[%s]))' % (SEL, RI),
              'sum by (mode) (rate(ragd_query_results_count{%s}[%s]))' % (SEL, RI)), "{{mode}}")],
      "percentunit", 0, 6, steps=[("green", None), ("red", 0.2)], extra={"min": 0, "max": 1},
      description="Share of queries that returned nothing, by mode. HighNoResultRatio fires above 20 % for 15 minutes.")
panel("timeseries", "Top result score (median)",
      [(hq("0.5", "ragd_query_top_score", ", mode"), "{{mode}}")],
      "short", 6, 6, description="Score of the first result; scales differ by mode (cosine, bm25, fusion): watch each line for drops.")
panel("timeseries", "Results per query",
      [(ratio('sum by (mode) (rate(ragd_query_results_sum{%s}[%s]))' % (SEL, RI),
              'sum by (mode) (rate(ragd_query_results_count{%s}[%s]))' % (SEL, RI)), "{{mode}}")],
      "short", 12, 6, extra={"min": 0}, description="Average length of a result list, by mode.")
panel("timeseries", "Distinct documents per list",
      [(ratio('sum by (mode) (rate(ragd_query_distinct_documents_sum{%s}[%s]))' % (SEL, RI),
              'sum by (mode) (rate(ragd_query_distinct_documents_count{%s}[%s]))' % (SEL, RI)), "{{mode}}")],
      "short", 18, 6, extra={"min": 0}, description="Average distinct documents in a list with results: low values mean one document fills the list.")
y[0] += 8

# --- vector index -------------------------------------------------------------------
row("Vector index")
panel("timeseries", "Graph recall estimate",
      [('ragd_vector_index_recall_estimate{%s}' % SEL, "{{instance}}")],
      "percentunit", 0, 6, steps=[("red", None), ("green", 0.9)], extra={"min": 0, "max": 1},
      description="Share of the exact top 10 the HNSW graph finds on sampled queries (mean of the last 32 checks). LowVectorRecall fires below 90 % for 30 minutes. Empty while the index is exact.")
panel("timeseries", "Vectors by segment",
      [('sum by (segment) (ragd_vector_index_vectors{%s})' % SEL, "{{segment}}"),
       ('sum(ragd_vector_index_deleted_vectors{%s})' % SEL, "deleted, still in the graph")],
      "short", 6, 6, extra={"min": 0},
      description="graph: searched approximately; flat: new rows not yet in the graph (and every row of an exact index). A flat segment that keeps growing under a graph means the builder is behind.")
panel("timeseries", "Keyword and vector search P95",
      [(hq("0.95", "vector_search_duration_seconds"), "vector"),
       (hq("0.95", "ragd_keyword_search_duration_seconds"), "keyword")],
      "s", 12, 6, description="P95 of one search on each side of a query.")
panel("timeseries", "Vector index memory",
      [('sum(ragd_vector_index_memory_bytes{%s})' % SEL, "index")],
      "bytes", 18, 6, extra={"min": 0}, description="Vectors, graph links and maps, as the index counts them.")
y[0] += 8

# --- generation ---------------------------------------------------------------------
row("Generation")
panel("timeseries", "Answers by outcome",
      [('sum by (outcome) (rate(ragd_answers_total{%s}[%s]))' % (SEL, RI), "{{outcome}}")],
      "reqps", 0, 8, description="Answers per second: answered, no_context (nothing retrieved), error, client_gone.")
panel("timeseries", "Time to first token",
      [(hq(q, "gen_ai_server_time_to_first_token_seconds"), "P%s" % n) for q, n in (("0.5", "50"), ("0.95", "95"))],
      "s", 8, 8, steps=[("green", None), ("red", 5)],
      description="From an answer's request to its first token, retrieval included. SlowFirstToken fires when P95 > 5 s for 10 minutes.")
panel("timeseries", "Output tokens per second",
      [('sum(rate(gen_ai_client_token_usage_sum{%s,gen_ai_token_type="output"}[%s]))' % (SEL, RI), "all answers"),
       (hq("0.5", "ragd_answer_output_tokens_per_second"), "per answer (P50)")],
      "short", 16, 8, description="Tokens written per second, in all and per answer after its first token.")
y[0] += 8
panel("timeseries", "Token usage",
      [('sum by (gen_ai_token_type) (rate(gen_ai_client_token_usage_sum{%s}[%s]))' % (SEL, RI), "{{gen_ai_token_type}}")],
      "short", 0, 8, description="Input (prompt) and output tokens per second, as the generator reports them.")
panel("timeseries", "Generator errors by reason",
      [('sum by (reason) (rate(ragd_generator_errors_total{%s}[%s]))' % (SEL, RI), "{{reason}}")],
      "reqps", 8, 8, description="Failed generator calls: connect, timeout, first_token_timeout, rate_limited, http_4xx, http_5xx, malformed, stream_cut.")
panel("timeseries", "No-context ratio",
      [(ratio('sum(rate(ragd_answers_total{%s,outcome="no_context"}[%s]))' % (SEL, RI),
              'sum(rate(ragd_answers_total{%s}[%s]))' % (SEL, RI)), "no context"),
       (ratio('sum(rate(ragd_answers_total{%s,outcome="error"}[%s]))' % (SEL, RI),
              'sum(rate(ragd_answers_total{%s}[%s]))' % (SEL, RI)), "error")],
      "percentunit", 16, 8, steps=[("green", None), ("red", 0.05)], extra={"min": 0, "max": 1},
      description="Share of answers with nothing retrieved to answer from, and of failed answers. HighAnswerErrorRate fires above 5 %.")
y[0] += 8

# --- HTTP RED ---------------------------------------------------------------------
row("HTTP (rate, errors, duration)")
panel("timeseries", "Requests by endpoint",
      [('sum by (endpoint) (rate(http_requests_total{%s}[%s]))' % (SEL, RI), "{{endpoint}}")],
      "reqps", 0, 8)
panel("timeseries", "Error ratio (5xx) by endpoint",
      [(ratio('sum by (endpoint) (rate(http_requests_total{%s,status=~"5.."}[%s]))' % (SEL, RI),
              'sum by (endpoint) (rate(http_requests_total{%s}[%s]))' % (SEL, RI)), "{{endpoint}}")],
      "percentunit", 8, 8, steps=[("green", None), ("red", 0.05)],
      description="5xx over all requests. HighErrorRate fires above 5 % for 5 minutes (with a minimum of traffic).")
panel("timeseries", "Latency P95 by endpoint",
      [(hq("0.95", "http_request_duration_seconds", ", endpoint"), "{{endpoint}}")], "s", 16, 8)
y[0] += 8

# --- resources --------------------------------------------------------------------
row("Resources")
panel("timeseries", "CPU",
      [("cpu_usage_percent{%s}" % SEL, "host (ragd) {{instance}}"),
       ('100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{job="node",mode="idle"}[%s])))' % RI,
        "host (node-exporter) {{instance}}"),
       ("100 * rate(process_cpu_seconds_total{%s}[%s])" % (SEL, RI), "ragd process {{instance}}")],
      "percent", 0, 8, extra={"min": 0})
panel("timeseries", "Memory",
      [("memory_usage_percent{%s}" % SEL, "host (ragd) {{instance}}"),
       ('100 * (1 - node_memory_MemAvailable_bytes{job="node"} / node_memory_MemTotal_bytes{job="node"})',
        "host (node-exporter) {{instance}}")],
      "percent", 8, 8, steps=[("green", None), ("red", 90)], extra={"min": 0, "max": 100})
panel("timeseries", "Disk",
      [("disk_usage_percent{%s}" % SEL, "data directory {{instance}}"),
       ('100 * (1 - node_filesystem_avail_bytes{job="node",fstype!~"tmpfs|ramfs|overlay|squashfs|nsfs"}'
        ' / node_filesystem_size_bytes{job="node",fstype!~"tmpfs|ramfs|overlay|squashfs|nsfs"})',
        "{{mountpoint}} {{instance}}")],
      "percent", 16, 8, steps=[("green", None), ("red", 90)], extra={"min": 0, "max": 100})
y[0] += 8
panel("timeseries", "GPU memory used",
      [("gpu_memory_used_bytes{%s}" % SEL, "{{device}} used"), ("gpu_memory_total_bytes{%s}" % SEL, "{{device}} total")],
      "bytes", 0, 12, description="Empty without an NVIDIA GPU.")
panel("timeseries", "GPU utilisation",
      [("gpu_utilization_percent{%s}" % SEL, "{{device}}")], "percent", 12, 12,
      extra={"min": 0, "max": 100}, description="Empty without an NVIDIA GPU.")
y[0] += 8

# --- health and SLO ---------------------------------------------------------------
row("Health and SLO")
panel("stat", "Component states",
      [("component_health_status{%s}" % SEL, "{{component}}")],
      "none", 0, 8, steps=[("red", None), ("yellow", 0.5), ("green", 1)], extra={"mappings": HEALTH_MAPPINGS})
panel("stat", "Firing alerts",
      [('count by (alertname) (ALERTS{alertstate="firing"})', "{{alertname}}"),
       ('count(ALERTS{alertstate="firing"}) or vector(0)', "total")],
      "short", 8, 8, steps=[("green", None), ("red", 1)])
panel("stat", "Error budget left (30 days, 99.9 %)",
      [("1 - (%s) / (1 - scalar(ragd:slo_objective:ratio))" %
        ratio('sum(increase(http_requests_total{%s,status=~"5.."}[30d]))' % SEL,
              'sum(increase(http_requests_total{%s}[30d]))' % SEL), "budget left")],
      "percentunit", 16, 8, steps=[("red", None), ("yellow", 0.25), ("green", 0.5)],
      description="Share of the 30-day error budget of the availability objective (ragd:slo_objective:ratio) still unspent.")
y[0] += 8


def variable(name, label, query, include_all=True):
    return {"name": name, "label": label, "type": "query", "datasource": DS,
            "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
            "refresh": 2, "includeAll": include_all, "multi": True,
            "allValue": ".*", "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
            "sort": 1}


dashboard = {
    "uid": "ragd-overview",
    "title": "RAG System Monitoring",
    "description": "ragd: the RAG service, its pipeline, HTTP, resources, health and SLO.",
    "tags": ["ragd", "rag"],
    "timezone": "browser",
    "schemaVersion": 39,
    "version": 1,
    "editable": False,
    "graphTooltip": 1,
    "refresh": "30s",
    "time": {"from": "now-1h", "to": "now"},
    "templating": {"list": [
        {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
         "current": {"selected": True, "text": "Prometheus", "value": "prometheus-ragd"}, "hide": 0},
        variable("job", "Job", "label_values(http_requests_total, job)"),
        variable("instance", "Instance", 'label_values(http_requests_total{job=~"$job"}, instance)'),
    ]},
    "annotations": {"list": [{"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                              "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
                              "name": "Annotations & Alerts", "type": "dashboard"}]},
    "panels": panels,
}

if __name__ == "__main__":
    text = json.dumps(dashboard, indent=2, ensure_ascii=False) + "\n"
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                             "dashboards", "rag-system-monitoring.json")
    if out == "-":
        sys.stdout.write(text)
    else:
        with open(out, "w") as f:
            f.write(text)
