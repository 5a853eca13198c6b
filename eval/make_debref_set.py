#!/usr/bin/env python3
"""Builds a third evaluation set, English and Japanese, from HTML this
project did not write: the Debian Reference as Debian's debian-reference-en
and debian-reference-ja packages install it (/usr/share/debian-reference/).

Each language is a corpus of its own: the manual's HTML pages as they are
(12 chapters of 45 KB to 410 KB, the preface, the appendix, and index.html,
the table of contents: a hub page that names every section). Queries, drawn
with a fixed seed, each answered by the chapter that holds it:

  headings: a section's title (its number left out); the table of contents
            holds every one of them too, and is not an answer;
  passages: English, five to eight words of one prose sentence, in order,
            stop words left out; Japanese, 8 to 16 characters of one prose
            sentence, as someone would copy them.

Each page is also printed to PDF by headless Chromium, as a browser saves
it, and OUTDIR/{en,ja}-pdf/ holds the same queries over those PDFs: what
reading a PDF (poppler) costs against reading the page. The PDFs stay
between runs (printing them takes a minute or two).

usage: make_debref_set.py OUTDIR [DIR]
Writes OUTDIR/{en,ja}/corpus.jsonl, OUTDIR/{en,ja}/{headings,passages}.{jsonl,tsv},
and OUTDIR/{en,ja}-pdf/ (corpus.jsonl naming the PDFs by "path", beside
them, and the same queries).
"""
import html
import json
import os
import random
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser

STOP = set("a an and are as at be by can do does for from has have how i if in into is it its "
           "of on or that the their then there these this to was what when where which who "
           "why will with you your not no all any may must should".split())


class Prose(HTMLParser):
    """The text of <p> elements outside tables and code blocks."""

    def __init__(self):
        super().__init__()
        self.depth_p = 0
        self.skip = 0
        self.paras, self.cur = [], []

    def handle_starttag(self, tag, attrs):
        if tag in ("pre", "table", "script", "style"):
            self.skip += 1
        elif tag == "p":
            self.depth_p += 1

    def handle_endtag(self, tag):
        if tag in ("pre", "table", "script", "style"):
            self.skip = max(0, self.skip - 1)
        elif tag == "p" and self.depth_p:
            self.depth_p -= 1
            if not self.depth_p:
                self.paras.append(" ".join("".join(self.cur).split()))
                self.cur = []

    def handle_data(self, data):
        if self.depth_p and not self.skip:
            self.cur.append(data)


def headings(page):
    out = []
    for h in re.findall(r'<h[234] class="title"[^>]*>(.*?)</h[234]>', page, flags=re.S):
        t = html.unescape(re.sub(r"<[^>]+>", "", h)).replace("\xa0", " ").strip()
        t = re.sub(r"^[0-9A-Z]+(\.[0-9]+)*\.\s*", "", t).strip()
        if len(t) >= 6:
            out.append(t)
    return out


def passages_en(paras):
    out = []
    for p in paras:
        for s in re.split(r"(?<=[.!?])\s+", p):
            words = re.findall(r"[A-Za-z][A-Za-z'-]+", s)
            content = [w for w in words if w.lower() not in STOP]
            if len(content) >= 8:
                out.append(content)
    return out


def passages_ja(paras):
    out = []
    for p in paras:
        for s in re.split(r"(?<=。)", p):
            s = s.strip()
            cjk = len(re.findall(r"[\u3040-\u30ff\u4e00-\u9fff]", s))
            if cjk >= 20:
                out.append(s)
    return out


