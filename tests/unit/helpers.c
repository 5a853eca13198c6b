#include "helpers.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *test_expose(metrics_registry_t *reg, metrics_format_t fmt)
{
    buf_t b = BUF_INIT;
    if (metrics_expose(reg, fmt, &b) != 0) {
        buf_free(&b);
        return NULL;
    }
    buf_putc(&b, '\0');
    return buf_steal(&b, NULL);
}

char *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    buf_t b = BUF_INIT;
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) buf_append(&b, tmp, n);
    fclose(f);
    buf_putc(&b, '\0');
    char *s = buf_steal(&b, len);
    if (len) (*len)--;
    return s;
}

int test_golden(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "tests/golden/%s", name);
    const char *up = getenv("RAGD_UPDATE_GOLDEN");
    if (up && *up == '1') {
        FILE *f = fopen(path, "wb");
        if (!f) return -1;
        fputs(text, f);
        fclose(f);
        return 0;
    }
    char *want = test_read_file(path, NULL);
    if (!want) {
        fprintf(stderr, "    golden file %s missing\n", path);
        return -1;
    }
    int rc = strcmp(want, text) != 0;
    if (rc) {
        /* Show the first differing line. */
        const char *a = want, *b = text;
        int line = 1;
        while (*a && *a == *b) {
            if (*a == '\n') line++;
            a++, b++;
        }
        fprintf(stderr, "    %s differs at line %d\n", path, line);
        fprintf(stderr, "    got:\n%s\n", text);
    }
    free(want);
    return rc;
}

double test_sample(const char *expo, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = expo; p && *p;) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ') return strtod(p + n + 1, NULL);
        p = strchr(p, '\n');
        if (p) p++;
    }
    return NAN;
}

int test_damage_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_TRUNC);
    if (fd < 0) return -1;
    int rc = write(fd, "garbage", 7) == 7 ? 0 : -1;
    close(fd);
    return rc;
}
