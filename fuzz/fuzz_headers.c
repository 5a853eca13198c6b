/* Accept and Accept-Encoding headers: content negotiation of /metrics. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "metrics/metrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0'; /* headers arrive NUL-terminated from libmicrohttpd */
    metrics_format_t f = metrics_negotiate(s);
    if (f != METRICS_FMT_TEXT && f != METRICS_FMT_OPENMETRICS) abort();
    (void)metrics_accepts_gzip(s);
    (void)metrics_content_type(f);
    free(s);
    return 0;
}
