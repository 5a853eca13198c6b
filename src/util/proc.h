/* proc: runs a program as a child with its input, a wall-clock deadline and
 * caps on what it may print, and collects its output and exit status.
 *
 * For work the server must not do in its own address space (a parser of
 * hostile files): the child is exec'd fresh (posix_spawn), so it shares no
 * state with the server's threads; the caller's deadline kills it. Resource
 * limits (CPU, address space) are the child's to set on itself, since a
 * spawned program starts clean. Pipes are close-on-exec in the parent, and
 * nothing here uses a signal handler. */
#ifndef RAGD_PROC_H
#define RAGD_PROC_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

typedef struct proc_run {
    const char *path;  /* the program to exec */
    char *const *argv; /* its arguments, argv[0] first, NULL-terminated */
    const void *input; /* written to its stdin, then stdin is closed */
    size_t input_len;
    double timeout_s;        /* wall clock; then SIGKILL */
    size_t max_out, max_err; /* bytes kept of stdout and stderr */
} proc_run_t;

typedef struct proc_result {
    buf_t out, err;     /* what it printed (caller frees: proc_result_free) */
    bool timed_out;     /* killed at the deadline */
    bool out_too_large; /* killed for printing more than max_out */
    int exit_code;      /* when it exited: its status; else -1 */
    int signal;         /* when a signal ended it: the signal; else 0 */
} proc_result_t;

/* Runs r->path and waits for it. 0 once the child ran (whatever its end:
 * see res), or -errno when it could not be started (err says why). */
int proc_run(const proc_run_t *r, proc_result_t *res, char *err, size_t errlen);
void proc_result_free(proc_result_t *res);

#endif
