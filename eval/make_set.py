#!/usr/bin/env python3
"""Writes ragd's own retrieval evaluation set (BEIR format) into eval/:
corpus.jsonl, queries.jsonl, qrels.tsv. The texts are this project's own
writing about running a RAG service, in English and Japanese; every query
is phrased apart from the text it should find, and has one document that
answers it (grade 2), sometimes a second that helps (grade 1).

The set also holds what misleads ranking, as real documentation does: a
hub page that names every topic, a long manual that repeats a sentence of
each, two near-identical pages, and tiny pages ("ok"). None of those
answers a query.

usage: eval/make_set.py   (rewrites the three files; the output is committed)
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))

# id, title, text, [(query, grade)...]
TOPICS = [
    ("p95", "Computing the P95 latency",
     "The 95th percentile of request duration comes from histogram_quantile over the rate of the "
     "bucket counters. The buckets must be summed by their le label first: otherwise every label "
     "set gets its own percentile and the dashboard shows dozens of lines instead of one.",
     ["why does my latency percentile graph show many lines", "how do I get one 95th percentile for the whole service"]),
    ("error-ratio", "Error ratio and minimum traffic",
     "The error ratio divides the rate of responses with a 5xx status by the rate of all responses. "
     "An alert on it also requires a minimum request rate, so that one failure among three requests "
     "at night does not wake anyone.",
     ["alert on failed requests without paging for a single failure", "what share of responses are server errors"]),
    ("cache-ratio", "Query cache hit ratio",
     "The hit ratio of the query cache is hits divided by lookups. When the service is idle there "
     "are no lookups; the denominator is guarded so the ratio is absent instead of NaN, and the "
     "low-hit-rate alert stays silent.",
     ["hit ratio shows NaN when nobody queries", "how effective is the cache of answers"]),
    ("burn-rate", "Burn-rate alerts for the error budget",
     "An availability objective of 99.9 percent leaves an error budget of 0.1 percent. Burn-rate "
     "alerts compare the error ratio over a long and a short window with a multiple of the budget: "
     "14.4 times over an hour and five minutes pages at once, 6 times over six hours warns.",
     ["multi window alerting on the SLO", "how fast are we spending the error budget"]),
    ("wal", "Durability of acknowledged writes",
     "The store is one SQLite database in WAL mode with synchronous FULL. A document is acknowledged "
     "only after its transaction commits, so killing the process with signal 9 loses nothing that "
     "a client was told had been stored.",
     ["is data lost if the server is killed", "when is an ingested document safe on disk"]),
    ("hnsw", "Approximate nearest neighbour search",
     "A graph index such as HNSW finds close vectors without comparing the query with every stored "
     "vector. It trades a little recall for a large speed-up; recall is measured against an exact "
     "scan on a sample of queries.",
     ["searching millions of embeddings quickly", "graph based vector index recall"]),
    ("bm25", "Keyword ranking with BM25",
     "BM25 scores a chunk by the query terms it contains, weighting rare terms more than common ones "
     "and damping long chunks. Terms that appear in a fifth of all chunks carry almost no weight.",
     ["how are lexical matches scored", "why do common words barely matter in full text search"]),
    ("rrf", "Reciprocal rank fusion",
     "Hybrid search fuses the vector ranking and the keyword ranking. Reciprocal rank fusion gives "
     "each hit the sum of one over sixty plus its rank in each list, so scores of different scales "
     "need no tuning.",
     ["combining semantic and lexical result lists", "how does hybrid retrieval merge two rankings"]),
    ("chunking", "Chunk size and overlap",
     "Documents are cut into chunks of about 256 tokens, with 32 tokens shared between neighbours so "
     "a sentence cut at a boundary still appears whole in one of them. Cuts fall at paragraph and "
     "sentence ends, never across a section.",
     ["how big are the pieces a document is split into", "why do neighbouring passages repeat text"]),
    ("cjk", "Searching Japanese text",
     "Japanese is written without spaces, so keyword search indexes overlapping pairs of characters. "
     "A two-character word then matches inside an unsegmented sentence without a dictionary.",
     ["full text search for languages without word boundaries", "matching words in unsegmented sentences"]),
    ("inhibition", "Alert inhibition",
     "Alertmanager can silence the warnings of an instance while a critical alert of the same "
     "instance fires. The operator then sees the cause once instead of every symptom.",
     ["suppress warnings when a critical alert is already firing", "too many notifications during an outage"]),
    ("node-exporter", "Host metrics from node-exporter",
     "node-exporter publishes the host's CPU seconds per mode, memory available and filesystem "
     "space. CPU busy share is one minus the idle rate averaged over cores.",
     ["how much of the machine's processor is in use", "where do filesystem free space figures come from"]),
    ("gpu", "GPU memory through NVML",
     "The NVIDIA management library reports each device's used and total memory and its "
     "utilisation. ragd loads it at run time, so the same binary works on machines without a GPU "
     "and reports a device count of zero there.",
     ["watching graphics card memory", "does the service need a GPU driver installed"]),
    ("api-key", "Protecting write routes with a key",
     "When an API key is configured, requests that change documents must carry it as a bearer token. "
     "The key is read from the environment, never from a committed file, and compared in constant "
     "time.",
     ["who may upload or delete documents", "where should the secret token be configured"]),
    ("retry", "Retries with backoff",
     "Calls to a model server are retried on rate limits, server errors and connection failures, "
     "waiting longer after each attempt with random jitter, or as long as the server's Retry-After "
     "header asks.",
     ["what happens when the embedding server answers 429", "waiting between repeated attempts"]),
    ("ttft", "Time to first token",
     "Users judge an answer by how soon its first words appear. Time to first token runs from the "
     "request to the first piece of generated text, retrieval included, and is watched at the 95th "
     "percentile.",
     ["how long until text starts appearing", "measuring the responsiveness of generated answers"]),
    ("sse", "Streaming answers",
     "Answers stream as server-sent events: the citations first, then pieces of text as the model "
     "writes them, then a final event with token counts and timings. A client that disconnects "
     "stops the generation.",
     ["receive the answer progressively", "what does the event stream of an answer contain"]),
    ("citations", "Citations in answers",
     "Each passage given to the model is numbered, and the answer cites the passages it relies on "
     "with their numbers in square brackets, so a reader can check every statement against its "
     "source.",
     ["how can I verify where a statement came from", "numbered sources in generated text"]),
    ("no-context", "Questions without context",
     "When retrieval finds nothing, the service says so instead of letting the model invent an "
     "answer, and counts the question as answered without context.",
     ["what if no document matches the question", "preventing made up answers"]),
    ("pdf-sandbox", "Parsing untrusted PDF files",
     "PDF files are parsed in a child process with limits on CPU time, memory and wall-clock time. "
     "A hostile or endless file is refused with an error instead of crashing or hanging the "
     "server.",
     ["can a malicious document crash the service", "limits on parsing uploaded files"]),
    ("readiness", "Liveness and readiness",
     "The health route answers while the process serves; the readiness route answers 503 when a "
     "component that queries need, such as the store or the embedder, is unhealthy.",
     ["when should the load balancer stop sending traffic", "difference between alive and ready"]),
    ("labels", "Bounded label values",
     "Metric labels must take few values: a route template rather than the raw path, a status code, "
     "a model name from configuration. A label filled from user input creates a new series per "
     "request and exhausts memory.",
     ["why is my Prometheus running out of memory from one metric", "cardinality of time series"]),
    ("shutdown", "Graceful shutdown",
     "On SIGTERM the server stops accepting connections, lets requests in flight finish for a "
     "bounded time, and exits with status zero; answers still being written end with a message "
     "saying the server is stopping.",
     ["what happens to running requests when the service stops", "stopping without dropping requests"]),
]

JAPANESE = [
    ("ja-dashboard", "ダッシュボードの見方",
     "ダッシュボードでは応答時間の95パーセンタイル、キャッシュヒット率、GPUメモリ使用率を確認します。"
     "しきい値を超えたパネルは赤く表示されます。",
     ["応答速度とキャッシュの状態はどこで見られますか", "赤いパネルは何を意味しますか"]),
    ("ja-alerts", "アラートの通知",
     "Alertmanager は重大度でアラートをまとめ、Webhook に送信します。重大なアラートが発生している間、"
     "同じインスタンスの警告は抑制されます。",
     ["通知が多すぎるときの対策", "警告はどこに送られますか"]),
    ("ja-backup", "データのバックアップ",
     "データディレクトリの SQLite データベースは WAL モードで書き込まれます。バックアップには "
     "sqlite3 の backup コマンドを使い、稼働中でも一貫したコピーを取ります。",
     ["稼働中にデータを安全にコピーする方法", "データベースの保存形式"]),
    ("ja-embedding", "埋め込みモデルの変更",
     "保存されたベクトルは作成したモデルと次元を記録しています。別のモデルに切り替えるときは新しい"
     "データディレクトリを使い、文書を取り込み直します。",
     ["ベクトル化のモデルを切り替えたい", "次元が違うベクトルは混ざりますか"]),
    ("ja-tokyo", "東京拠点の運用",
     "東京のデータセンターでは Prometheus が10秒ごとにメトリクスを収集し、30日分を保存します。"
     "夜間の当番は重大なアラートだけを受け取ります。",
     ["メトリクスはどのくらいの間隔で集めていますか", "夜間に受け取る通知"]),
    ("ja-chunk", "日本語文書の分割",
     "日本語の文書は句点で文に区切られ、約256トークンごとにチャンクへ分割されます。見出しをまたいで"
     "分割されることはありません。",
     ["長い日本語の文書はどのように分けられますか", "見出しとチャンクの関係"]),
]

TRAPS = [
    ("hub", "Index of topics",
     "Topics: P95 latency, error ratio, cache hit ratio, burn-rate alerts, durability, nearest "
     "neighbour search, BM25, reciprocal rank fusion, chunk size, Japanese search, inhibition, "
     "node-exporter, GPU memory, API key, retries, time to first token, streaming, citations, "
     "questions without context, PDF parsing, readiness, labels, shutdown. ダッシュボード、アラート、"
     "バックアップ、埋め込みモデル、東京、日本語文書の分割。"),
    ("ok", "ok", "ok"),
    ("yes", "yes", "yes."),
    ("release-notes-1", "Release notes 0.1",
     "This release adds answers with citations, a dashboard, and faster keyword search. Upgrade by "
     "replacing the binary; the data directory is migrated at start-up."),
    ("release-notes-1-copy", "Release notes 0.1 (mirror)",
     "This release adds answers with citations, a dashboard, and faster keyword search. Upgrade by "
     "replacing the binary; the data directory is migrated at start-up."),
]


def main():
    corpus, queries, qrels = [], [], []
    manual = []
    for doc_id, title, text, qs in TOPICS + JAPANESE:
        corpus.append({"_id": doc_id, "title": title, "text": text})
        manual.append(title + ". " + text.split(". ")[0].split("。")[0] + ".")
        for i, q in enumerate(qs):
            qid = "%s-q%d" % (doc_id, i + 1)
            queries.append({"_id": qid, "text": q})
            qrels.append((qid, doc_id, 2))
    # the long manual: a sentence of every topic, many times over, in sections
    sections = []
    for rep in range(6):
        sections.append("## Part %d\n\n%s" % (rep + 1, "\n\n".join(manual)))
    corpus.append({"_id": "manual", "title": "The complete operations manual",
                   "text": "# The complete operations manual\n\n" + "\n\n".join(sections),
                   "content_type": "text/markdown"})
    for doc_id, title, text in TRAPS:
        corpus.append({"_id": doc_id, "title": title, "text": text})
    # a second relevant document where one exists in the set
    extra = {"p95-q2": "ttft", "burn-rate-q1": "error-ratio", "inhibition-q2": "ja-alerts",
             "cjk-q2": "ja-chunk", "ja-alerts-q1": "inhibition"}
    for qid, doc in extra.items():
        qrels.append((qid, doc, 1))
    with open(os.path.join(HERE, "corpus.jsonl"), "w") as f:
        for d in corpus:
            f.write(json.dumps(d, ensure_ascii=False) + "\n")
    with open(os.path.join(HERE, "queries.jsonl"), "w") as f:
        for q in queries:
            f.write(json.dumps(q, ensure_ascii=False) + "\n")
    with open(os.path.join(HERE, "qrels.tsv"), "w") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for q, d, g in qrels:
            f.write("%s\t%s\t%d\n" % (q, d, g))
    print("%d documents, %d queries, %d judgements" % (len(corpus), len(queries), len(qrels)))


if __name__ == "__main__":
    main()
