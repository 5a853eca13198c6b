/* dash_assets: the files of /dashboard, embedded in the binary at build
 * time (scripts/embed-assets writes the table from the Makefile's list:
 * web/dashboard.*, uPlot from npm, and the committed Grafana dashboard). */
#ifndef RAGD_DASH_ASSETS_H
#define RAGD_DASH_ASSETS_H

#include <stddef.h>

typedef struct dash_asset {
    const char *name;          /* base name, e.g. "dashboard.js" */
    const unsigned char *data; /* followed by a NUL */
    size_t len;
} dash_asset_t;

/* Ends with an entry whose name is NULL. */
extern const dash_asset_t dash_assets[];

#endif
