/* Helpers shared by the unit tests. */
#ifndef RAGD_TEST_HELPERS_H
#define RAGD_TEST_HELPERS_H

#include <stddef.h>

#include "metrics/metrics.h"

/* The registry's exposition as a NUL-terminated string (caller frees). */
char *test_expose(metrics_registry_t *reg, metrics_format_t fmt);
/* Reads a whole file (caller frees); NULL if missing. */
char *test_read_file(const char *path, size_t *len);
/* Compares text with a golden file under tests/golden/; with RAGD_UPDATE_GOLDEN=1
 * in the environment, rewrites the file instead. 0 when equal. */
int test_golden(const char *name, const char *text);
/* Value of the sample line that starts with `series ` (exact series text,
 * e.g. `foo_total{a="b"}`), parsed as a double; NAN when absent. */
double test_sample(const char *expo, const char *series);
/* Overwrites the file at path with a few bytes of garbage (a damaged
 * file for a test). 0 or -1. */
int test_damage_file(const char *path);

#endif
