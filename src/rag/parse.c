#include "rag/parse.h"

#include <cmark.h>
#include <errno.h>
#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"
#include "util/utf8.h"

#define SECTION_MAX 512 /* heading paths are cut to this many bytes */

/* ---- Markdown (cmark) ---------------------------------------------------- */

struct md {
    doc_blocks_t *out;
    buf_t text;          /* the block being collected */
    char titles[6][128]; /* the heading path */
    char section[SECTION_MAX];
    int rc;
};

static void md_section(struct md *m)
{
    size_t n = 0;
    m->section[0] = '\0';
    for (int i = 0; i < 6; i++) {
        if (!m->titles[i][0]) continue;
        int k =
            snprintf(m->section + n, sizeof m->section - n, "%s%s", n ? " > " : "", m->titles[i]);
        if (k < 0 || (size_t)k >= sizeof m->section - n) break;
        n += (size_t)k;
    }
}

static void md_flush(struct md *m)
{
    if (buf_error(&m->text)) m->rc = -ENOMEM;
    if (m->rc == 0 && m->text.len)
        m->rc = doc_blocks_add(m->out, m->section, m->text.data, m->text.len);
    buf_reset(&m->text);
}

static int parse_markdown(const char *data, size_t n, doc_blocks_t *out)
{
    cmark_node *doc = cmark_parse_document(data, n, CMARK_OPT_DEFAULT);
    if (!doc) return -ENOMEM;
    struct md m = {.out = out};
    cmark_iter *it = cmark_iter_new(doc);
    cmark_event_type ev;
    int heading = 0; /* level while inside a heading */
    buf_t htext = BUF_INIT;
    while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE && m.rc == 0) {
        cmark_node *node = cmark_iter_get_node(it);
        cmark_node_type t = cmark_node_get_type(node);
        buf_t *dst = heading ? &htext : &m.text;
        if (ev == CMARK_EVENT_ENTER) {
            switch (t) {
            case CMARK_NODE_HEADING:
                md_flush(&m);
                heading = cmark_node_get_heading_level(node);
                buf_reset(&htext);
                break;
            case CMARK_NODE_TEXT:
            case CMARK_NODE_CODE:
                buf_puts(dst, cmark_node_get_literal(node));
                break;
            case CMARK_NODE_SOFTBREAK:
                buf_putc(dst, ' ');
                break;
            case CMARK_NODE_LINEBREAK:
                buf_putc(dst, '\n');
                break;
            case CMARK_NODE_CODE_BLOCK:
                md_flush(&m);
                buf_puts(&m.text, cmark_node_get_literal(node));
                md_flush(&m);
                break;
            default:
                break;
            }
        } else if (ev == CMARK_EVENT_EXIT) {
            if (t == CMARK_NODE_HEADING) {
                int lvl = heading >= 1 && heading <= 6 ? heading : 6;
                /* the first heading names the document */
                doc_blocks_title(m.out, htext.data, htext.len);
                snprintf(m.titles[lvl - 1], sizeof m.titles[0], "%.*s", (int)htext.len,
                         htext.data ? htext.data : "");
                for (int i = lvl; i < 6; i++) m.titles[i][0] = '\0';
                md_section(&m);
                heading = 0;
            } else if (t == CMARK_NODE_PARAGRAPH || t == CMARK_NODE_ITEM ||
                       t == CMARK_NODE_BLOCK_QUOTE) {
                /* paragraphs of one section join with a blank line */
                if (m.text.len) buf_append(&m.text, "\n\n", 2);
            }
        }
    }
    md_flush(&m);
    cmark_iter_free(it);
    cmark_node_free(doc);
    buf_free(&htext);
    buf_free(&m.text);
    return m.rc;
}

/* ---- HTML (libxml2) ------------------------------------------------------ */

struct html {
    doc_blocks_t *out;
    buf_t text;
    char section[SECTION_MAX];
    int in_content;       /* inside article or main: a header there is the article's */
    bool keep_link_lists; /* the page is nothing else: keep them (see html_link_list) */
    bool dropped;         /* a link list was left out */
    int rc;
};

static bool name_in(const xmlChar *name, const char *const *list)
{
    for (; *list; list++)
        if (strcasecmp((const char *)name, *list) == 0) return true;
    return false;
}

static const char *const html_skip[] = {"script", "style",  "noscript", "template", "head",
                                        "iframe", "object", "svg",      "canvas",   "select",
                                        "nav",    "aside",  "footer",   NULL};
/* ARIA roles of page furniture. */
static const char *const html_skip_roles[] = {"navigation",    "banner", "contentinfo",
                                              "complementary", "search", NULL};
