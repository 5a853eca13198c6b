#include "util/num.h"

#include <errno.h>

int num_parse_u64(const char *p, size_t n, uint64_t *out, size_t *used)
{
    uint64_t v = 0;
    size_t i = 0;
    for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
        unsigned d = (unsigned)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return -ERANGE;
        v = v * 10 + d;
    }
    if (i == 0) return -EINVAL;
    *out = v;
    *used = i;
    return 0;
}
