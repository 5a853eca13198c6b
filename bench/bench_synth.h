/* bench_synth: the synthetic corpus of make bench-scale, shared by its
 * programs: made-up words with Zipf frequencies, topics that favour their
 * own words, chunks of 150-250 words; a fixed seed, so every run and every
 * program sees the same text. */
#ifndef RAGD_BENCH_SYNTH_H
#define RAGD_BENCH_SYNTH_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#define VOCAB   30000
#define TOPICS  2000
#define TOPIC_W 150

static unsigned long long rng = 0x9e3779b97f4a7c15ULL;
static inline unsigned long long next_rand(void)
{
    rng ^= rng << 13; /* xorshift64: fixed seed, same corpus every run */
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static inline double unit_rand(void)
{
    return (double)(next_rand() >> 11) / 9007199254740992.0;
}

static char words[VOCAB][16];
static double zipf_cdf[VOCAB];
static unsigned topic_words[TOPICS][TOPIC_W];

static inline void make_vocabulary(void)
{
    static const char *const syl[] = {"ka",  "ro", "mi",  "ten", "sa", "lo",  "ver", "qui",
                                      "da",  "ne", "pol", "ux",  "ri", "sta", "mon", "el",
                                      "gra", "fi", "bu",  "cor", "an", "te",  "lux", "vo"};
    double sum = 0;
    for (unsigned i = 0; i < VOCAB; i++) {
        unsigned v = i, n = 2 + i % 3;
        words[i][0] = '\0';
        for (unsigned s = 0; s < n; s++) {
            strcat(words[i], syl[v % 24]);
            v = v / 24 + s * 7 + 1;
        }
        sum += 1.0 / pow(i + 1, 1.07);
        zipf_cdf[i] = sum;
    }
    for (unsigned i = 0; i < VOCAB; i++) zipf_cdf[i] /= sum;
    for (unsigned t = 0; t < TOPICS; t++)
        for (unsigned w = 0; w < TOPIC_W; w++)
            topic_words[t][w] = 200 + next_rand() % (VOCAB - 200);
}

static inline unsigned zipf_word(void)
{
    double u = unit_rand();
    unsigned lo = 0, hi = VOCAB - 1;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (zipf_cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* A chunk of a document on topic t: into buf (room for 4 KiB). */
static inline size_t make_chunk(unsigned t, char *buf)
{
    size_t n = 0, words_n = 150 + next_rand() % 100;
    for (size_t i = 0; i < words_n; i++) {
        unsigned w = unit_rand() < 0.45 ? topic_words[t][next_rand() % TOPIC_W] : zipf_word();
        n += (size_t)sprintf(buf + n, "%s%s", i ? " " : "", words[w]);
    }
    return n;
}

#endif
