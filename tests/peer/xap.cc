/* xap: the C face on Xapian (see xap.h). Every Xapian call is inside a
 * try: exceptions become return codes here and nowhere else. */
#include "xap.h"

#include <xapian.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#define WATERMARK_KEY "ragd_watermark"
#define RETRIES       100 /* a reader overtaken by two commits starts again */

struct xap_writer {
    Xapian::WritableDatabase db;
    int64_t watermark;
};

struct xap_reader {
    Xapian::Database db;
};

namespace
{

/* bm25 with FTS5's parameters (k1 1.2, b 0.75), no query-term frequency
 * factor (k2 0, k3 1), and no floor on a document's length (Xapian's
 * default counts one under half the mean as half the mean): on ragd's
 * evaluation set this ranks as FTS5 did (keyword MRR@10 0.629 both), where
 * the floor scored 0.588. */
Xapian::BM25Weight bm25()
{
    return Xapian::BM25Weight(1.2, 0, 1, 0.75, 0);
}

int fail(const char *what, const Xapian::Error &e, char *err, size_t errlen)
{
    if (err) snprintf(err, errlen, "%s: %s", what, e.get_description().c_str());
    return -EIO;
}

/* Runs f (returning 0 or a count), turning exceptions into codes. */
template <typename F> long guarded(const char *what, char *err, size_t errlen, F f)
{
    try {
        return f();
    } catch (const Xapian::Error &e) {
        return fail(what, e, err, errlen);
    } catch (const std::bad_alloc &) {
        return -ENOMEM;
    }
}

/* The same for a read, which a writer committing twice meanwhile can
 * overtake (Xapian discards the revision it reads): the reader moves to
 * the latest commit and reads again. */
template <typename F> long reading(Xapian::Database &db, F f)
{
    for (int attempt = 0;; attempt++) {
        try {
            return f();
        } catch (const Xapian::DatabaseModifiedError &) {
            if (attempt == RETRIES) return -EIO;
            try {
                db.reopen();
            } catch (const Xapian::DatabaseModifiedError &) {
                /* overtaken again: the next attempt reopens again */
            } catch (const Xapian::Error &) {
                return -EIO;
            } catch (const std::bad_alloc &) {
                return -ENOMEM;
            }
        } catch (const Xapian::Error &) {
            return -EIO;
        } catch (const std::bad_alloc &) {
            return -ENOMEM;
        }
    }
}

class Allow : public Xapian::MatchDecider
{
  public:
    Allow(bool (*fn)(void *, int64_t), void *ctx) : fn_(fn), ctx_(ctx) {}
    bool operator()(const Xapian::Document &doc) const override
    {
        return fn_(ctx_, (int64_t)doc.get_docid());
    }

  private:
    bool (*fn_)(void *, int64_t);
    void *ctx_;
};

} // namespace

extern "C" {

int xap_writer_open(xap_writer_t **out, const char *path, char *err, size_t errlen)
{
    *out = NULL;
    return (int)guarded(path, err, errlen, [&] {
        xap_writer_t *w = new xap_writer_t{
            Xapian::WritableDatabase(path, Xapian::DB_CREATE_OR_OPEN | Xapian::DB_NO_SYNC), 0};
        std::string v = w->db.get_metadata(WATERMARK_KEY);
        w->watermark = v.empty() ? 0 : strtoll(v.c_str(), NULL, 10);
        *out = w;
        return 0L;
    });
}

void xap_writer_free(xap_writer_t **wp)
{
    xap_writer_t *w = wp ? *wp : NULL;
    if (!w) return;
    try {
        w->db.close();
    } catch (...) { /* closing is best effort: the store rebuilds what is lost */
    }
    delete w;
    *wp = NULL;
}

int xap_writer_put(xap_writer_t *w, int64_t id, const char *terms, size_t len)
{
    if (id < 1 || id > XAP_MAX_ID) return -ERANGE;
    return (int)guarded("indexing a chunk", NULL, 0, [&] {
        Xapian::Document doc;
        for (size_t i = 0; i < len;) {
            size_t j = i;
            while (j < len && terms[j] != ' ') j++;
            /* Xapian refuses terms over 245 bytes; such a "word" is noise */
            if (j > i && j - i <= 245) doc.add_term(std::string(terms + i, j - i));
            i = j + 1;
        }
        w->db.replace_document((Xapian::docid)id, doc);
        return 0L;
    });
}

int xap_writer_commit(xap_writer_t *w, int64_t watermark)
{
    return (int)guarded("committing the keyword index", NULL, 0, [&] {
        if (watermark != w->watermark)
            w->db.set_metadata(WATERMARK_KEY, std::to_string((long long)watermark));
        w->db.commit();
        w->watermark = watermark;
        return 0L;
    });
}

int xap_reader_open(xap_reader_t **out, const char *path)
{
    *out = NULL;
    return (int)guarded(path, NULL, 0, [&] {
        *out = new xap_reader_t{Xapian::Database(path)};
        return 0L;
    });
}

void xap_reader_free(xap_reader_t **rp)
{
    if (!rp || !*rp) return;
    delete *rp;
    *rp = NULL;
}

long xap_search(xap_reader_t *r, const char *const *terms, size_t n, size_t k,
                bool (*allow)(void *ctx, int64_t id), void *ctx, int64_t *ids, float *scores)
{
    if (n == 0 || k == 0) return 0;
    return reading(r->db, [&] {
        std::vector<std::string> qt(terms, terms + n);
        Xapian::Enquire enq(r->db);
        enq.set_weighting_scheme(bm25());
        enq.set_query(Xapian::Query(Xapian::Query::OP_OR, qt.begin(), qt.end()));
        Allow decider(allow, ctx);
        Xapian::MSet m = enq.get_mset(0, (Xapian::doccount)k, 0, NULL, allow ? &decider : NULL);
        long got = 0;
        for (Xapian::MSetIterator it = m.begin(); it != m.end() && (size_t)got < k; ++it) {
            ids[got] = (int64_t)*it;
            scores[got++] = (float)it.get_weight();
        }
        return got;
    });
}

int xap_term_dfs(xap_reader_t *r, const char *const *terms, size_t n, int64_t *dfs)
{
    return (int)reading(r->db, [&] {
        for (size_t i = 0; i < n; i++) dfs[i] = (int64_t)r->db.get_termfreq(terms[i]);
        return 0L;
    });
}

} // extern "C"
