/* gpu: NVIDIA GPU metrics through NVML, loaded with dlopen at start-up, so
 * ragd needs no GPU, driver or CUDA to build or run.
 *
 * gpu_count                          devices NVML reports (0 without a driver)
 * gpu_memory_used_bytes{device}      per device, device="cuda:N"
 * gpu_memory_total_bytes{device}
 * gpu_utilization_percent{device}    0-100
 * ragd_gpu_read_errors_total{device} reads that failed
 * NVML is initialised once; each scrape reads every device. A device that
 * fails to read is left out of that scrape (its series vanish until it reads
 * again) and counted. No library or no driver: gpu_count 0, one log line. */
#ifndef RAGD_COLLECTORS_GPU_H
#define RAGD_COLLECTORS_GPU_H

#include "metrics/metrics.h"

#define GPU_DEFAULT_LIBRARY "libnvidia-ml.so.1"
#define GPU_MAX_DEVICES     64

typedef struct collector_gpu collector_gpu_t;

/* lib: the NVML library to load (a path or a soname); NULL for the default. */
int collector_gpu_register(metrics_registry_t *reg, const char *lib, collector_gpu_t **out);
/* Number of devices found at start-up (0 without NVML). */
unsigned collector_gpu_count(const collector_gpu_t *g);
/* Shuts NVML down and unloads it; clears *g. */
void collector_gpu_free(collector_gpu_t **g);

#endif
