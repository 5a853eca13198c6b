/* hnsw: the C face on hnswlib (see hnsw.h). The only C++ file of ragd:
 * hnswlib is a header-only C++ library, so this file instantiates it and
 * turns every exception into a return code. */
#include "rag/hnsw.h"

#include <hnswlib/hnswlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <new>
#include <pthread.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

extern "C" {
#include "util/dot.h"
#include "util/file.h"
}

#define HNSW_FIRST_CAPACITY 1024

namespace
{

/* Cosine distance on normalised rows: 1 - dot. */
class dot_space : public hnswlib::SpaceInterface<float>
{
  public:
    explicit dot_space(size_t dim) : dim_(dim) {}
    size_t get_data_size() override
    {
        return dim_ * sizeof(float);
    }
    hnswlib::DISTFUNC<float> get_dist_func() override
    {
        return distance;
    }
    void *get_dist_func_param() override
    {
        return &dim_;
    }

  private:
    static float distance(const void *a, const void *b, const void *dim)
    {
        return 1.0f - dot_f32(static_cast<const float *>(a), static_cast<const float *>(b),
                              static_cast<unsigned>(*static_cast<const size_t *>(dim)));
    }
    size_t dim_;
};

typedef hnswlib::HierarchicalNSW<float> graph_t;

} // namespace

struct hnsw {
    explicit hnsw(unsigned d) : space(d), dim(d) {}
    dot_space space;
    graph_t *g = nullptr;
    unsigned dim;
};

/* libstdc++'s std::mutex never calls pthread_mutex_destroy, so when
 * hnswlib frees its mutexes (growing the graph, or freeing it),
 * ThreadSanitizer keeps their lock-order history and pins it on whatever
 * mutex later reuses the address: false deadlock reports. Telling it they
 * are gone costs nothing elsewhere (destroying an unlocked default mutex
 * does nothing). all: the graph's other mutexes too, as it goes. */
#if defined(__SANITIZE_THREAD__)
/* VisitedListPool keeps its mutex private; under ThreadSanitizer only, it
 * is reached through a struct of the same layout (hnswlib 0.6.2). */
struct pool_layout {
    std::deque<hnswlib::VisitedList *> pool;
    std::mutex poolguard;
    int numelements;
};
static_assert(sizeof(pool_layout) == sizeof(hnswlib::VisitedListPool), "hnswlib's pool layout");
#endif

/* hnswlib 0.6.2's addPoint reads the entry point without the lock that
 * guards it (hnswalg.h: "tableint currObj = enterpoint_node_" after
 * dropping `global`), while a row raising the top level writes it, under
 * that lock, once the row is linked on every level. Two build threads
 * adding at once (as hnswlib's own Python binding builds) thus race on 4
 * aligned bytes: the reader starts from the old entry point or the new
 * one, each a linked row present at every level it descends from, and
 * reads any row's links under that row's lock. Told to ThreadSanitizer for
 * that field alone (a suppression by function would hide every race in
 * addPoint). */
#if defined(__SANITIZE_THREAD__)
extern "C" void AnnotateBenignRaceSized(const char *file, int line, const volatile void *mem,
                                        unsigned long size, const char *description);
static void benign_races(graph_t *g)
{
    AnnotateBenignRaceSized(__FILE__, __LINE__, &g->enterpoint_node_, sizeof g->enterpoint_node_,
                            "hnswlib's entry point, read without its lock by addPoint");
}
#else
static void benign_races(graph_t *) {}
#endif

static void forget_locks(graph_t *g, bool all)
{
    for (auto &m : g->link_list_locks_) pthread_mutex_destroy(m.native_handle());
#if defined(__SANITIZE_THREAD__)
    if (g->visited_list_pool_)
        pthread_mutex_destroy(
            reinterpret_cast<pool_layout *>(g->visited_list_pool_)->poolguard.native_handle());
#endif
    if (!all) return;
    for (auto &m : g->link_list_update_locks_) pthread_mutex_destroy(m.native_handle());
    pthread_mutex_destroy(g->global.native_handle());
    pthread_mutex_destroy(g->cur_element_count_guard_.native_handle());
}

extern "C" int hnsw_new(hnsw_t **out, unsigned dim, unsigned m, unsigned ef_construction)
{
    *out = nullptr;
    if (dim == 0 || m < 2 || m > HNSW_MAX_M || ef_construction == 0) return -EINVAL;
    hnsw_t *h = new (std::nothrow) hnsw(dim);
    if (!h) return -ENOMEM;
    try {
        h->g = new graph_t(&h->space, HNSW_FIRST_CAPACITY, m, ef_construction);
        h->g->setEf(1); /* each search passes its own ef as k (see hnsw_search) */
        benign_races(h->g);
    } catch (...) {
        delete h;
        return -ENOMEM;
    }
    *out = h;
    return 0;
}

