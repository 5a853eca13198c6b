/* Host collector on fixture /proc files, GPU collector through the fake
 * NVML library, health components. */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include "collectors/gpu.h"
#include "collectors/system.h"
#include "core/health.h"
#include "core/log.h"
#include "helpers.h"
#include "test.h"

#define FAKE_NVML "build/fake_nvml/libnvidia-ml.so.1"

TEST(system_parsers)
{
    unsigned long long total, idle, mt, ma;
    const char *stat = "cpu  100 5 50 800 45 0 0 0 0 0\ncpu0 1 2 3 4\n";
    ASSERT_OK(collector_parse_cpu(stat, strlen(stat), &total, &idle));
    ASSERT_EQ(total, 1000);
    ASSERT_EQ(idle, 845);
    ASSERT_EQ(collector_parse_cpu("intr 1\n", 7, &total, &idle), -EINVAL);
    ASSERT_EQ(collector_parse_cpu("cpu  1 2\n", 9, &total, &idle), -EINVAL);
    const char *mem = "MemTotal: 1000 kB\nMemAvailable: 250 kB\n";
    ASSERT_OK(collector_parse_meminfo(mem, strlen(mem), &mt, &ma));
    ASSERT_EQ(mt, 1024000);
    ASSERT_EQ(ma, 256000);
    ASSERT_EQ(collector_parse_meminfo("MemTotal: 5 kB\n", 15, &mt, &ma), -EINVAL);
    char os[64];
    const char *rel = "NAME=x\nPRETTY_NAME='Alpine Linux v3'\n";
    ASSERT_OK(collector_parse_os_release(rel, strlen(rel), os, sizeof os));
    ASSERT_STR_EQ(os, "Alpine Linux v3");
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

TEST(system_collector_fixture)
{
    /* A proc root the test rewrites between scrapes, for an exact CPU share. */
    char dir[] = "/tmp/ragd-test-proc-XXXXXX", path[128];
    ASSERT(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/stat", dir);
    write_file(path, "cpu  1000 0 500 8000 500 0 0 0 0 0\n");
    char meminfo[128];
    snprintf(meminfo, sizeof meminfo, "%s/meminfo", dir);
    write_file(meminfo, "MemTotal:       16384000 kB\nMemAvailable:   12288000 kB\n");

    metrics_registry_t *reg;
    collector_system_t *c;
    ASSERT_OK(metrics_registry_new(&reg, NULL));
    ASSERT_OK(collector_system_register(
        reg,
        &(collector_system_opts_t){.proc_root = dir,
                                   .os_release = "tests/fixtures/host/os-release",
                                   .data_dir = ".",
                                   .version = "9.9.9"},
        &c));
    /* 1000 more ticks, 250 of them idle: 75 % busy */
    write_file(path, "cpu  1500 0 750 8200 550 0 0 0 0 0\n");
    char *e = test_expose(reg, METRICS_FMT_TEXT);
    ASSERT_DBL_EQ(test_sample(e, "cpu_usage_percent"), 75);
    ASSERT_DBL_EQ(test_sample(e, "memory_usage_bytes"), 4096000.0 * 1024);
    ASSERT_DBL_EQ(test_sample(e, "memory_usage_percent"), 25);
    double disk = test_sample(e, "disk_usage_percent");
    ASSERT(disk > 0 && disk <= 100);
    ASSERT_CONTAINS(e, "os=\"Debian GNU/Linux 12 (bookworm)\"");
    ASSERT_CONTAINS(e, "version=\"9.9.9\"");
    ASSERT_CONTAINS(e, "# TYPE system_info gauge\nsystem_info{hostname=\"");
    free(e);
    /* no tick since: the last share is reported again */
    e = test_expose(reg, METRICS_FMT_TEXT);
    ASSERT_DBL_EQ(test_sample(e, "cpu_usage_percent"), 75);
    free(e);
    /* files gone: values left out, never faked */
    unlink(path);
    unlink(meminfo);
    e = test_expose(reg, METRICS_FMT_TEXT);
    ASSERT_NOT_CONTAINS(e, "cpu_usage_percent ");
    ASSERT_NOT_CONTAINS(e, "memory_usage_bytes ");
    free(e);
    rmdir(dir);
    metrics_registry_free(&reg);
    collector_system_free(&c);
}

TEST(gpu_collector_fake_nvml)
{
    metrics_registry_t *reg;
    collector_gpu_t *g;
    char flag[] = "/tmp/ragd-test-gpu-fail-XXXXXX";
    int fd = mkstemp(flag);
    ASSERT(fd >= 0);
    close(fd);
    unlink(flag);
    setenv("FAKE_NVML_FAIL_FILE", flag, 1);
    log_init(LOG_TEXT, open("/dev/null", O_WRONLY));
    ASSERT_OK(metrics_registry_new(&reg, NULL));
    ASSERT_OK(collector_gpu_register(reg, FAKE_NVML, &g));
    ASSERT_EQ(collector_gpu_count(g), 2);
    char *e = test_expose(reg, METRICS_FMT_TEXT);
    ASSERT_DBL_EQ(test_sample(e, "gpu_count"), 2);
    ASSERT_DBL_EQ(test_sample(e, "gpu_memory_used_bytes{device=\"cuda:0\"}"), 20.0 * 1073741824);
    ASSERT_DBL_EQ(test_sample(e, "gpu_memory_total_bytes{device=\"cuda:1\"}"), 80.0 * 1073741824);
    ASSERT_DBL_EQ(test_sample(e, "gpu_utilization_percent{device=\"cuda:1\"}"), 99);
    ASSERT_DBL_EQ(test_sample(e, "ragd_gpu_read_errors_total{device=\"cuda:1\"}"), 0);
    free(e);
    /* cuda:1 fails: left out of this scrape and counted */
    write_file(flag, "x");
    e = test_expose(reg, METRICS_FMT_TEXT);
    ASSERT_NOT_CONTAINS(e, "gpu_memory_used_bytes{device=\"cuda:1\"}");
    ASSERT_NOT_CONTAINS(e, "gpu_utilization_percent{device=\"cuda:1\"}");
    ASSERT_DBL_EQ(test_sample(e, "gpu_memory_used_bytes{device=\"cuda:0\"}"), 20.0 * 1073741824);
    ASSERT_DBL_EQ(test_sample(e, "ragd_gpu_read_errors_total{device=\"cuda:1\"}"), 1);
    ASSERT_DBL_EQ(test_sample(e, "gpu_count"), 2);
    free(e);
    /* and comes back */
    unlink(flag);
    e = test_expose(reg, METRICS_FMT_TEXT);
    ASSERT_DBL_EQ(test_sample(e, "gpu_utilization_percent{device=\"cuda:1\"}"), 99);
    ASSERT_DBL_EQ(test_sample(e, "ragd_gpu_read_errors_total{device=\"cuda:1\"}"), 1);
    free(e);
    unsetenv("FAKE_NVML_FAIL_FILE");
    collector_gpu_free(&g);
    ASSERT(g == NULL);
    metrics_registry_free(&reg);
    log_init(LOG_TEXT, 2);
}

/* A driver without the v2 memory call: "used" is v1's, the driver's reserve
 * included (480 MiB in the fake, as on a real H100); with it (above) the
 * reserve is left out, as nvidia-smi shows. */
TEST(gpu_collector_memory_v1_fallback)
{
    metrics_registry_t *reg;
    collector_gpu_t *g;
    log_init(LOG_TEXT, open("/dev/null", O_WRONLY));
    setenv("FAKE_NVML_NO_V2", "1", 1);
    ASSERT_OK(metrics_registry_new(&reg, NULL));
    ASSERT_OK(collector_gpu_register(reg, FAKE_NVML, &g));
    for (int round = 0; round < 2; round++) { /* decided once, then v1 straight away */
        char *e = test_expose(reg, METRICS_FMT_TEXT);
        ASSERT_DBL_EQ(test_sample(e, "gpu_memory_used_bytes{device=\"cuda:0\"}"),
                      20.0 * 1073741824 + 480.0 * 1048576);
        ASSERT_DBL_EQ(test_sample(e, "gpu_memory_total_bytes{device=\"cuda:0\"}"),
                      80.0 * 1073741824);
        ASSERT_DBL_EQ(test_sample(e, "ragd_gpu_read_errors_total{device=\"cuda:0\"}"), 0);
        free(e);
    }
    unsetenv("FAKE_NVML_NO_V2");
    collector_gpu_free(&g);
    metrics_registry_free(&reg);
    log_init(LOG_TEXT, 2);
}

TEST(gpu_collector_without_nvml)
{
    static const char *const libs[] = {"/nonexistent/libnvidia-ml.so.1", FAKE_NVML};
    log_init(LOG_TEXT, open("/dev/null", O_WRONLY));
    setenv("FAKE_NVML_INIT_FAIL", "1", 1); /* the fake, present but without a driver */
    for (size_t i = 0; i < 2; i++) {
        metrics_registry_t *reg;
        collector_gpu_t *g;
        ASSERT_OK(metrics_registry_new(&reg, NULL));
        ASSERT_OK(collector_gpu_register(reg, libs[i], &g));
        ASSERT_EQ(collector_gpu_count(g), 0);
        char *e = test_expose(reg, METRICS_FMT_TEXT);
        ASSERT_CONTAINS(e, "\ngpu_count 0\n");
        ASSERT_NOT_CONTAINS(e, "device=");
        free(e);
        collector_gpu_free(&g);
        metrics_registry_free(&reg);
    }
    unsetenv("FAKE_NVML_INIT_FAIL");
    log_init(LOG_TEXT, 2);
}

/* A check whose state the test sets while the health thread reads it. */
static health_state_t toggled(void *ctx, char *detail, size_t n)
{
    int state = atomic_load((atomic_int *)ctx);
    if (state != HEALTH_HEALTHY) snprintf(detail, n, "state %d", state);
    return (health_state_t)state;
}

TEST(health_components)
{
    metrics_registry_t *reg;
    health_t *h;
    atomic_int a = HEALTH_HEALTHY, b = HEALTH_HEALTHY;
    log_init(LOG_TEXT, open("/dev/null", O_WRONLY));
    ASSERT_OK(metrics_registry_new(&reg, NULL));
    ASSERT_OK(health_new(&h, reg, 0.02));
    ASSERT_OK(health_add(h, "store", toggled, &a, true));
    ASSERT_OK(health_add(h, "cache", toggled, &b, false));
    ASSERT_EQ(health_add(h, "a-name-that-is-far-too-long-for-a-component", toggled, &b, false),
              -EINVAL);
    ASSERT_OK(health_start(h));
    char *e = test_expose(reg, METRICS_FMT_TEXT);
    ASSERT_DBL_EQ(test_sample(e, "component_health_status{component=\"store\"}"), 1);
    free(e);
    bool ready;
    health_status_t st[HEALTH_MAX_COMPONENTS];
    ASSERT_EQ(health_snapshot(h, st, HEALTH_MAX_COMPONENTS, &ready), 2);
    ASSERT(ready);
    ASSERT_STR_EQ(st[0].name, "store");
    ASSERT(st[0].required && !st[1].required);
    ASSERT_EQ(st[0].state, HEALTH_HEALTHY);
    ASSERT_STR_EQ(st[0].detail, "");
    ASSERT_EQ(health_snapshot(h, st, 1, &ready), 1); /* a short array: the first ones */

    /* the background thread picks up changes without a scrape running checks */
    b = HEALTH_UNHEALTHY; /* not required: still ready */
    a = HEALTH_DEGRADED;  /* degraded: still ready */
    struct timespec ts = {0, 200 * 1000 * 1000};
    nanosleep(&ts, NULL);
    e = test_expose(reg, METRICS_FMT_TEXT);
    ASSERT_DBL_EQ(test_sample(e, "component_health_status{component=\"store\"}"), 0.5);
    ASSERT_DBL_EQ(test_sample(e, "component_health_status{component=\"cache\"}"), 0);
    free(e);
    health_snapshot(h, st, HEALTH_MAX_COMPONENTS, &ready);
    ASSERT(ready);
    ASSERT_EQ(st[1].state, HEALTH_UNHEALTHY);
    a = HEALTH_UNHEALTHY;
    health_check_now(h);
    health_snapshot(h, st, 1, &ready); /* readiness counts every component, listed or not */
    ASSERT(!ready);
    ASSERT_EQ(st[0].state, HEALTH_UNHEALTHY);
    ASSERT_STR_EQ(st[0].detail, "state 0");
    health_free(&h);
    ASSERT(h == NULL);
    metrics_registry_free(&reg);
    log_init(LOG_TEXT, 2);
}
