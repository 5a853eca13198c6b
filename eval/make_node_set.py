#!/usr/bin/env python3
"""Builds a second evaluation set from documentation this project did not
write: Node.js's API reference as Debian's nodejs package installs it
(/usr/share/doc/nodejs/api/*.md; nodejs is already a test dependency).

Each Markdown file is one document (64 of them, 2 KB to 260 KB: the long
ones are the "hub pages" that win queries they should not). Two query
files, each with its qrels, drawn with a fixed seed:

  headings: the text of a "###" heading (an API's name and signature)
            -> the file that holds it;
  passages: five to eight words of one prose sentence, in order, stop
            words and code left out -> the file that holds the sentence.

usage: make_node_set.py OUTDIR [APIDIR]
Writes OUTDIR/corpus.jsonl, OUTDIR/{headings,passages}.{jsonl,tsv}.
"""
import json
import os
import random
import re
import sys

STOP = set("a an and are as at be by can do does for from has have how i if in into is it its "
           "of on or that the their then there these this to was what when where which who "
           "why will with you your not no all any may must should".split())


def sentences(md):
    """Prose sentences of a Markdown file: no code, tables, lists of types."""
    prose = re.sub(r"```.*?```", " ", md, flags=re.S)
    out = []
    for para in re.split(r"\n\s*\n", prose):
        p = para.strip()
        if not p or p[0] in "#*|<>-+!" or p.startswith("[") or "`" * 3 in p:
            continue
        p = re.sub(r"`[^`]*`", " ", p)           # inline code
        p = re.sub(r"\[([^\]]*)\]\[[^\]]*\]", r"\1", p)  # reference links
        p = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", p)
        for s in re.split(r"(?<=[.!?])\s+", p.replace("\n", " ")):
            words = re.findall(r"[A-Za-z][A-Za-z'-]+", s)
            content = [w for w in words if w.lower() not in STOP]
            if len(content) >= 8:
                out.append(content)
    return out


def main():
    out = sys.argv[1]
    api = sys.argv[2] if len(sys.argv) > 2 else "/usr/share/doc/nodejs/api"
    rng = random.Random(13)
    files = sorted(f for f in os.listdir(api) if f.endswith(".md") and f not in ("all.md", "index.md"))
    if not files:
        sys.exit("no Markdown files in %s (is Debian's nodejs package installed?)" % api)
    os.makedirs(out, exist_ok=True)
    heads, passages = [], []
    with open(os.path.join(out, "corpus.jsonl"), "w") as c:
        for f in files:
            md = open(os.path.join(api, f), encoding="utf-8").read()
            doc = f[:-3]
            c.write(json.dumps({"_id": doc, "text": md, "content_type": "text/markdown"}) + "\n")
            for h in re.findall(r"^### (.+)$", md, flags=re.M):
                h = re.sub(r"[`\\]", "", h).strip()
                if len(h) >= 6:
                    heads.append((h, doc))
            for s in sentences(md):
                passages.append((s, doc))
    rng.shuffle(heads)
    rng.shuffle(passages)
    # distinct texts only: a heading or sentence found in two files is no known answer
    for name, items, n in (("headings", heads, 300), ("passages", passages, 400)):
        seen, picked = {}, []
        for text, doc in items:
            seen.setdefault(str(text), set()).add(doc)
        for text, doc in items:
            if len(seen[str(text)]) > 1 or len(picked) >= n:
                continue
            if name == "passages":
                k = rng.randint(5, 8)
                start = rng.randint(0, len(text) - k)
                text = " ".join(text[start:start + k]).lower()
            picked.append((text, doc))
        with open(os.path.join(out, name + ".jsonl"), "w") as q, \
                open(os.path.join(out, name + ".tsv"), "w") as r:
            r.write("query-id\tcorpus-id\tscore\n")
            for i, (text, doc) in enumerate(picked):
                qid = "%s-%d" % (name[0], i)
                q.write(json.dumps({"_id": qid, "text": text}) + "\n")
                r.write("%s\t%s\t1\n" % (qid, doc))
    print("%d documents; %d heading and %d passage queries" % (len(files), min(300, len(heads)),
                                                              min(400, len(passages))))


if __name__ == "__main__":
    main()
