/* shard: per-thread shard assignment and read sections (grace periods).
 *
 * Shards 1..METRICS_MAX_SHARDS are exclusive: the thread that holds one is
 * the only writer of that row of every registry's value region, so it can
 * add with a relaxed load and store instead of an atomic RMW. A shard is
 * released when its thread exits (pthread key destructor) and handed to the
 * next thread that asks; its values stay, since the new owner just keeps
 * adding to them (the pool mutex orders the two owners' writes).
 *
 * Read sections: each exclusive shard has a sequence number, odd while its
 * thread is inside a lookup. synchronize() snapshots the numbers and waits
 * until each odd one has moved on: every lookup that could have seen an
 * unlinked child has then finished. Threads on shard 0 (more threads than
 * shards) look up under the family mutex instead. */
#include "metrics/metrics_int.h"

#include <sched.h>

_Thread_local int metrics__tls_shard = -1;

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t shard_key;
static unsigned char in_use[METRICS_MAX_SHARDS + 1];
static _Atomic int shard_high = 0;

/* One cache line per shard, so readers never share a line. */
static struct {
    _Atomic uint64_t seq;
    char pad[64 - sizeof(uint64_t)];
} __attribute__((aligned(64))) read_seq[METRICS_MAX_SHARDS + 1];

static void shard_release(void *p)
{
    int s = (int)(intptr_t)p;
    pthread_mutex_lock(&pool_mu);
    in_use[s] = 0;
    pthread_mutex_unlock(&pool_mu);
}

static void key_init(void)
{
    /* Without a key, threads are never released: they still get shards
     * until the pool runs out, then shard 0. Correct, only slower. */
    if (pthread_key_create(&shard_key, shard_release) != 0) shard_key = (pthread_key_t)-1;
}

int metrics__shard_acquire(void)
{
    if (metrics__tls_shard >= 0) return metrics__tls_shard;
    pthread_once(&key_once, key_init);
    int s = 0;
    pthread_mutex_lock(&pool_mu);
    for (int i = 1; i <= METRICS_MAX_SHARDS; i++) {
        if (!in_use[i]) {
            in_use[i] = 1;
            s = i;
            break;
        }
    }
    if (s > atomic_load_explicit(&shard_high, memory_order_relaxed))
        atomic_store_explicit(&shard_high, s, memory_order_release);
    pthread_mutex_unlock(&pool_mu);
    if (s > 0 && shard_key != (pthread_key_t)-1 &&
        pthread_setspecific(shard_key, (void *)(intptr_t)s) != 0) {
        /* Cannot be told of this thread's exit: keep the shard forever. */
    }
    metrics__tls_shard = s;
    return s;
}

int metrics__shard_high(void)
{
    return atomic_load_explicit(&shard_high, memory_order_acquire);
}

int metrics__read_enter(void)
{
    int s = metrics__tls_shard;
    if (__builtin_expect(s < 0, 0)) s = metrics__shard_acquire();
    if (s == 0) return 0;
    uint64_t v = atomic_load_explicit(&read_seq[s].seq, memory_order_relaxed);
    /* The exchange is a full barrier: the odd number is visible before any
     * load of the table (the StoreLoad order synchronize() relies on). */
    atomic_exchange_explicit(&read_seq[s].seq, v + 1, memory_order_seq_cst);
    return s;
}

void metrics__read_exit(int s)
{
    uint64_t v = atomic_load_explicit(&read_seq[s].seq, memory_order_relaxed);
    atomic_store_explicit(&read_seq[s].seq, v + 1, memory_order_release);
}

void metrics__synchronize(void)
{
    uint64_t snap[METRICS_MAX_SHARDS + 1];
    atomic_thread_fence(memory_order_seq_cst); /* unlink before the snapshot */
    int high = metrics__shard_high();
    for (int s = 1; s <= high; s++)
        snap[s] = atomic_load_explicit(&read_seq[s].seq, memory_order_acquire);
    for (int s = 1; s <= high; s++) {
        if (!(snap[s] & 1)) continue;
        while (atomic_load_explicit(&read_seq[s].seq, memory_order_acquire) == snap[s])
            sched_yield();
    }
}
