/* bench_answer: what ragd adds to an LLM server's stream, measured against
 * the same server called directly (bench/answer_bench starts both).
 *
 *   bench_answer ttft FAKE_URL RAGD_URL N
 *     N streamed requests each way, alternating: time to the first text
 *     piece directly (chat completions) and through ragd (/v1/answer,
 *     whose done event gives its retrieval time). Medians.
 *   bench_answer relay FAKE_URL RAGD_URL N
 *     N long streams each way: text pieces per second received.
 *   bench_answer concurrent RAGD_URL N PID
 *     N streams through ragd at once: all must finish; ragd's peak
 *     resident memory and CPU seconds while they run (/proc/PID).
 * Prints "RESULT name value" lines for the driver beside the readable ones. */
#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/clock.h"
#include "util/sse.h"

typedef struct stream {
    CURL *c;
    sse_t sse;
    bool ragd; /* ragd's /v1/answer events, else chat completion chunks */
    double t0, first, end;
    long pieces;
    double retrieval_ms;
    bool done;
    char body[512];
} stream_t;

static int on_event(void *ctx, const char *event, const char *data, size_t len)
{
    stream_t *s = ctx;
    double now = clock_now();
    if (s->ragd) {
        if (!strcmp(event, "delta")) {
            if (s->first < 0) s->first = now;
            s->pieces++;
        } else if (!strcmp(event, "done")) {
            json_t *j = json_loadb(data, len, 0, NULL);
            s->retrieval_ms =
                json_number_value(json_object_get(json_object_get(j, "timings_ms"), "retrieval"));
            json_decref(j);
            s->done = true;
        }
        return 0;
    }
    if (len == 6 && !memcmp(data, "[DONE]", 6)) {
        s->done = true;
        return 0;
    }
    json_t *j = json_loadb(data, len, 0, NULL);
    json_t *content = json_object_get(
        json_object_get(json_array_get(json_object_get(j, "choices"), 0), "delta"), "content");
    if (json_is_string(content) && json_string_length(content)) {
        if (s->first < 0) s->first = now;
        s->pieces++;
    }
    json_decref(j);
    return 0;
}

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
    stream_t *s = ctx;
    return sse_feed(&s->sse, p, size * n) ? 0 : size * n;
}

