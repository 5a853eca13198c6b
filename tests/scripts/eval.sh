#!/usr/bin/env bash
# ragd eval: the figures on sets whose answers are known exactly, in
# process and against a running server; the shipped set; bad input.
source "$(dirname "$0")/lib/common.sh"
PY=/usr/bin/python3
S=$TEST_TMP/set
mkdir -p "$S"
cat >"$S/corpus.jsonl" <<'J'
{"_id": "a", "title": "Alpha", "text": "Zircon bearing sands are mined for zirconium."}
{"_id": "b", "title": "Beta", "text": "Prometheus scrapes targets every ten seconds."}
{"_id": "c/d", "title": "Gamma", "text": "Alertmanager groups alerts and sends them to a webhook."}
J
cat >"$S/queries.jsonl" <<'J'
{"_id": "q1", "text": "zircon bearing sands"}
{"_id": "q2", "text": "how often does prometheus scrape"}
{"_id": "q3", "text": "alertmanager webhook"}
{"_id": "q4", "text": "a query nobody judged"}
J
printf 'query-id\tcorpus-id\tscore\nq1\ta\t2\nq2\tb\t1\nq3\tc/d\t2\n' >"$S/qrels.tsv"
args=(--corpus "$S/corpus.jsonl" --queries "$S/queries.jsonl" --qrels "$S/qrels.tsv")
out=$("$RAGD_BIN" eval "${args[@]}" --modes keyword --json)
check "in process: exit 0" eq "$?" 0
check "keyword finds each answer first: every figure 1 (3 judged queries)" eq "$($PY -c 'import json,sys; d=json.load(sys.stdin)["keyword"]; print(d["mrr@10"], d["ndcg@10"], d["recall@1"], d["recall@10"], d["queries"])' <<<"$out")" "1.0 1.0 1.0 1.0 3"
out=$("$RAGD_BIN" eval "${args[@]}")
check "the table has every mode" eq "$(grep -cE '^  (vector|keyword|hybrid) ' <<<"$out")" 3
# a judged document that nothing retrieves: recall 0 for that query
printf 'query-id\tcorpus-id\tscore\nq1\tb\t2\n' >"$S/wrong.tsv"
out=$("$RAGD_BIN" eval --corpus "$S/corpus.jsonl" --queries "$S/queries.jsonl" --qrels "$S/wrong.tsv" --modes keyword --json)
check "a wrong judgement scores 0" eq "$($PY -c 'import json,sys; d=json.load(sys.stdin)["keyword"]; print(d["mrr@10"], d["recall@10"])' <<<"$out")" "0.0 0.0"

# a PDF: "path" (beside the corpus file) in place of "text"
mkdir -p "$S/files"
$PY tests/fixtures/docs/make_pdf.py "$S/files/report.pdf" --title "Quarterly report" "Granite columns cool slowly." "Obsidian cools fast."
{ cat "$S/corpus.jsonl"; echo '{"_id": "p", "path": "files/report.pdf", "content_type": "application/pdf"}'; } >"$S/pdf.jsonl"
{ cat "$S/queries.jsonl"; echo '{"_id": "q5", "text": "granite columns"}'; echo '{"_id": "q6", "text": "obsidian"}'; } >"$S/pdfq.jsonl"
printf 'q5\tp\t1\nq6\tp\t1\n' | cat "$S/qrels.tsv" - >"$S/pdf.tsv"
pargs=(--corpus "$S/pdf.jsonl" --queries "$S/pdfq.jsonl" --qrels "$S/pdf.tsv")
out=$("$RAGD_BIN" eval "${pargs[@]}" --modes keyword --json)
check "a PDF by path, in process: found on both its pages (5 judged queries)" eq "$($PY -c 'import json,sys; d=json.load(sys.stdin)["keyword"]; print(d["mrr@10"], d["queries"])' <<<"$out")" "1.0 5"
echo '{"_id": "gone", "path": "files/missing.pdf", "content_type": "application/pdf"}' >"$S/gone.jsonl"
"$RAGD_BIN" eval --corpus "$S/gone.jsonl" --queries "$S/queries.jsonl" --qrels "$S/qrels.tsv" 2>"$TEST_TMP/err"
rc=$?
check "a path that is not there: exit 1, named ($(head -c 120 "$TEST_TMP/err"))" eq "$rc $(grep -c 'files/missing.pdf: No such file' "$TEST_TMP/err")" "1 1"