def build(src, lang, out, rng):
    files = sorted(f for f in os.listdir(src) if f.endswith("." + lang + ".html"))
    if not files:
        sys.exit("no %s pages in %s (is debian-reference-%s installed?)" % (lang, src, lang))
    os.makedirs(out, exist_ok=True)
    heads, passages = [], []
    with open(os.path.join(out, "corpus.jsonl"), "w") as c:
        for f in files:
            page = open(os.path.join(src, f), encoding="utf-8").read()
            doc = f[:-len(".html")]
            c.write(json.dumps({"_id": doc, "text": page, "content_type": "text/html"},
                               ensure_ascii=False) + "\n")
            if doc.startswith("index."):
                continue  # the table of contents answers nothing by itself
            heads += [(h, doc) for h in headings(page)]
            p = Prose()
            p.feed(page)
            passages += [(s, doc) for s in (passages_en if lang == "en" else passages_ja)(p.paras)]
    rng.shuffle(heads)
    rng.shuffle(passages)
    counts = {}
    # distinct texts only: a heading or sentence found in two pages is no known answer
    for name, items, n in (("headings", heads, 300), ("passages", passages, 400)):
        seen, picked = {}, []
        for text, doc in items:
            seen.setdefault(str(text), set()).add(doc)
        for text, doc in items:
            if len(seen[str(text)]) > 1 or len(picked) >= n:
                continue
            if name == "passages" and lang == "en":
                k = rng.randint(5, 8)
                start = rng.randint(0, len(text) - k)
                text = " ".join(text[start:start + k]).lower()
            elif name == "passages":
                k = rng.randint(8, 16)
                start = rng.randint(0, max(0, len(text) - k))
                text = text[start:start + k]
            picked.append((text, doc))
        counts[name] = len(picked)
        with open(os.path.join(out, name + ".jsonl"), "w") as q, \
                open(os.path.join(out, name + ".tsv"), "w") as r:
            r.write("query-id\tcorpus-id\tscore\n")
            for i, (text, doc) in enumerate(picked):
                qid = "%s-%s-%d" % (lang, name[0], i)
                q.write(json.dumps({"_id": qid, "text": text}, ensure_ascii=False) + "\n")
                r.write("%s\t%s\t1\n" % (qid, doc))
    print("%s: %d pages; %d heading and %d passage queries" % (lang, len(files), counts["headings"],
                                                             counts["passages"]))


def print_pdfs(src, lang, html_dir, out):
    """The pages of html_dir's corpus printed by headless Chromium, and the
    same queries; exits with a message when Chromium is missing or fails."""
    chromium = "/usr/bin/chromium"
    if not os.access(chromium, os.X_OK):
        sys.exit("make_debref_set.py: %s is needed to print the PDFs" % chromium)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(html_dir, "corpus.jsonl")) as c, \
            open(os.path.join(out, "corpus.jsonl"), "w") as pc:
        for line in c:
            doc = json.loads(line)["_id"]
            pdf = os.path.join(out, doc + ".pdf")
            if not os.path.exists(pdf):
                part = pdf + ".part"  # a run cut short leaves no PDF that looks whole
                r = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                                    "--no-pdf-header-footer", "--print-to-pdf=" + part,
                                    "file://" + os.path.join(src, doc + ".html")],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   timeout=120)
                if r.returncode != 0 or not os.path.exists(part):
                    sys.exit("make_debref_set.py: chromium could not print %s (exit %d)"
                             % (doc, r.returncode))
                os.replace(part, pdf)
            pc.write(json.dumps({"_id": doc, "path": doc + ".pdf",
                                 "content_type": "application/pdf"}) + "\n")
    for f in os.listdir(html_dir):
        if f != "corpus.jsonl":
            shutil.copy(os.path.join(html_dir, f), out)
    print("%s: the %s pages printed to PDF" % (lang, lang))


def main():
    out = sys.argv[1]
    src = sys.argv[2] if len(sys.argv) > 2 else "/usr/share/debian-reference"
    for lang in ("en", "ja"):
        build(src, lang, os.path.join(out, lang), random.Random(17))
        print_pdfs(src, lang, os.path.join(out, lang), os.path.join(out, lang + "-pdf"))


if __name__ == "__main__":
    main()
