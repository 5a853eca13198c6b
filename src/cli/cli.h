/* cli: the client commands, talking to a running ragd over HTTP (libcurl).
 *
 *   ragd ingest PATH... [--server URL] [--api-key KEY]
 *     uploads files, and directories recursively by extension (.txt .md
 *     .markdown .html .htm .pdf); ids are the paths relative to the given
 *     root, so ingesting again replaces. A progress bar on a terminal,
 *     a plain summary otherwise; failed files are listed; exit 1 if any.
 *   ragd query TEXT [--server URL] [--top-k N] [--mode hybrid|vector|keyword]
 *     prints the results readably.
 * --server defaults to RAGD_SERVER or http://127.0.0.1:8050; the key to
 * RAGD_API_KEY. */
#ifndef RAGD_CLI_H
#define RAGD_CLI_H

#include <stddef.h>

int cli_ingest_main(int argc, char **argv);
int cli_query_main(int argc, char **argv);

/* A document id from a relative path: characters outside [A-Za-z0-9._:-]
 * become '-', at most 128 bytes (a long path keeps its end and a hash). */
void cli_path_id(const char *rel, char *out, size_t size);

#endif
