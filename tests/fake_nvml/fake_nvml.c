/* A fake libnvidia-ml.so.1 for the tests: the NVML functions ragd's GPU
 * collector calls, answering fixed values, so the real dlopen/dlsym path
 * runs on machines without a GPU. Loaded by path (--nvml-library).
 *
 * Two devices: cuda:0 80 GiB, 20 GiB used, 35 % busy; cuda:1 80 GiB,
 * 76 GiB used, 99 % busy; each with 480 MiB reserved by the driver, which
 * the v1 memory call counts as used and the v2 call reports apart (as a real
 * driver 580 does on an H100). Environment knobs:
 *   FAKE_NVML_INIT_FAIL=1     nvmlInit_v2 fails (driver not loaded)
 *   FAKE_NVML_FAIL_DEVICE=N   device N's reads fail (GPU is lost)
 *   FAKE_NVML_FAIL_FILE=PATH  device 1's reads fail while PATH exists
 *   FAKE_NVML_NO_V2=1         the v2 memory call answers "not supported" */
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <unistd.h>

typedef int nvmlReturn_t;
typedef struct nvmlDevice_st *nvmlDevice_t;
typedef struct {
    unsigned long long total, free, used;
} nvmlMemory_t;
typedef struct {
    unsigned int version;
    unsigned long long total, reserved, free, used;
} nvmlMemory_v2_t;
typedef struct {
    unsigned int gpu, memory;
} nvmlUtilization_t;

#define NVML_SUCCESS                 0
#define NVML_ERROR_INVALID_ARGUMENT  2
#define NVML_ERROR_NOT_SUPPORTED     3
#define NVML_ERROR_DRIVER_NOT_LOADED 9
#define NVML_ERROR_GPU_IS_LOST       15
#define NVML_ERROR_VERSION_MISMATCH  25
#define GIB                          (1024ULL * 1024 * 1024)
#define RESERVED                     (480ULL * 1024 * 1024)

/* Exported with the names NVML uses; prototypes keep -Wmissing-prototypes happy. */
nvmlReturn_t nvmlInit_v2(void);
nvmlReturn_t nvmlShutdown(void);
nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count);
nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device);
nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory);
nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory);
nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t *util);
const char *nvmlErrorString(nvmlReturn_t result);

static int inited;

static int index_of(nvmlDevice_t d)
{
    return (int)((long)(uintptr_t)d - 1);
}

static int failing(int idx)
{
    const char *f = getenv("FAKE_NVML_FAIL_DEVICE");
    if (f && atoi(f) == idx) return 1;
    const char *file = getenv("FAKE_NVML_FAIL_FILE");
    return idx == 1 && file && access(file, F_OK) == 0;
}

nvmlReturn_t nvmlInit_v2(void)
{
    const char *f = getenv("FAKE_NVML_INIT_FAIL");
    if (f && *f == '1') return NVML_ERROR_DRIVER_NOT_LOADED;
    inited = 1;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlShutdown(void)
{
    inited = 0;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count)
{
    if (!inited) return NVML_ERROR_DRIVER_NOT_LOADED;
    *count = 2;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device)
{
    if (!inited || index > 1) return NVML_ERROR_INVALID_ARGUMENT;
    *device = (nvmlDevice_t)(uintptr_t)(index + 1);
    return NVML_SUCCESS;
}

/* Device i's memory as the v2 call reports it. */
static nvmlReturn_t memory_of(nvmlDevice_t device, nvmlMemory_v2_t *m)
{
    int i = index_of(device);
    if (i < 0 || i > 1) return NVML_ERROR_INVALID_ARGUMENT;
    if (failing(i)) return NVML_ERROR_GPU_IS_LOST;
    m->total = 80 * GIB;
    m->reserved = RESERVED;
    m->used = i == 0 ? 20 * GIB : 76 * GIB;
    m->free = m->total - m->reserved - m->used;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory)
{
    const char *no = getenv("FAKE_NVML_NO_V2");
    if (no && *no == '1') return NVML_ERROR_NOT_SUPPORTED;
    if (memory->version != ((unsigned)sizeof *memory | 2u << 24))
        return NVML_ERROR_VERSION_MISMATCH;
    return memory_of(device, memory);
}

/* v1 counts the driver's reserve as used. */
nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory)
{
    nvmlMemory_v2_t m;
    nvmlReturn_t rc = memory_of(device, &m);
    if (rc != NVML_SUCCESS) return rc;
    memory->total = m.total;
    memory->used = m.used + m.reserved;
    memory->free = m.free;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t *util)
{
    int i = index_of(device);
    if (i < 0 || i > 1) return NVML_ERROR_INVALID_ARGUMENT;
    if (failing(i)) return NVML_ERROR_GPU_IS_LOST;
    util->gpu = i == 0 ? 35 : 99;
    util->memory = 10;
    return NVML_SUCCESS;
}

const char *nvmlErrorString(nvmlReturn_t result)
{
    switch (result) {
    case NVML_SUCCESS:
        return "Success";
    case NVML_ERROR_DRIVER_NOT_LOADED:
        return "Driver Not Loaded";
    case NVML_ERROR_GPU_IS_LOST:
        return "GPU is lost";
    case NVML_ERROR_NOT_SUPPORTED:
        return "Not Supported";
    default:
        return "Invalid Argument";
    }
}