/* The size hnswlib's loadIndex insists on, from the header it wrote. */
static bool file_size_ok(const char *path, size_t expect)
{
    struct stat st;
    return stat(path, &st) == 0 && (size_t)st.st_size == expect;
}

static size_t saved_size(const graph_t *g)
{
    size_t n = 5 * sizeof(size_t) + sizeof(size_t) /* offsetData_ */ + sizeof(int) +
               sizeof(hnswlib::tableint) + 3 * sizeof(size_t) + sizeof(double) + sizeof(size_t);
    n += g->cur_element_count * g->size_data_per_element_;
    for (size_t i = 0; i < g->cur_element_count; i++) {
        n += sizeof(unsigned);
        if (g->element_levels_[i] > 0) n += g->size_links_per_element_ * g->element_levels_[i];
    }
    return n;
}

extern "C" int hnsw_load(hnsw_t **out, const char *path, unsigned dim, char *err, size_t errlen)
{
    *out = nullptr;
    if (access(path, F_OK) != 0) return -ENOENT;
    hnsw_t *h = new (std::nothrow) hnsw(dim);
    if (!h) return -ENOMEM;
    /* Not hnswlib's loading constructor: in 0.6.2 it leaves the deleted
     * count uninitialised, and a failed load would free pointers it never
     * set. The empty graph gets those set first. */
    graph_t *g = new (std::nothrow) graph_t(&h->space);
    if (!g) {
        delete h;
        return -ENOMEM;
    }
    g->num_deleted_ = 0;
    g->cur_element_count = 0;
    g->data_level0_memory_ = nullptr;
    g->linkLists_ = nullptr;
    g->visited_list_pool_ = nullptr;
    g->metric_distance_computations = 0;
    g->metric_hops = 0;
    int rc = 0;
    try {
        g->loadIndex(std::string(path), &h->space);
    } catch (const std::bad_alloc &) {
        rc = -ENOMEM;
    } catch (const std::exception &e) {
        snprintf(err, errlen, "%s: %s", path, e.what());
        rc = -EINVAL;
    }
    if (rc) {
        if (rc == -ENOMEM) snprintf(err, errlen, "%s: out of memory", path);
        g->cur_element_count = 0; /* what was read is freed by the two pointers */
        delete g;
        delete h;
        return rc;
    }
    h->g = g;
    benign_races(g);
    /* The rows' size is the one thing hnswlib does not check against the
     * space: a graph of another dimension would read past each row. */
    if (h->g->size_data_per_element_ !=
            h->g->size_links_level0_ + dim * sizeof(float) + sizeof(hnswlib::labeltype) ||
        h->g->M_ < 2 || h->g->M_ > HNSW_MAX_M) {
        snprintf(err, errlen, "%s: a graph for another dimension or damaged", path);
        hnsw_free(&h);
        return -EINVAL;
    }
    h->g->setEf(1);
    *out = h;
    return 0;
}

extern "C" int hnsw_save(hnsw_t *h, const char *path, char *err, size_t errlen)
{
    std::string tmp = std::string(path) + ".tmp";
    try {
        h->g->saveIndex(tmp); /* an ofstream: it reports no error, hence the size check */
    } catch (const std::exception &e) {
        snprintf(err, errlen, "%s: %s", tmp.c_str(), e.what());
        unlink(tmp.c_str());
        return -EIO;
    }
    int rc = 0;
    int fd = open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || !file_size_ok(tmp.c_str(), saved_size(h->g)))
        rc = -ENOSPC; /* a short file: the disk filled up */
    else if (fsync(fd) != 0)
        rc = -errno;
    if (fd >= 0) close(fd);
    if (rc == 0 && rename(tmp.c_str(), path) != 0) rc = -errno;
    if (rc) {
        snprintf(err, errlen, "writing %s: %s", tmp.c_str(), strerror(-rc));
        unlink(tmp.c_str());
        return rc;
    }
    /* the rename itself survives a crash once the directory is synced */
    file_sync_dir_of(path);
    return 0;
}

extern "C" void hnsw_free(hnsw_t **hp)
{
    hnsw_t *h = hp ? *hp : nullptr;
    if (!h) return;
    if (h->g) forget_locks(h->g, true);
    delete h->g;
    delete h;
    *hp = nullptr;
}