/* Class words of boxes whose headings are not the page's sections. */
static const char *const html_box_words[] = {"admonition", "callout", "note",  "tip",
                                             "warning",    "caution", "alert", "important",
                                             "hint",       "danger",  "info",  NULL};
static const char *const html_blocks[] = {
    "p",      "div",     "li",      "ul",       "ol",         "tr",         "td", "th",
    "table",  "section", "article", "pre",      "blockquote", "br",         "hr", "header",
    "footer", "nav",     "main",    "aside",    "figure",     "figcaption", "dd", "dt",
    "dl",     "address", "form",    "fieldset", "details",    "summary",    NULL};

static void html_flush(struct html *h)
{
    if (buf_error(&h->text)) h->rc = -ENOMEM;
    if (h->rc == 0 && h->text.len)
        h->rc = doc_blocks_add(h->out, h->section, h->text.data, h->text.len);
    buf_reset(&h->text);
}

/* Appends text with runs of whitespace collapsed to one space. */
static void html_text(buf_t *b, const char *s)
{
    bool space = b->len == 0 || b->data[b->len - 1] == ' ' || b->data[b->len - 1] == '\n';
    for (; *s; s++) {
        char c = *s;
        if (c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f') {
            if (!space) buf_putc(b, ' ');
            space = true;
        } else {
            buf_putc(b, c);
            space = false;
        }
    }
}

static void html_heading_text(xmlNode *n, buf_t *b)
{
    for (xmlNode *c = n->children; c; c = c->next) {
        if (c->type == XML_TEXT_NODE && c->content)
            html_text(b, (const char *)c->content);
        else if (c->type == XML_ELEMENT_NODE && !name_in(c->name, html_skip))
            html_heading_text(c, b);
    }
}

/* True when attribute attr of n holds one of words as a whole word
 * (class="admonition note"), or, with prefix, starts one ("callout-tip"). */
static bool attr_has_word(xmlNode *n, const char *attr, const char *const *words)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *)attr);
    bool found = false;
    for (char *save = NULL, *w = v ? strtok_r((char *)v, " \t\n", &save) : NULL; w && !found;
         w = strtok_r(NULL, " \t\n", &save))
        for (const char *const *k = words; *k && !found; k++) {
            size_t len = strlen(*k);
            found =
                strncasecmp(w, *k, len) == 0 && (w[len] == '\0' || w[len] == '-' || w[len] == '_');
        }
    xmlFree(v);
    return found;
}

/* A list of links: a table of contents, an index, a link farm. Such a list
 * names every section of a manual, so its chunks hold the words of every
 * heading and won the heading queries of the chapters they point at (13 of
 * the 29 the Debian Reference's Japanese headings missed). A ul, ol or dl
 * with at least LINK_LIST_MIN links whose text is at least
 * LINK_LIST_SHARE link text is left out, like navigation; a page that is
 * nothing but such lists keeps them (parse_html). */
#define LINK_LIST_MIN   8
#define LINK_LIST_SHARE 0.8

struct link_stats {
    size_t text, linked, links; /* bytes of text, of them inside <a>; <a> elements */
};

static void link_stats(xmlNode *n, bool in_a, struct link_stats *s)
{
    for (; n; n = n->next) {
        if (n->type == XML_TEXT_NODE && n->content) {
            size_t len = 0;
            for (const xmlChar *c = n->content; *c; c++) len += *c > ' ';
            s->text += len;
            if (in_a) s->linked += len;
        } else if (n->type == XML_ELEMENT_NODE && !name_in(n->name, html_skip)) {
            bool a = strcasecmp((const char *)n->name, "a") == 0;
            s->links += a;
            link_stats(n->children, in_a || a, s);
        }
    }
}

static bool html_link_list(xmlNode *n)
{
    static const char *const lists[] = {"ul", "ol", "dl", NULL};
    if (!name_in(n->name, lists)) return false;
    struct link_stats s = {0};
    link_stats(n->children, false, &s);
    return s.links >= LINK_LIST_MIN && (double)s.linked >= LINK_LIST_SHARE * (double)s.text;
}

static bool html_furniture(struct html *h, xmlNode *n)
{
    if (!h->keep_link_lists && html_link_list(n)) return h->dropped = true;
    if (name_in(n->name, html_skip) || attr_has_word(n, "role", html_skip_roles)) return true;
    return !h->in_content && strcasecmp((const char *)n->name, "header") == 0;
}

