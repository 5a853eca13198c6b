/* ragd: command-line entry point; dispatches to the commands. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "rag/parse_pdf.h"
#include "server/serve.h"

extern char **environ;

#ifndef RAGD_VERSION
#define RAGD_VERSION "0.0.0"
#endif

static void usage(FILE *f)
{
    fprintf(
        f, "usage: ragd [--version] [--help] <command> [options]\n"
           "\n"
           "ragd is a retrieval-augmented-generation service with Prometheus metrics.\n"
           "\n"
           "commands:\n"
           "  serve    run the HTTP service (ragd serve --help)\n"
           "  ingest   upload files and directories to a running ragd (ragd ingest --help)\n"
           "  query    search a running ragd (ragd query --help)\n"
           "  ask      get an answer with its sources from a running ragd (ragd ask --help)\n"
           "  eval     measure retrieval quality on a set with known answers (ragd eval --help)\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("ragd %s\n", RAGD_VERSION);
        return 0;
    }
    if (!strcmp(argv[1], "serve")) return serve_main(argc - 2, argv + 2, environ);
    if (!strcmp(argv[1], "parse-pdf")) return parse_pdf_main(argc - 2, argv + 2);
    if (!strcmp(argv[1], "ingest")) return cli_ingest_main(argc - 2, argv + 2);
    if (!strcmp(argv[1], "query")) return cli_query_main(argc - 2, argv + 2);
    if (!strcmp(argv[1], "ask")) return cli_ask_main(argc - 2, argv + 2);
    if (!strcmp(argv[1], "eval")) return cli_eval_main(argc - 2, argv + 2);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "ragd: unknown command or option '%s' (see ragd --help)\n", argv[1]);
    return 2;
}
