#!/usr/bin/env bash
# POST /v1/documents/batch: NDJSON, one commit for the batch, per-line
# results (a bad line loses nothing of the others), limits, the API key,
# kill -9 after the acknowledgement, and `ragd ingest` sending batches.
source "$(dirname "$0")/lib/common.sh"
PY=/usr/bin/python3
RAGD_API_KEY=k start_ragd b --max-batch 8 --health-interval 0.2 || exit 1
U=http://127.0.0.1:$PORT_b
batch() { curl -s -w ' %{http_code}' -H 'Authorization: Bearer k' -H 'Content-Type: application/x-ndjson' --data-binary @- "$U/v1/documents/batch"; }
r=$(printf '%s\n' '{"id":"a","content":"Alpha zircon."}' '' '{"id":"b","content":"# Beta\n\nbeta text","content_type":"text/markdown"}' 'not json' '{"id":"bad id!","content":"x"}' '{"id":"a","content":"Alpha again, zircon."}' '{"id":"c","content":"x","content_type":"application/pdf"}' | batch)
check "200 with per-line results" eq "${r##* }" 200
check "results by physical line: ok, ok, bad JSON, bad id, replaced in the same batch, PDF refused" eq "$($PY -c '
import json,sys
d=json.loads(sys.argv[1])
print(d["ingested"], d["failed"], [(x["line"], x.get("id"), x.get("replaced"), x.get("error",{}).get("code")) for x in d["results"]])' "${r% *}")" "3 3 [(1, 'a', False, None), (3, 'b', False, None), (4, None, None, 'invalid_field'), (5, None, None, 'invalid_field'), (6, 'a', True, None), (7, None, None, 'unsupported_media_type')]"
check "the Markdown line took its own title" contains "$(curl -s "$U/v1/documents/b")" '"title":"Beta"'
check "stored: the latest a, and b" eq "$(curl -s "$U/v1/documents" | $PY -c 'import json,sys; print(sorted(d["id"] for d in json.load(sys.stdin)["documents"]))') $(curl -s "$U/v1/documents/a" | $PY -c 'import json,sys; print(json.load(sys.stdin)["text"])')" "['a', 'b'] Alpha again, zircon."
sleep 0.5
check "index and store agree after a replace within a batch" contains "$(curl -s "$U/ready")" '"index":{"status":"healthy"'
m=$(curl -s "$U/metrics")
check "one commit for the batch (ragd_ingest_batch_documents)" eq "$(metric_value "$m" ragd_ingest_batch_documents_count) $(metric_value "$m" ragd_ingest_batch_documents_sum)" "1 3"
check "searchable" contains "$(curl -s -d '{"query":"zircon","mode":"keyword"}' "$U/v1/query")" '"document_id":"a"'
r=$(seq 9 | sed 's/.*/{"content":"x &"}/' | batch)
check "more lines than --max-batch: 413, nothing stored" eq "$(sed 's/ [0-9]*$//' <<<"$r" | $PY -c 'import json,sys; print(json.load(sys.stdin)["error"]["code"])') ${r##* } $(metric_value "$(curl -s "$U/metrics")" active_documents_count)" "payload_too_large 413 2"
check "an empty batch: 400" contains "$(printf '\n\n' | batch)" ' 400'
check "without the API key: 401" eq "$(curl -s -o /dev/null -w '%{http_code}' --data-binary '{"content":"x"}' "$U/v1/documents/batch")" 401
# acknowledged means committed: kill -9 right after the answer
r=$(printf '%s\n' '{"id":"d1","content":"durable one"}' '{"id":"d2","content":"durable two"}' | batch)
kill -9 "$PID_b"
wait "$PID_b" 2>/dev/null
RAGD_API_KEY=k start_ragd b2 --data-dir "$TEST_TMP/b-data" || exit 1
check "after kill -9: the acknowledged batch is there" eq "${r##* } $(curl -s "http://127.0.0.1:$PORT_b2/v1/documents" | $PY -c 'import json,sys; print(sorted(d["id"] for d in json.load(sys.stdin)["documents"]))')" "200 ['a', 'b', 'd1', 'd2']"
stop_pid "$PID_b2"

# ragd ingest sends batches of up to 100 files; a PDF and a non-UTF-8 file alone
start_ragd i || exit 1
mkdir -p "$TEST_TMP/tree/sub"
for n in $(seq 1 130); do printf '# Note %d\n\nText of note %d.\n' "$n" "$n" >"$TEST_TMP/tree/sub/n$n.md"; done
printf 'plain words\n' >"$TEST_TMP/tree/p.txt"
printf 'bad \xff bytes\n' >"$TEST_TMP/tree/bad.txt"
$PY tests/fixtures/docs/make_pdf.py "$TEST_TMP/tree/report.pdf" --title "Quarterly latency report" "Latency rose in March."
"$RAGD_BIN" ingest "$TEST_TMP/tree" --server "http://127.0.0.1:$PORT_i" >"$TEST_TMP/ingest.out" 2>&1
check "ingest: 132 of 133 files, the bad one named" eq "$? $(grep -c 'ingested 132 of 133 files' "$TEST_TMP/ingest.out") $(grep -c 'bad.txt: .*UTF-8' "$TEST_TMP/ingest.out")" "1 1 1"
m=$(curl -s "http://127.0.0.1:$PORT_i/metrics")
check "ingest: the 131 text files in 2 batches, the PDF and the bad file alone" eq "$(metric_value "$m" ragd_ingest_batch_documents_count) $(metric_value "$m" ragd_ingest_batch_documents_sum)" "4 133"
check "ingest: Markdown titles are their own, text titles their file names" eq "$(curl -s "http://127.0.0.1:$PORT_i/v1/documents/sub-n7.md" | $PY -c 'import json,sys; print(json.load(sys.stdin)["title"])') $(curl -s "http://127.0.0.1:$PORT_i/v1/documents/p.txt" | $PY -c 'import json,sys; print(json.load(sys.stdin)["title"])')" "Note 7 p.txt"
check "ingest: a PDF takes its metadata title" contains "$(curl -s "http://127.0.0.1:$PORT_i/v1/documents/report.pdf")" '"title":"Quarterly latency report"'
# two batches go at once; when two files map to one id, one at a time, so
# that the later file wins as it always did: here the first is in a slow
# batch (8 MiB: sent when full), the second in a quick one after it
mkdir -p "$TEST_TMP/again/a" "$TEST_TMP/again/b"
{ printf 'the first version\n'; seq 1 560000; } >"$TEST_TMP/again/a/same.txt"
seq 1 560000 >"$TEST_TMP/again/a/filler.txt"
printf 'the second version\n' >"$TEST_TMP/again/b/same.txt"
"$RAGD_BIN" ingest "$TEST_TMP/again/a" "$TEST_TMP/again/b" --server "http://127.0.0.1:$PORT_i" >"$TEST_TMP/again.out" 2>&1
check "ingest: two files of one id, the later one wins" eq "$? $(curl -s "http://127.0.0.1:$PORT_i/v1/documents/same.txt" | $PY -c 'import json,sys; print(json.load(sys.stdin)["text"])')" "0 the second version"
finish
