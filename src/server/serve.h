/* serve: the `ragd serve` command. */
#ifndef RAGD_SERVE_H
#define RAGD_SERVE_H

/* Runs the service until SIGTERM or SIGINT; returns the exit status
 * (0 after a clean shutdown, 2 for bad options, 1 when it cannot start). */
int serve_main(int argc, char **argv, char **envp);

#endif