/* Depth is bounded by libxml2 (no XML_PARSE_HUGE): recursion is safe. */
static void html_walk(struct html *h, xmlNode *n)
{
    for (; n && h->rc == 0; n = n->next) {
        if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
            if (n->content) html_text(&h->text, (const char *)n->content);
            continue;
        }
        if (n->type != XML_ELEMENT_NODE || html_furniture(h, n)) continue;
        const char *name = (const char *)n->name;
        if ((name[0] == 'h' || name[0] == 'H') && name[1] >= '1' && name[1] <= '6' && !name[2]) {
            html_flush(h);
            buf_t t = BUF_INIT;
            html_heading_text(n, &t);
            snprintf(h->section, sizeof h->section, "%.*s", (int)t.len, t.data ? t.data : "");
            if (!h->out->title[0] && name[1] == '1') /* no <title>: the first h1 */
                doc_blocks_title(h->out, t.data, t.len);
            buf_free(&t);
            continue;
        }
        bool block = name_in(n->name, html_blocks);
        bool content = !strcasecmp(name, "article") || !strcasecmp(name, "main");
        bool box = attr_has_word(n, "class", html_box_words);
        char saved[SECTION_MAX];
        if (box) { /* its own heading ("Note") is not the section of what follows */
            html_flush(h);
            memcpy(saved, h->section, sizeof saved);
        }
        if (block && h->text.len) buf_putc(&h->text, '\n');
        h->in_content += content;
        html_walk(h, n->children);
        h->in_content -= content;
        if (block && h->text.len && h->text.data[h->text.len - 1] != '\n') buf_putc(&h->text, '\n');
        if (box) {
            html_flush(h);
            memcpy(h->section, saved, sizeof saved);
        }
    }
}

/* libxml2 sets up its globals in xmlInitParser, which is not safe to run
 * on two threads at once; the first parse would otherwise run it, and a
 * batch's workers and request threads parse at the same time. */
static void html_init(void)
{
    xmlInitParser();
}

static int parse_html(const char *data, size_t n, doc_blocks_t *out, char *err, size_t errlen)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    if (n > (size_t)INT32_MAX) return -E2BIG;
    pthread_once(&once, html_init);
    htmlDocPtr doc = htmlReadMemory(data, (int)n, NULL, "UTF-8",
                                    HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                        HTML_PARSE_NONET);
    if (!doc) {
        snprintf(err, errlen, "not an HTML document libxml2 can read");
        return -EINVAL;
    }
    struct html h = {.out = out};
    xmlNode *root = xmlDocGetRootElement(doc);
    xmlNode *body = NULL;
    for (xmlNode *c = root ? root->children : NULL; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) continue;
        if (strcasecmp((const char *)c->name, "body") == 0) body = c;
        if (strcasecmp((const char *)c->name, "head") != 0) continue;
        for (xmlNode *t = c->children; t; t = t->next) /* <title> names the document */
            if (t->type == XML_ELEMENT_NODE && !strcasecmp((const char *)t->name, "title") &&
                !out->title[0]) {
                buf_t b = BUF_INIT;
                html_heading_text(t, &b);
                doc_blocks_title(out, b.data, b.len);
                buf_free(&b);
            }
    }
    xmlNode *from = body ? body->children : root ? root->children : NULL;
    html_walk(&h, from);
    html_flush(&h);
    if (h.rc == 0 && h.dropped && doc_blocks_blank(out)) { /* nothing but lists of links */
        doc_blocks_clear(out);
        buf_free(&h.text);
        h = (struct html){.out = out, .keep_link_lists = true};
        html_walk(&h, from);
        html_flush(&h);
    }
    buf_free(&h.text);
    xmlFreeDoc(doc);
    return h.rc;
}

/* ---- dispatch ------------------------------------------------------------ */

int parse_document(doc_type_t type, const char *data, size_t n, const parse_opts_t *o,
                   doc_blocks_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int rc;
    if (type != DOC_PDF && !utf8_valid(data, n)) {
        snprintf(err, errlen, "the document is not valid UTF-8");
        return -EILSEQ;
    }
    switch (type) {
    case DOC_TEXT:
        rc = doc_blocks_add(out, NULL, data, n);
        break;
    case DOC_MARKDOWN:
        rc = parse_markdown(data, n, out);
        break;
    case DOC_HTML:
        rc = parse_html(data, n, out, err, errlen);
        break;
    case DOC_PDF:
        rc = parse_pdf_child(data, n, o, out, err, errlen);
        break;
    default:
        snprintf(err, errlen, "unsupported document type");
        return -EINVAL;
    }
    if (rc == -ENOMEM) snprintf(err, errlen, "out of memory while parsing");
    if (rc) doc_blocks_free(out);
    return rc;
}
