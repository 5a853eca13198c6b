#include "util/par.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

struct par {
    void (*fn)(void *ctx, size_t i);
    void *ctx;
    size_t n;
    atomic_size_t next;
};

static void *par_work(void *arg)
{
    struct par *p = arg;
    for (size_t i; (i = atomic_fetch_add(&p->next, 1)) < p->n;) p->fn(p->ctx, i);
    return NULL;
}

void par_for(size_t n, size_t threads, void (*fn)(void *ctx, size_t i), void *ctx)
{
    struct par p = {.fn = fn, .ctx = ctx, .n = n};
    atomic_init(&p.next, 0);
    size_t nt = threads < n ? threads : n, started = 0;
    if (nt > PAR_MAX_THREADS) nt = PAR_MAX_THREADS;
    pthread_t tid[PAR_MAX_THREADS];
    for (size_t t = 1; t < nt; t++)
        if (pthread_create(&tid[started], NULL, par_work, &p) == 0) started++;
    par_work(&p);
    for (size_t t = 0; t < started; t++) pthread_join(tid[t], NULL);
}

size_t par_cpus(size_t cap)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (size_t)n > cap ? cap : (size_t)n;
}
