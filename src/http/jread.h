/* jread: a request's JSON read by simdjson into jansson's values.
 *
 * Bulk ingestion's hot path: jansson's reader takes about 140 instructions
 * a byte of a batch line (a third of a batch's instructions at 8 KB a
 * document), simdjson a few. The routes keep working on jansson's json_t
 * (their checks are written once, against it): jread parses with
 * simdjson, then builds the same tree, strings copied without a second
 * UTF-8 check (simdjson has made it). Anything simdjson refuses, or that
 * json_loadb would refuse where simdjson does not (a duplicate key, a
 * "\u0000", an integer past int64, a scalar at the top), goes to
 * json_loadb, which decides: the values and errors are json_loadb's with
 * JSON_REJECT_DUPLICATES, error positions included. */
#ifndef RAGD_JREAD_H
#define RAGD_JREAD_H

#include <jansson.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The JSON value in buf[0..len) (no padding needed; buf is not changed),
 * or NULL with *e set, as json_loadb(buf, len, JSON_REJECT_DUPLICATES, e).
 * Thread-safe: each thread parses with a parser of its own, kept between
 * calls for texts up to JREAD_KEEP bytes (the parser's memory is a few
 * times the text's). */
json_t *jread(const char *buf, size_t len, json_error_t *e);

#define JREAD_KEEP (64u << 10)

#ifdef __cplusplus
}
#endif

#endif