/* Runs f, the exceptions it throws made codes: -ENOMEM for an allocation,
 * -EIO for anything else; 0 when it returned. */
template <class F> static int no_throw(F f)
{
    try {
        f();
    } catch (const std::bad_alloc &) {
        return -ENOMEM;
    } catch (...) {
        return -EIO;
    }
    return 0;
}

extern "C" int hnsw_reserve(hnsw_t *h, const int64_t *ids, size_t n)
{
    graph_t *g = h->g;
    for (size_t i = 0; i < n; i++)
        if (g->label_lookup_.count((hnswlib::labeltype)ids[i])) return -EEXIST;
    if (g->cur_element_count + n <= g->max_elements_) return 0;
    size_t want = g->max_elements_ * 2;
    if (want < g->cur_element_count + n) want = g->cur_element_count + n;
    return no_throw([&] {
        forget_locks(g, false);
        g->resizeIndex(want);
    });
}

extern "C" int hnsw_add_reserved(hnsw_t *h, int64_t id, const float *vec)
{
    return no_throw([&] { h->g->addPoint(vec, (hnswlib::labeltype)id); });
}

extern "C" int hnsw_add(hnsw_t *h, int64_t id, const float *vec)
{
    int rc = hnsw_reserve(h, &id, 1);
    return rc ? rc : hnsw_add_reserved(h, id, vec);
}

extern "C" int hnsw_delete(hnsw_t *h, int64_t id)
{
    auto it = h->g->label_lookup_.find((hnswlib::labeltype)id);
    if (it == h->g->label_lookup_.end() || h->g->isMarkedDeleted(it->second)) return -ENOENT;
    h->g->markDeletedInternal(it->second);
    return 0;
}

extern "C" long hnsw_search(const hnsw_t *h, const float *q, size_t k, size_t ef, hnsw_hit_t *out)
{
    if (k == 0) return 0;
    try {
        /* hnswlib explores max(ef_, k) candidates; ef_ stays 1 (a member,
         * shared by concurrent searches), so asking for ef rows is how a
         * search sets its own ef. It returns the worst first. */
        auto pq = h->g->searchKnn(q, ef > k ? ef : k);
        while (pq.size() > k) pq.pop();
        long n = (long)pq.size();
        for (long i = n - 1; i >= 0; i--) {
            out[i] = hnsw_hit_t{(int64_t)pq.top().second, 1.0f - pq.top().first};
            pq.pop();
        }
        return n;
    } catch (...) {
        return -ENOMEM;
    }
}

extern "C" const float *hnsw_vector(const hnsw_t *h, int64_t id)
{
    auto it = h->g->label_lookup_.find((hnswlib::labeltype)id);
    if (it == h->g->label_lookup_.end() || h->g->isMarkedDeleted(it->second)) return nullptr;
    return reinterpret_cast<const float *>(h->g->getDataByInternalId(it->second));
}

extern "C" size_t hnsw_slots(const hnsw_t *h)
{
    return h->g->cur_element_count;
}

extern "C" bool hnsw_row(const hnsw_t *h, size_t i, int64_t *id, const float **vec)
{
    if (h->g->isMarkedDeleted((hnswlib::tableint)i)) return false;
    *id = (int64_t)h->g->getExternalLabel((hnswlib::tableint)i);
    *vec = reinterpret_cast<const float *>(h->g->getDataByInternalId((hnswlib::tableint)i));
    return true;
}

extern "C" size_t hnsw_live(const hnsw_t *h)
{
    return h->g->cur_element_count - h->g->num_deleted_;
}

extern "C" size_t hnsw_deleted(const hnsw_t *h)
{
    return h->g->num_deleted_;
}

extern "C" size_t hnsw_memory(const hnsw_t *h)
{
    const graph_t *g = h->g;
    size_t n = g->max_elements_ *
               (g->size_data_per_element_ + sizeof(void *) + sizeof(int) + sizeof(std::mutex));
    for (size_t i = 0; i < g->cur_element_count; i++)
        if (g->element_levels_[i] > 0) n += g->size_links_per_element_ * g->element_levels_[i];
    /* an unordered_map node (key, value, next) and its bucket pointer */
    n += g->label_lookup_.size() * (sizeof(void *) * 2 + 16) +
         g->label_lookup_.bucket_count() * sizeof(void *);
    return n;
}

extern "C" unsigned hnsw_m(const hnsw_t *h)
{
    return (unsigned)h->g->M_;
}

extern "C" unsigned hnsw_ef_construction(const hnsw_t *h)
{
    return (unsigned)h->g->ef_construction_;
}
