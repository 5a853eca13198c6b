/* PDF text through poppler, in a child process (see parse_pdf.h). The
 * parent side hands the PDF to util/proc and reads "<page> <bytes>\n<text>"
 * frames back (the metadata title first, "title <bytes>\n<text>", when
 * the PDF has one); the child side (`ragd parse-pdf`) caps its own address space
 * and CPU time with setrlimit, then runs poppler. */
#include <errno.h>
#include <glib.h>
#include <poppler.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>

#include "rag/parse_pdf.h"
#include "rag/parse_toc.h"
#include "util/buf.h"
#include "util/proc.h"
#include "util/utf8.h"

#define PDF_EXIT_INVALID 3
#define PDF_OUTPUT_MAX   ((size_t)256 << 20) /* text out of one PDF */
#define PDF_INPUT_MAX    ((size_t)1 << 30)

/* ---- the child: `ragd parse-pdf` ------------------------------------------ */

int parse_pdf_main(int argc, char **argv)
{
    unsigned long max_pages = 5000, max_mem = 0, cpu = 0;
    for (int i = 0; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--max-pages"))
            max_pages = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--max-memory"))
            max_mem = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--max-cpu"))
            cpu = strtoul(argv[i + 1], NULL, 10);
    }
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    /* Not under Address- or ThreadSanitizer, whose shadow memory alone is terabytes of
     * address space: the test build keeps the CPU and time limits. */
    max_mem = 0;
#endif
    if (max_mem) setrlimit(RLIMIT_AS, &(struct rlimit){max_mem, max_mem});
    if (cpu) setrlimit(RLIMIT_CPU, &(struct rlimit){cpu, cpu + 1});
    buf_t in;
    buf_init(&in, PDF_INPUT_MAX);
    char tmp[65536];
    ssize_t r;
    while ((r = read(0, tmp, sizeof tmp)) > 0 || (r < 0 && errno == EINTR))
        if (r > 0) buf_append(&in, tmp, (size_t)r);
    if (buf_error(&in) || in.len == 0) {
        fprintf(stderr, in.len == 0 ? "empty input" : "input too large");
        return PDF_EXIT_INVALID;
    }
    GBytes *bytes = g_bytes_new_static(in.data, in.len);
    GError *gerr = NULL;
    PopplerDocument *doc = poppler_document_new_from_bytes(bytes, NULL, &gerr);
    if (!doc) {
        fprintf(stderr, "not a PDF poppler can read: %s", gerr ? gerr->message : "unknown error");
        return PDF_EXIT_INVALID;
    }
    int pages = poppler_document_get_n_pages(doc);
    if (pages < 0 || (unsigned long)pages > max_pages) {
        fprintf(stderr, "the PDF has %d pages, over the limit of %lu", pages, max_pages);
        return PDF_EXIT_INVALID;
    }
    /* the metadata title first, as a frame of its own: "title <bytes>\n<text>" */
    char *title = poppler_document_get_title(doc);
    size_t tlen = title ? strlen(title) : 0;
    if (tlen) {
        printf("title %zu\n", tlen);
        fwrite(title, 1, tlen, stdout);
    }
    g_free(title);
    for (int i = 0; i < pages; i++) {
        PopplerPage *page = poppler_document_get_page(doc, i);
        char *text = page ? poppler_page_get_text(page) : NULL;
        size_t len = text ? strlen(text) : 0;
        printf("%d %zu\n", i + 1, len);
        if (len) fwrite(text, 1, len, stdout);
        g_free(text);
        if (page) g_object_unref(page);
    }
    fflush(stdout);
    g_object_unref(doc);
    g_bytes_unref(bytes);
    buf_free(&in);
    return ferror(stdout) ? 1 : 0;
}

/* ---- the parent ---------------------------------------------------------- */

/* False for the metadata titles that office tools write in place of one: a
 * file name ("report.docx", "Microsoft Word - report"), "untitled". */
static bool pdf_title_useful(const char *t, size_t n)
{
    static const char *const tools[] = {"Microsoft Word - ", "Microsoft PowerPoint - ",
                                        "Microsoft Excel - "};
    for (size_t i = 0; i < sizeof tools / sizeof *tools; i++)
        if (n >= strlen(tools[i]) && !memcmp(t, tools[i], strlen(tools[i]))) return false;
    static const char *const exts[] = {".doc", ".docx", ".pdf", ".ppt", ".pptx", ".xls",  ".xlsx",
                                       ".odt", ".rtf",  ".tex", ".dvi", ".ps",   ".indd", ".txt"};
    while (n && (t[n - 1] == ' ' || t[n - 1] == '\n')) n--;
    for (size_t i = 0; i < sizeof exts / sizeof *exts; i++) {
        size_t e = strlen(exts[i]);
        if (n > e && !strncasecmp(t + n - e, exts[i], e)) return false;
    }
    while (n && (*t == ' ' || *t == '\n')) t++, n--;
    return !(n == 8 && !strncasecmp(t, "untitled", 8)) && n > 0;
}

