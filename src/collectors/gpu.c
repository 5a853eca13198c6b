#include "collectors/gpu.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

/* The few NVML types and entry points we use (ABI of nvml.h, stable since
 * the _v2 functions of CUDA 5). */
typedef int nvml_return_t; /* NVML_SUCCESS == 0 */
typedef struct nvml_device *nvml_device_t;
typedef struct {
    unsigned long long total, free, used;
} nvml_memory_t;
/* nvmlMemory_v2_t (drivers since R510): "used" leaves out what the driver
 * reserves for itself, as nvidia-smi shows it; v1's "used" counts it (480 MiB
 * on an idle H100 80GB with driver 580). */
typedef struct {
    unsigned int version; /* NVML_STRUCT_VERSION(Memory, 2) */
    unsigned long long total, reserved, free, used;
} nvml_memory_v2_t;
#define NVML_MEMORY_V2 ((unsigned)sizeof(nvml_memory_v2_t) | 2u << 24)
typedef struct {
    unsigned int gpu, memory;
} nvml_utilization_t;

struct collector_gpu {
    void *lib;
    nvml_return_t (*init)(void);
    nvml_return_t (*shutdown)(void);
    nvml_return_t (*count)(unsigned int *);
    nvml_return_t (*handle)(unsigned int, nvml_device_t *);
    nvml_return_t (*memory)(nvml_device_t, nvml_memory_t *);
    nvml_return_t (*memory_v2)(nvml_device_t, nvml_memory_v2_t *); /* NULL: old driver */
    nvml_return_t (*utilization)(nvml_device_t, nvml_utilization_t *);
    const char *(*error_string)(nvml_return_t);
    unsigned ndev;
    nvml_device_t dev[GPU_MAX_DEVICES];
    char name[GPU_MAX_DEVICES][16]; /* "cuda:N" */
    metrics_family_t *used, *total, *util;
    metrics_child_t *errors[GPU_MAX_DEVICES];
    bool logged_failure[GPU_MAX_DEVICES];
    bool v1_only[GPU_MAX_DEVICES]; /* the v2 call refused this device once */
};

static const char *nvml_err(const collector_gpu_t *g, nvml_return_t rc)
{
    const char *s = g->error_string ? g->error_string(rc) : NULL;
    return s ? s : "unknown NVML error";
}

/* Device i's memory: through the v2 call where the driver has it, so "used"
 * matches nvidia-smi; through v1 where it has not or refuses this device
 * (not supported, or a version it does not know: decided once). */
static nvml_return_t read_memory(collector_gpu_t *g, unsigned i, nvml_memory_t *mem)
{
    enum { NOT_SUPPORTED = 3, FUNCTION_NOT_FOUND = 13, VERSION_MISMATCH = 25 };
    if (g->memory_v2 && !g->v1_only[i]) {
        nvml_memory_v2_t m2 = {.version = NVML_MEMORY_V2};
        nvml_return_t rc = g->memory_v2(g->dev[i], &m2);
        if (rc == 0) {
            *mem = (nvml_memory_t){.total = m2.total, .free = m2.free, .used = m2.used};
            return 0;
        }
        if (rc != NOT_SUPPORTED && rc != FUNCTION_NOT_FOUND && rc != VERSION_MISMATCH) return rc;
        log_info("gpu: %s: %s for memory v2: used memory counts the driver's reserve", g->name[i],
                 nvml_err(g, rc));
        g->v1_only[i] = true;
    }
    return g->memory(g->dev[i], mem);
}

static void collect(void *ctx)
{
    collector_gpu_t *g = ctx;
    for (unsigned i = 0; i < g->ndev; i++) {
        const char *v[1] = {g->name[i]};
        nvml_memory_t mem;
        nvml_utilization_t util;
        nvml_return_t rc = read_memory(g, i, &mem);
        if (rc == 0) rc = g->utilization(g->dev[i], &util);
        if (rc != 0) {
            metrics_family_remove(g->used, v);
            metrics_family_remove(g->total, v);
            metrics_family_remove(g->util, v);
            metrics_counter_inc(g->errors[i]);
            if (!g->logged_failure[i]) /* once per failure streak */
                log_warn("gpu: cannot read %s: %s", g->name[i], nvml_err(g, rc));
            g->logged_failure[i] = true;
            continue;
        }
        g->logged_failure[i] = false;
        metrics_gauge_set(metrics_family_child(g->used, v), (double)mem.used);
        metrics_gauge_set(metrics_family_child(g->total, v), (double)mem.total);
        metrics_gauge_set(metrics_family_child(g->util, v), (double)util.gpu);
    }
}

