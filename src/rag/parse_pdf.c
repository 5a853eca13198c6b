/* PDF text through poppler, in a child process.
 *
 * The server never runs poppler itself: it spawns `ragd parse-pdf` (its own
 * binary, exec'd fresh, so no state is shared with the threads of the
 * server), feeds it the PDF on stdin and reads "<page> <bytes>\n<text>"
 * frames on stdout, with poll() and a wall-clock deadline. The child caps its
 * own address space and CPU time with setrlimit. A crash, a limit or the
 * deadline in the child is a 422 for that document, nothing more. */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <poll.h>
#include <poppler.h>
#include <signal.h>
#include <stdbool.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rag/parse.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/utf8.h"

#define PDF_EXIT_INVALID 3
#define PDF_OUTPUT_MAX   ((size_t)256 << 20) /* text out of one PDF */
#define PDF_INPUT_MAX    ((size_t)1 << 30)

extern char **environ;

int parse_pdf_child(const char *data, size_t n, const parse_opts_t *o, doc_blocks_t *out, char *err,
                    size_t errlen);

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

static int parse_frames(const char *p, size_t n, doc_blocks_t *out, char *err, size_t errlen)
{
    const char *end = p + n;
    while (p < end) {
        int page;
        size_t len;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl || sscanf(p, "%d %zu", &page, &len) != 2 || len > (size_t)(end - nl - 1)) {
            snprintf(err, errlen, "the PDF parser's output was cut short");
            return -EINVAL;
        }
        const char *text = nl + 1;
        if (!utf8_valid(text, len)) {
            snprintf(err, errlen, "page %d's text is not valid UTF-8", page);
            return -EINVAL;
        }
        char section[32];
        snprintf(section, sizeof section, "page %d", page);
        int rc = doc_blocks_add(out, section, text, len);
        if (rc) return rc;
        p = text + len;
    }
    return 0;
}

int parse_pdf_child(const char *data, size_t n, const parse_opts_t *o, doc_blocks_t *out, char *err,
                    size_t errlen)
{
    int in[2] = {-1, -1}, outp[2] = {-1, -1}, errp[2] = {-1, -1}, rc = 0;
    pid_t pid = -1;
    buf_t text, emsg;
    buf_init(&text, PDF_OUTPUT_MAX);
    buf_init(&emsg, 1024);
    if (pipe2(in, O_CLOEXEC) || pipe2(outp, O_CLOEXEC) || pipe2(errp, O_CLOEXEC)) {
        rc = -errno;
        snprintf(err, errlen, "cannot start the PDF parser: %s", strerror(errno));
        goto out;
    }
    char pages[32], mem[32], cpu[32];
    double timeout = o && o->timeout_s > 0 ? o->timeout_s : 30;
    snprintf(pages, sizeof pages, "%zu", o && o->max_pages ? o->max_pages : 5000);
    snprintf(mem, sizeof mem, "%zu", o && o->max_memory ? o->max_memory : ((size_t)2 << 30));
    snprintf(cpu, sizeof cpu, "%.0f", timeout + 1);
    const char *helper = o && o->helper ? o->helper : "/proc/self/exe";
    char *argv[] = {(char *)"ragd",
                    (char *)"parse-pdf",
                    (char *)"--max-pages",
                    pages,
                    (char *)"--max-memory",
                    mem,
                    (char *)"--max-cpu",
                    cpu,
                    NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
    posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
    int sp = posix_spawn(&pid, helper, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]), close(outp[1]), close(errp[1]);
    in[0] = outp[1] = errp[1] = -1;
    if (sp != 0) {
        pid = -1;
        rc = -sp;
        snprintf(err, errlen, "cannot start the PDF parser %s: %s", helper, strerror(sp));
        goto out;
    }
    fcntl(in[1], F_SETFL, O_NONBLOCK);
    size_t written = 0;
    double deadline = clock_now() + timeout;
    bool timed_out = false, out_open = true, err_open = true;
    if (n == 0) close(in[1]), in[1] = -1;
    while (out_open || err_open) {
        struct pollfd pf[3] = {{outp[0], POLLIN, 0}, {errp[0], POLLIN, 0}, {in[1], POLLOUT, 0}};
        int left = (int)((deadline - clock_now()) * 1000);
        if (left <= 0) {
            timed_out = true;
            break;
        }
        if (poll(pf, in[1] >= 0 ? 3 : 2, left) < 0 && errno != EINTR) break;
        if (in[1] >= 0 && (pf[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t w = write(in[1], data + written, n - written);
            if (w > 0) written += (size_t)w;
            if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == n)
                close(in[1]), in[1] = -1;
        }
        char tmp[65536];
        if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = read(outp[0], tmp, sizeof tmp);
            if (r > 0)
                buf_append(&text, tmp, (size_t)r);
            else if (r == 0 || errno != EINTR)
                out_open = false;
            if (buf_error(&text)) break; /* too much text: stop it */
        }
        if (pf[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = read(errp[0], tmp, sizeof tmp);
            if (r > 0)
                buf_append(&emsg, tmp, (size_t)r);
            else if (r == 0 || errno != EINTR)
                err_open = false;
        }
        if (!out_open) pf[0].fd = -1;
    }
    int status = 0;
    if (out_open || err_open) kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    pid = -1;
    if (timed_out) {
        rc = -ETIMEDOUT;
        snprintf(err, errlen, "the PDF took longer than %.0f s to parse", timeout);
    } else if (buf_error(&text)) {
        rc = -EINVAL;
        snprintf(err, errlen, "the PDF holds more than %zu MiB of text", PDF_OUTPUT_MAX >> 20);
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        rc = parse_frames(text.data ? text.data : "", text.len, out, err, errlen);
    } else {
        rc = -EINVAL;
        if (WIFEXITED(status) && WEXITSTATUS(status) == PDF_EXIT_INVALID && emsg.len)
            snprintf(err, errlen, "%.*s", (int)emsg.len, emsg.data);
        else if (WIFSIGNALED(status))
            snprintf(err, errlen,
                     "the PDF parser stopped on signal %d (a malformed file or a limit)",
                     WTERMSIG(status));
        else
            snprintf(err, errlen, "the PDF parser failed (exit %d)", WEXITSTATUS(status));
    }
out:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0) close(in[i]);
        if (outp[i] >= 0) close(outp[i]);
        if (errp[i] >= 0) close(errp[i]);
    }
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    buf_free(&text);
    buf_free(&emsg);
    return rc;
}
