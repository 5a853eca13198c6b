/* cli: the client commands, talking to a running ragd over HTTP (libcurl).
 *
 *   ragd ingest PATH... [--server URL] [--api-key KEY]
 *     uploads files, and directories recursively by extension (.txt .md
 *     .markdown .html .htm .pdf); ids are the paths relative to the given
 *     root, so ingesting again replaces. A progress bar on a terminal,
 *     a plain summary otherwise; failed files are listed; exit 1 if any.
 *   ragd query TEXT [--server URL] [--top-k N] [--mode hybrid|vector|keyword]
 *     prints the results readably.
 *   ragd ask QUESTION [--server URL] [--top-k N] [--mode ...] [--max-tokens N]
 *     streams the answer to the terminal as it is written, then lists the
 *     sources it cites (cli_ask.c).
 *   ragd eval --corpus F --queries F --qrels F [--server URL] ...
 *     retrieval quality on a set with known answers (cli_eval.c).
 * --server defaults to RAGD_SERVER or http://127.0.0.1:8050; the key to
 * RAGD_API_KEY. */
#ifndef RAGD_CLI_H
#define RAGD_CLI_H

#include <stdbool.h>
#include <stddef.h>

int cli_ingest_main(int argc, char **argv);
int cli_query_main(int argc, char **argv);
int cli_ask_main(int argc, char **argv);
int cli_eval_main(int argc, char **argv);

/* ---- shared by the commands ---- */

#define CLI_DEFAULT_SERVER "http://127.0.0.1:8050"
/* The value of flag `name` at argv[*i] ("--name V" or "--name=V"; *i moves
 * past V), or NULL when argv[*i] is not that flag. */
const char *cli_flag_value(int *i, int argc, char **argv, const char *name);
/* One request to a server: its HTTP status (0 when none came, err says
 * why), the body in out (NUL-terminated). ctype and key may be NULL;
 * timeout 0: none. */
struct buf;
long cli_http_call(const char *method, const char *url, const char *ctype, const char *key,
                   const void *body, size_t len, double timeout, struct buf *out, char *err,
                   size_t errlen);
/* The message of a {"error":{"message":...}} body, or the body itself, as
 * "HTTP status: message". */
struct buf;
void cli_error_message(const struct buf *body, long status, char *out, size_t n);

/* The arguments of query and ask. */
typedef struct cli_question {
    const char *server, *text, *mode;
    long top_k, max_tokens;
} cli_question_t;
/* Reads TEXT [--server URL] [--top-k N] [--mode M] (and [--max-tokens N]
 * when answer). -1 to go on; else the exit status: 0 after --help (usage
 * printed), 2 on a usage error (message printed). */
int cli_question_args(int argc, char **argv, const char *cmd, const char *usage, bool answer,
                      cli_question_t *q);
/* The JSON body of a query or answer request (malloc'd), or NULL with a
 * message printed (text not UTF-8). */
char *cli_question_body(const cli_question_t *q, bool stream);

/* A document id from a relative path: characters outside [A-Za-z0-9._:-]
 * become '-', at most 128 bytes (a long path keeps its end and a hash). */
void cli_path_id(const char *rel, char *out, size_t size);

#endif