static void stream_setup(stream_t *s, const char *base, bool ragd, struct curl_slist *h)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", base, ragd ? "/v1/answer" : "/v1/chat/completions");
    if (!s->c) s->c = curl_easy_init();
    s->ragd = ragd;
    s->first = -1;
    s->pieces = 0;
    s->done = false;
    s->retrieval_ms = 0;
    sse_init(&s->sse, 1 << 20, on_event, s);
    snprintf(s->body, sizeof s->body,
             ragd ? "{\"query\":\"how is the P95 computed?\",\"stream\":true}"
                  : "{\"model\":\"fake-model\",\"stream\":true,\"messages\":[{\"role\":\"user\","
                    "\"content\":\"how is the P95 computed?\"}]}");
    curl_easy_setopt(s->c, CURLOPT_URL, url);
    curl_easy_setopt(s->c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(s->c, CURLOPT_POSTFIELDS, s->body);
    curl_easy_setopt(s->c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(s->c, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(s->c, CURLOPT_NOSIGNAL, 1L);
}

static void run_one(stream_t *s, const char *base, bool ragd, struct curl_slist *h)
{
    stream_setup(s, base, ragd, h);
    s->t0 = clock_now();
    curl_easy_perform(s->c);
    s->end = clock_now();
    sse_free(&s->sse);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* utime + stime of pid in seconds, and its peak resident memory (VmHWM) in bytes. */
static double cpu_of(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f || !fgets(buf, sizeof buf, f)) {
        if (f) fclose(f);
        return 0;
    }
    fclose(f);
    char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    /* after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
     */
    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st);
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double rss_of(int pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    double kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, field, strlen(field))) kb = strtod(line + strlen(field), NULL);
    if (f) fclose(f);
    return kb * 1024;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: see bench/bench_answer.c\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    const char *mode = argv[1];
    if (!strcmp(mode, "ttft") || !strcmp(mode, "relay")) {
        int n = argc > 4 ? atoi(argv[4]) : 50;
        double *direct = calloc((size_t)n, sizeof *direct), *via = calloc((size_t)n, sizeof *via),
               *retr = calloc((size_t)n, sizeof *retr);
        stream_t d = {0}, r = {0};
        run_one(&d, argv[2], false, h); /* warm both connections */
        run_one(&r, argv[3], true, h);
        for (int i = 0; i < n; i++) {
            run_one(&d, argv[2], false, h);
            run_one(&r, argv[3], true, h);
            if (!strcmp(mode, "ttft")) {
                direct[i] = (d.first - d.t0) * 1000;
                via[i] = (r.first - r.t0) * 1000;
                retr[i] = r.retrieval_ms;
            } else {
                direct[i] = (double)d.pieces / (d.end - d.t0);
                via[i] = (double)r.pieces / (r.end - r.t0);
            }
        }
        if (!strcmp(mode, "ttft")) {
            double md = median(direct, n), mv = median(via, n), mr = median(retr, n);
            printf("  time to first token, median of %d: direct %.3f ms, through ragd %.3f ms "
                   "(retrieval %.3f ms): ragd adds %.3f ms beyond retrieval\n",
                   n, md, mv, mr, mv - md - mr);
            printf("RESULT ttft_direct_ms %.3f\nRESULT ttft_ragd_ms %.3f\nRESULT retrieval_ms "
                   "%.3f\nRESULT added_ms %.3f\n",
                   md, mv, mr, mv - md - mr);
        } else {
            double md = median(direct, n), mv = median(via, n);
            printf("  relayed pieces per second, median of %d streams of %ld: direct %.0f/s, "
                   "through ragd %.0f/s (%.0f %%)\n",
                   n, d.pieces, md, mv, 100 * mv / md);
            printf("RESULT relay_direct_per_s %.0f\nRESULT relay_ragd_per_s %.0f\n", md, mv);
        }
        free(direct);
        free(via);
        free(retr);
        curl_easy_cleanup(d.c);
        curl_easy_cleanup(r.c);
    } else if (!strcmp(mode, "concurrent")) {
        int n = atoi(argv[3]), pid = argc > 4 ? atoi(argv[4]) : 0;
        stream_t *s = calloc((size_t)n, sizeof *s);
        CURLM *m = curl_multi_init();
        double rss0 = rss_of(pid, "VmRSS:"), cpu0 = cpu_of(pid), peak = rss0, t0 = clock_now();
        for (int i = 0; i < n; i++) {
            stream_setup(&s[i], argv[2], true, h);
            s[i].t0 = t0;
            curl_multi_add_handle(m, s[i].c);
        }
        int running = n;
        double next = 0;
        while (running) {
            curl_multi_perform(m, &running);
            curl_multi_poll(m, NULL, 0, 20, NULL);
            if (clock_now() >= next) {
                double r = rss_of(pid, "VmRSS:");
                if (r > peak) peak = r;
                next = clock_now() + 0.05;
            }
        }
        double dt = clock_now() - t0, cpu = cpu_of(pid) - cpu0;
        int done = 0;
        long pieces = 0;
        for (int i = 0; i < n; i++) {
            done += s[i].done;
            pieces += s[i].pieces;
            curl_multi_remove_handle(m, s[i].c);
            curl_easy_cleanup(s[i].c);
            sse_free(&s[i].sse);
        }
        printf("  %d concurrent streams through ragd: %d finished, %ld pieces in %.2f s; ragd "
               "resident %.1f MiB before, %.1f MiB at peak (%.1f KiB per stream); CPU %.3f s "
               "(%.1f %% of a core)\n",
               n, done, pieces, dt, rss0 / 1048576, peak / 1048576, (peak - rss0) / 1024 / n, cpu,
               100 * cpu / dt);
        printf("RESULT streams_finished %d\nRESULT peak_rss_mib %.1f\nRESULT cpu_s %.3f\n", done,
               peak / 1048576, cpu);
        curl_multi_cleanup(m);
        free(s);
    }
    curl_slist_free_all(h);
    curl_global_cleanup();
    return 0;
}