start_ragd e --chunk-tokens 16 --chunk-overlap 4 || exit 1
out=$("$RAGD_BIN" eval "${pargs[@]}" --server "http://127.0.0.1:$PORT_e" --ingest --modes keyword,hybrid --json)
check "against a server, --ingest (the PDF as a raw body): the same figures" eq "$($PY -c 'import json,sys; d=json.load(sys.stdin); print(d["keyword"]["mrr@10"], d["hybrid"]["queries"])' <<<"$out")" "1.0 5"
check "the server holds the corpus" eq "$(curl -s "http://127.0.0.1:$PORT_e/metrics" | awk '$1 == "active_documents_count" {print $2}')" 4
check "the PDF keeps its own title, the others theirs" eq "$(curl -s "http://127.0.0.1:$PORT_e/v1/documents/p" | $PY -c 'import json,sys; print(json.load(sys.stdin)["title"])') $(curl -s "http://127.0.0.1:$PORT_e/v1/documents/c-d" | $PY -c 'import json,sys; print(json.load(sys.stdin)["title"])')" "Quarterly report Gamma"
# neighbouring chunks merged on request (16-token chunks, 4 shared)
long="Basalt one two three four five six seven eight nine ten eleven twelve. Basalt thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty. Basalt twentyone twentytwo twentythree twentyfour twentyfive twentysix."
curl -s -o /dev/null -H 'Content-Type: application/json' -d "{\"id\":\"long\",\"content\":\"$long\"}" "http://127.0.0.1:$PORT_e/v1/documents"
q() { curl -s -d "$1" "http://127.0.0.1:$PORT_e/v1/query" | $PY -c 'import json,sys; r=json.load(sys.stdin)["results"]; print(len(r), r[0]["chunk_index"], r[0].get("chunk_last"), " ".join(r[0]["text"].split()) == sys.argv[1])' "$long"; }
n=$(q '{"query":"basalt","mode":"keyword","max_per_document":0}' | cut -d' ' -f1,3)
check "without merging: the document's chunks one by one ($n)" test "${n% *}" -ge 2 -a "${n#* }" = None
check "merge_neighbours: one hit spanning the chunks, the text once" eq "$(q '{"query":"basalt","mode":"keyword","max_per_document":0,"merge_neighbours":true}')" "1 0 $((${n% *} - 1)) True"
check "merge_neighbours must be a boolean" contains "$(curl -s -w ' %{http_code}' -d '{"query":"x","merge_neighbours":"yes"}' "http://127.0.0.1:$PORT_e/v1/query")" ' 400'
stop_pid "$PID_e"

out=$("$RAGD_BIN" eval --corpus eval/corpus.jsonl --queries eval/queries.jsonl --qrels eval/qrels.tsv --json)
check "the shipped set: every mode scored on its 58 queries" eq "$($PY -c 'import json,sys; d=json.load(sys.stdin); print(sorted(k for k in d if k != "ingest_seconds"), {d[m]["queries"] for m in ("vector","keyword","hybrid")})' <<<"$out")" "['hybrid', 'keyword', 'vector'] {58}"

echo '{"text": "no id"}' >"$S/bad.jsonl"
"$RAGD_BIN" eval --corpus "$S/bad.jsonl" --queries "$S/queries.jsonl" --qrels "$S/qrels.tsv" 2>"$TEST_TMP/err"
check "a corpus line without _id: exit 2, names the line" eq "$? $(grep -c 'bad.jsonl:1: not an object with "_id" and "text"' "$TEST_TMP/err")" "2 1"
"$RAGD_BIN" eval --corpus "$S/corpus.jsonl" 2>/dev/null
check "missing files: exit 2" eq "$?" 2
"$RAGD_BIN" eval "${args[@]}" --modes fuzzy 2>/dev/null
check "an unknown mode: exit 2" eq "$?" 2
finish
