#!/usr/bin/env python3
"""The peer of `ragd eval`: Xapian's BM25 (Debian's python3-xapian) on the
same BEIR-style set, scored the same way (MRR@10, nDCG@10 with gain
2^grade - 1, recall@1, recall@10, over the queries with a relevant
document). Each document is indexed whole (title and text), English
stemming and CJK n-grams on, queries parsed with OR as the default
operator, as a Xapian user would (a query the parser refuses, for its
quotes, operators or mixed scripts, is the OR of its indexed terms); an
HTML document's text is what a browser shows, without tags, scripts and
styles; a PDF's ("path" in place of "text", as ragd eval reads it) is what
poppler's pdftotext prints. Prints a row of ragd eval's table.

usage: bench/xapian_eval.py CORPUS QUERIES QRELS
"""
import json
import math
import os
import subprocess
import sys
from html.parser import HTMLParser

import xapian

class Text(HTMLParser):
    """The text of an HTML page, without scripts and styles."""

    def __init__(self):
        super().__init__()
        self.parts, self.skip = [], 0

    def handle_starttag(self, tag, attrs):
        self.skip += tag in ("script", "style")

    def handle_endtag(self, tag):
        self.skip -= tag in ("script", "style") and self.skip > 0

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def text_of(d):
    if "path" in d:
        path = os.path.join(os.path.dirname(corpus_path), d["path"])
        return subprocess.run(["pdftotext", "-enc", "UTF-8", path, "-"], check=True,
                              capture_output=True).stdout.decode("utf-8", "replace")
    if d.get("content_type") != "text/html":
        return d["text"]
    t = Text()
    t.feed(d["text"])
    return " ".join(t.parts)


corpus_path, queries_path, qrels_path = sys.argv[1:4]
flags = xapian.TermGenerator.FLAG_CJK_NGRAM
db = xapian.WritableDatabase("", xapian.DB_BACKEND_INMEMORY)
tg = xapian.TermGenerator()
tg.set_stemmer(xapian.Stem("english"))
tg.set_flags(flags)
for line in open(corpus_path, encoding="utf-8"):
    if not line.strip():
        continue
    d = json.loads(line)
    doc = xapian.Document()
    tg.set_document(doc)
    tg.index_text(d.get("title", ""))
    tg.increase_termpos()
    tg.index_text(text_of(d))
    doc.set_data(d["_id"])
    db.add_document(doc)

qrels = {}
for i, line in enumerate(open(qrels_path, encoding="utf-8")):
    parts = line.rstrip("\n").split("\t")
    if len(parts) != 3 or not parts[2].lstrip("-").isdigit():
        continue  # the header
    qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])

qp = xapian.QueryParser()
qp.set_stemmer(xapian.Stem("english"))
qp.set_stemming_strategy(xapian.QueryParser.STEM_SOME)
qp.set_database(db)
qp.set_default_op(xapian.Query.OP_OR)
enquire = xapian.Enquire(db)
enquire.set_weighting_scheme(xapian.BM25Weight())
mrr = ndcg = r1 = r10 = n = 0
for line in open(queries_path, encoding="utf-8"):
    if not line.strip():
        continue
    q = json.loads(line)
    rel = {d: g for d, g in qrels.get(q["_id"], {}).items() if g > 0}
    if not rel:
        continue
    try:
        query = qp.parse_query(q["text"], xapian.QueryParser.FLAG_DEFAULT | xapian.QueryParser.FLAG_CJK_NGRAM)
    except xapian.QueryParserError:
        # the parser refuses some mixed Latin and CJK texts whatever the
        # flags: the OR of the terms the indexer makes of the text
        qd = xapian.Document()
        tg.set_document(qd)
        tg.index_text(q["text"])
        query = xapian.Query(xapian.Query.OP_OR, [t.term for t in qd.termlist()])
    enquire.set_query(query)
    docs = [m.document.get_data().decode() for m in enquire.get_mset(0, 10)]
    rr = dcg = 0.0
    found1 = found10 = 0
    for i, d in enumerate(docs):
        g = rel.get(d, 0)
        if g > 0:
            rr = rr or 1.0 / (i + 1)
            dcg += (2 ** g - 1) / math.log2(i + 2)
            found10 += 1
            found1 += i == 0
    ideal = sorted(rel.values(), reverse=True)[:10]
    idcg = sum((2 ** g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    mrr += rr
    ndcg += dcg / idcg if idcg else 0
    r1 += found1 / len(rel)
    r10 += found10 / len(rel)
    n += 1
k = n or 1
print("  %-8s %8.3f %8.3f %9.3f %10.3f %10s   (Xapian %s BM25, whole documents)"
      % ("xapian", mrr / k, ndcg / k, r1 / k, r10 / k, "-", xapian.version_string()))