/* The frames of p[0..n) into out, each page's table of contents left out
 * with drop_toc (*dropped then says whether one was). */
static int parse_frames(const char *p, size_t n, bool drop_toc, bool *dropped, doc_blocks_t *out,
                        char *err, size_t errlen)
{
    const char *end = p + n;
    while (p < end) {
        int page = 0;
        size_t len;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        bool title = nl && (size_t)(end - p) > 6 && !memcmp(p, "title ", 6);
        if (!nl ||
            (title ? sscanf(p + 6, "%zu", &len) : sscanf(p, "%d %zu", &page, &len)) != 1 + !title ||
            len > (size_t)(end - nl - 1)) {
            snprintf(err, errlen, "the PDF parser's output was cut short");
            return -EINVAL;
        }
        const char *text = nl + 1;
        if (title) { /* the metadata title: kept when valid, never a page */
            if (utf8_valid(text, len) && pdf_title_useful(text, len))
                doc_blocks_title(out, text, len);
            p = text + len;
            continue;
        }
        if (!utf8_valid(text, len)) {
            snprintf(err, errlen, "page %d's text is not valid UTF-8", page);
            return -EINVAL;
        }
        char section[32];
        snprintf(section, sizeof section, "page %d", page);
        buf_t kept = BUF_INIT;
        if (drop_toc && toc_drop(text, len, &kept)) *dropped = true;
        int rc = buf_error(&kept) ? -ENOMEM
                 : drop_toc ? doc_blocks_add(out, section, kept.data ? kept.data : "", kept.len)
                            : doc_blocks_add(out, section, text, len);
        buf_free(&kept);
        if (rc) return rc;
        p = text + len;
    }
    return 0;
}

int parse_pdf_child(const char *data, size_t n, const parse_pdf_opts_t *o, doc_blocks_t *out,
                    char *err, size_t errlen)
{
    char pages[32], mem[32], cpu[32];
    double timeout = o && o->timeout_s > 0 ? o->timeout_s : 30;
    snprintf(pages, sizeof pages, "%zu", o && o->max_pages ? o->max_pages : 5000);
    snprintf(mem, sizeof mem, "%zu", o && o->max_memory ? o->max_memory : ((size_t)2 << 30));
    snprintf(cpu, sizeof cpu, "%.0f", timeout + 1);
    char *argv[] = {"ragd", "parse-pdf", "--max-pages", pages, "--max-memory",
                    mem,    "--max-cpu", cpu,           NULL};
    proc_run_t run = {.path = o && o->helper ? o->helper : "/proc/self/exe",
                      .argv = argv,
                      .input = data,
                      .input_len = n,
                      .timeout_s = timeout,
                      .max_out = PDF_OUTPUT_MAX,
                      .max_err = 1024};
    proc_result_t res;
    int rc = proc_run(&run, &res, err, errlen);
    if (rc) return rc;
    if (res.timed_out) {
        rc = -ETIMEDOUT;
        snprintf(err, errlen, "the PDF took longer than %.0f s to parse", timeout);
    } else if (res.out_too_large) {
        rc = -EINVAL;
        snprintf(err, errlen, "the PDF holds more than %zu MiB of text", PDF_OUTPUT_MAX >> 20);
    } else if (res.exit_code == 0) {
        const char *text = res.out.data ? res.out.data : "";
        bool dropped = false;
        rc = parse_frames(text, res.out.len, true, &dropped, out, err, errlen);
        if (rc == 0 && dropped && doc_blocks_blank(out)) { /* nothing but contents: keep them */
            doc_blocks_clear(out);
            rc = parse_frames(text, res.out.len, false, &dropped, out, err, errlen);
        }
    } else {
        rc = -EINVAL;
        if (res.exit_code == PDF_EXIT_INVALID && res.err.len)
            snprintf(err, errlen, "%.*s", (int)res.err.len, res.err.data);
        else if (res.signal)
            snprintf(err, errlen,
                     "the PDF parser stopped on signal %d (a malformed file or a limit)",
                     res.signal);
        else
            snprintf(err, errlen, "the PDF parser failed (exit %d)", res.exit_code);
    }
    proc_result_free(&res);
    return rc;
}
