#!/usr/bin/env bash
# `ragd ingest` and `ragd query` against a running ragd.
source "$(dirname "$0")/lib/common.sh"
start_ragd c || exit 1
S=http://127.0.0.1:$PORT_c
good=$TEST_TMP/good
mkdir -p "$good/sub/deeper"
cp tests/fixtures/docs/sample.md "$good/"
cp tests/fixtures/docs/sample.html "$good/sub/"
cp tests/fixtures/docs/sample.pdf "$good/sub/deeper/"
echo "ignored: not a document type" >"$good/notes.csv"
echo "Plain text about latency budgets." >"$good/sub/plain.txt"

out=$("$RAGD_BIN" ingest "$good" --server "$S" 2>&1)
check "a good directory: exit 0" eq "$?" 0
check "summary line" contains "$out" "ingested 4 of 4 files"
check "files found recursively, ids from relative paths" \
    eq "$(curl -s "$S/v1/documents" | /usr/bin/python3 -c 'import json,sys; print(sorted(x["id"] for x in json.load(sys.stdin)["documents"]))')" \
    "['sample.md', 'sub-deeper-sample.pdf', 'sub-plain.txt', 'sub-sample.html']"
out=$("$RAGD_BIN" ingest "$good" --server "$S" 2>&1)
check "ingesting again replaces" eq "$(curl -s "$S/metrics" | awk '$1 == "active_documents_count" {print $2}')" 4

out=$("$RAGD_BIN" ingest tests/fixtures/docs --server "$S" 2>"$TEST_TMP/err")
check "some files fail: exit 1" eq "$?" 1
check "failed files listed with the reason" grep -q "invalid-utf8.txt: HTTP 400: the document is not valid UTF-8" "$TEST_TMP/err"
check "unparseable PDF listed" grep -q "notapdf.pdf: HTTP 422" "$TEST_TMP/err"

out=$(script -qec "$RAGD_BIN ingest $good --server $S" /dev/null)
check "progress bar on a terminal" contains "$out" "4/4 files"
check "progress bar shows rate and ETA" contains "$out" "ETA"

out=$("$RAGD_BIN" query "latency budgets" --server "$S" --top-k 1)
check "query prints results" contains "$out" "1 result (hybrid"
check "query names the document" contains "$out" "(sub-plain.txt #0)"
"$RAGD_BIN" query "x" --server "$S" --mode nope 2>"$TEST_TMP/err"
check "query error: exit 1 with the server's message" eq "$?" 1
check "query error message" grep -q "'mode' must be" "$TEST_TMP/err"
"$RAGD_BIN" query "x" --server http://127.0.0.1:1 2>"$TEST_TMP/err"
check "no server: exit 1" eq "$?" 1
"$RAGD_BIN" ingest /nonexistent --server "$S" 2>/dev/null
check "missing path: exit 2" eq "$?" 2

RAGD_API_KEY=sekrit start_ragd k || exit 1
out=$(RAGD_API_KEY= "$RAGD_BIN" ingest "$good" --server "http://127.0.0.1:$PORT_k" 2>&1)
check "without the key: refused" contains "$out" "HTTP 401"
out=$(RAGD_API_KEY=sekrit "$RAGD_BIN" ingest "$good" --server "http://127.0.0.1:$PORT_k" 2>&1)
check "with RAGD_API_KEY: accepted" contains "$out" "ingested 4 of 4 files"
finish
