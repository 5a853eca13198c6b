/* The process collector on fixture /proc trees and on the live process. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "metrics/process.h"
#include "test.h"

TEST(proc_parse_stat_odd_comm)
{
    size_t n;
    char *s = test_read_file("tests/fixtures/proc/4242/stat", &n);
    ASSERT(s);
    metrics_proc_stat_t st;
    ASSERT_OK(metrics_proc_parse_stat(s, n, &st));
    ASSERT_EQ(st.utime, 250);
    ASSERT_EQ(st.stime, 125);
    ASSERT_EQ(st.num_threads, 7);
    ASSERT_EQ(st.starttime, 4321);
    ASSERT_EQ(st.vsize, 123456789);
    ASSERT_EQ(st.rss, 2048);
    free(s);
    static const char *const bad[] = {
        "",
        "4242 (no closing paren S 1 2",
        "1 (x) S 1 2 3",
        "1 (x) S 1 2 3 4 5 6 7 8 9 10 11 abc 13 14 15 16 17 18 19 20 21 22",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ASSERT_EQ(metrics_proc_parse_stat(bad[i], strlen(bad[i]), &st), -EINVAL);
}

TEST(proc_parse_btime_and_limits)
{
    unsigned long long bt;
    const char *stat = "cpu 1 2 3\nbtime 1700000000\nprocesses 5\n";
    ASSERT_OK(metrics_proc_parse_btime(stat, strlen(stat), &bt));
    ASSERT_EQ(bt, 1700000000ULL);
    ASSERT_EQ(metrics_proc_parse_btime("cpu 1\n", 6, &bt), -EINVAL);
    double m;
    const char *lim = "Limit Soft Hard Units\nMax open files            4096                 8192  "
                      "               files\n";
    ASSERT_OK(metrics_proc_parse_max_fds(lim, strlen(lim), &m));
    ASSERT_DBL_EQ(m, 4096);
    const char *unl = "Max open files            unlimited            unlimited            files\n";
    ASSERT_OK(metrics_proc_parse_max_fds(unl, strlen(unl), &m));
    ASSERT(isinf(m));
    ASSERT_EQ(metrics_proc_parse_max_fds("nothing\n", 8, &m), -EINVAL);
}

TEST(process_collector_fixture)
{
    metrics_registry_t *reg;
    metrics_process_t *p;
    ASSERT_OK(metrics_registry_new(&reg, NULL));
    ASSERT_OK(metrics_process_register(
        reg,
        &(metrics_process_opts_t){
            .proc_root = "tests/fixtures/proc", .pid = "4242", .clk_tck = 100, .page_size = 4096},
        &p));
    char *e = test_expose(reg, METRICS_FMT_TEXT);
    ASSERT_CONTAINS(e,
                    "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 3.75\n");
    ASSERT_DBL_EQ(test_sample(e, "process_resident_memory_bytes"), 2048.0 * 4096);
    ASSERT_DBL_EQ(test_sample(e, "process_virtual_memory_bytes"), 123456789);
    ASSERT_DBL_EQ(test_sample(e, "process_start_time_seconds"), 1700000000 + 43.21);
    ASSERT_DBL_EQ(test_sample(e, "process_open_fds"), 5);
    ASSERT_DBL_EQ(test_sample(e, "process_max_fds"), 1024);
    ASSERT_DBL_EQ(test_sample(e, "process_threads"), 7);
    free(e);
    metrics_registry_free(&reg);
    metrics_process_free(&p);
    ASSERT(p == NULL);
}

TEST(process_collector_unlimited_fds)
{
    metrics_registry_t *reg;
    metrics_process_t *p;
    ASSERT_OK(metrics_registry_new(&reg, NULL));
    ASSERT_OK(metrics_process_register(
        reg,
        &(metrics_process_opts_t){
            .proc_root = "tests/fixtures/proc-unlimited", .pid = "77", .clk_tck = 100},
        &p));
    char *e = test_expose(reg, METRICS_FMT_TEXT);
    ASSERT_CONTAINS(e, "process_max_fds +Inf\n");
    ASSERT_DBL_EQ(test_sample(e, "process_cpu_seconds_total"), 0.02);
    free(e);
    metrics_registry_free(&reg);
    metrics_process_free(&p);
}

TEST(process_collector_missing_files)
{
    metrics_registry_t *reg;
    metrics_process_t *p;
    ASSERT_OK(metrics_registry_new(&reg, NULL));
    ASSERT_OK(metrics_process_register(
        reg, &(metrics_process_opts_t){.proc_root = "tests/fixtures/no-such-proc"}, &p));
    char *e = test_expose(reg, METRICS_FMT_TEXT);
    ASSERT_NOT_CONTAINS(e, "process_"); /* nothing faked */
    free(e);
    metrics_registry_free(&reg);
    metrics_process_free(&p);
}

TEST(process_collector_live)
{
    metrics_registry_t *reg;
    metrics_process_t *p;
    ASSERT_OK(metrics_registry_new(&reg, NULL));
    ASSERT_OK(metrics_process_register(reg, NULL, &p));
    /* burn a little CPU so the counter is above zero */
    volatile double x = 0;
    for (int i = 0; i < 20000000; i++) x += i * 0.5;
    char *e = test_expose(reg, METRICS_FMT_TEXT);
    double now = (double)time(NULL);
    ASSERT(test_sample(e, "process_cpu_seconds_total") > 0);
    ASSERT(test_sample(e, "process_resident_memory_bytes") > 1e5);
    ASSERT(test_sample(e, "process_virtual_memory_bytes") >=
           test_sample(e, "process_resident_memory_bytes"));
    double start = test_sample(e, "process_start_time_seconds");
    ASSERT(start > now - 3600 && start <= now + 1);
    ASSERT(test_sample(e, "process_open_fds") >= 3);
    ASSERT(test_sample(e, "process_max_fds") >= test_sample(e, "process_open_fds"));
    ASSERT(test_sample(e, "process_threads") >= 1);
    free(e);
    metrics_registry_free(&reg);
    metrics_process_free(&p);
}