/* Loads NVML and finds the devices; on any failure leaves g->ndev at 0. */
static void load(collector_gpu_t *g, const char *lib)
{
    g->lib = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!g->lib) {
        log_info("gpu: NVML not available (%s): gpu_count is 0", dlerror());
        return;
    }
    *(void **)&g->init = dlsym(g->lib, "nvmlInit_v2");
    *(void **)&g->shutdown = dlsym(g->lib, "nvmlShutdown");
    *(void **)&g->count = dlsym(g->lib, "nvmlDeviceGetCount_v2");
    *(void **)&g->handle = dlsym(g->lib, "nvmlDeviceGetHandleByIndex_v2");
    *(void **)&g->memory = dlsym(g->lib, "nvmlDeviceGetMemoryInfo");
    *(void **)&g->memory_v2 = dlsym(g->lib, "nvmlDeviceGetMemoryInfo_v2");
    *(void **)&g->utilization = dlsym(g->lib, "nvmlDeviceGetUtilizationRates");
    *(void **)&g->error_string = dlsym(g->lib, "nvmlErrorString");
    if (!g->init || !g->shutdown || !g->count || !g->handle || !g->memory || !g->utilization) {
        log_warn("gpu: %s lacks NVML functions: gpu_count is 0", lib);
        goto unload;
    }
    nvml_return_t rc = g->init();
    if (rc != 0) {
        log_info("gpu: NVML did not initialise (%s): gpu_count is 0", nvml_err(g, rc));
        goto unload;
    }
    unsigned n = 0;
    if ((rc = g->count(&n)) != 0) {
        log_warn("gpu: cannot count devices (%s): gpu_count is 0", nvml_err(g, rc));
        g->shutdown();
        goto unload;
    }
    if (n > GPU_MAX_DEVICES) n = GPU_MAX_DEVICES;
    for (unsigned i = 0; i < n; i++) {
        if ((rc = g->handle(i, &g->dev[g->ndev])) != 0) {
            log_warn("gpu: no handle for device %u (%s): left out", i, nvml_err(g, rc));
            continue;
        }
        snprintf(g->name[g->ndev], sizeof g->name[0], "cuda:%u", i);
        g->ndev++;
    }
    log_info("gpu: NVML loaded from %s, %u device(s)", lib, g->ndev);
    return;
unload:
    dlclose(g->lib);
    g->lib = NULL;
    g->ndev = 0;
}

int collector_gpu_register(metrics_registry_t *reg, const char *lib, collector_gpu_t **out)
{
    static const char *const dev_l[] = {"device"};
    metrics_family_t *count, *errors;
    *out = NULL;
    collector_gpu_t *g = calloc(1, sizeof *g);
    if (!g) return -ENOMEM;
    load(g, lib ? lib : GPU_DEFAULT_LIBRARY);
#define GPU_FAMILY(type_, name_, help_, nl_)                                                       \
    {                                                                                              \
        .type = type_, .name = name_, .help = help_, .labels = dev_l, .nlabels = nl_,              \
        .max_children = GPU_MAX_DEVICES                                                            \
    }
    const metrics_def_t defs[] = {
        {GPU_FAMILY(METRICS_GAUGE, "gpu_count",
                    "Number of GPUs visible through NVML (0 without a driver).", 0),
         &count, NULL},
        {GPU_FAMILY(METRICS_GAUGE, "gpu_memory_used_bytes", "GPU memory in use in bytes.", 1),
         &g->used, NULL},
        {GPU_FAMILY(METRICS_GAUGE, "gpu_memory_total_bytes", "GPU memory in bytes.", 1), &g->total,
         NULL},
        {GPU_FAMILY(METRICS_GAUGE, "gpu_utilization_percent",
                    "GPU busy share over NVML's last sample period, 0-100.", 1),
         &g->util, NULL},
        {GPU_FAMILY(METRICS_COUNTER, "ragd_gpu_read_errors_total",
                    "GPU reads that failed; the device is left out of that scrape.", 1),
         &errors, NULL},
    };
#undef GPU_FAMILY
    int rc = metrics_register_all(reg, defs, sizeof defs / sizeof defs[0], NULL, 0);
    if (!rc && g->ndev) rc = metrics_registry_add_collector(reg, collect, g);
    if (rc) {
        collector_gpu_free(&g);
        return rc;
    }
    metrics_gauge_set(metrics_family_child(count, NULL), g->ndev);
    for (unsigned i = 0; i < g->ndev; i++)
        g->errors[i] = metrics_family_child(errors, (const char *[]){g->name[i]});
    *out = g;
    return 0;
}

unsigned collector_gpu_count(const collector_gpu_t *g)
{
    return g ? g->ndev : 0;
}

void collector_gpu_free(collector_gpu_t **gp)
{
    collector_gpu_t *g = gp ? *gp : NULL;
    if (!g) return;
    if (g->lib) {
        g->shutdown();
        dlclose(g->lib);
    }
    free(g);
    *gp = NULL;
}
