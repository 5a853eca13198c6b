/* embed: the embedder interface and its backends.
 *
 * hash (default, offline): deterministic feature hashing into dim
 *   dimensions of word unigrams, character trigrams of words, and CJK
 *   unigrams and bigrams (rag/text's tokens), each in two slots signed by
 *   a hash bit, common English function words weighed down, then
 *   L2-normalised. Lexical similarity, good enough for tests and small
 *   corpora, and free. Recorded as "hash-2"; a store of the first version
 *   ("hash") is embedded again at start-up (rag_open).
 * openai: any OpenAI-compatible POST /v1/embeddings server (embed_openai.c).
 * Vectors are float32, L2-normalised by the embedder or after it, so cosine
 * similarity is a dot product. */
#ifndef RAGD_EMBED_H
#define RAGD_EMBED_H

#include <stddef.h>

#define EMBED_DEFAULT_DIM 384
#define EMBED_MAX_DIM     8192

typedef struct embedder embedder_t;

struct embedder {
    char name[128]; /* "hash-2" or "openai:<model>": recorded in the store */
    unsigned dim;
    /* An earlier embedder whose stores this one may embed again from their
     * texts, locally and cheaply (the hash embedder's first version); NULL
     * for none (a remote model: a new data directory instead). */
    const char *replaces;
    /* Fills out[i * dim ..] for texts[0..n). 0, or a negative code with a
     * message in err (-EIO: backend unreachable or failing). */
    int (*embed)(embedder_t *e, const char *const *texts, const size_t *lens, size_t n, float *out,
                 char *err, size_t errlen);
    void (*destroy)(embedder_t *e);
};

/* The hash embedder. 0, -EINVAL (dim out of 16..EMBED_MAX_DIM), -ENOMEM. */
int embed_hash_new(embedder_t **out, unsigned dim);
typedef struct embed_openai_opts {
    const char *url; /* base URL (…/v1/embeddings is added) or the full endpoint */
    const char *model;
    const char *api_key; /* NULL or "": no Authorization header */
    unsigned dim;        /* the model's dimension: answers of another size are refused */
    double timeout_s;    /* per request */
    unsigned retries;    /* after the first try, on 429, 5xx and transport errors */
} embed_openai_opts_t;

/* The openai embedder. 0, -EINVAL (missing url/model, bad dim), -ENOMEM. */
int embed_openai_new(embedder_t **out, const embed_openai_opts_t *opts);
/* Embeds and L2-normalises. */
int embed_texts(embedder_t *e, const char *const *texts, const size_t *lens, size_t n, float *out,
                char *err, size_t errlen);
void embed_free(embedder_t **e);
/* Scales v[0..dim) to unit length (a zero vector stays zero). */
void embed_normalize(float *v, unsigned dim);

#endif
