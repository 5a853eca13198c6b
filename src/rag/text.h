/* text: the one tokenizer shared by the chunker (token counts), the hash
 * embedder (features) and keyword search (terms), so that all three
 * agree on what a word is.
 *
 * Tokens: a word is a maximal run of letters and digits in scripts that
 * separate words with spaces; in scripts that do not (Han, Hiragana,
 * Katakana, Hangul), each character is a token. Everything else separates.
 * Input must be valid UTF-8 (callers validate first). */
#ifndef RAGD_TEXT_H
#define RAGD_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

typedef enum text_kind { TEXT_WORD, TEXT_CJK } text_kind_t;

/* Called for each token: bytes s[0..n) of the input. Return false to stop. */
typedef bool (*text_token_fn)(void *ctx, const char *s, size_t n, text_kind_t kind);

/* Walks the tokens of s[0..n). */
void text_tokens(const char *s, size_t n, text_token_fn fn, void *ctx);
/* Number of tokens in s[0..n). */
size_t text_count_tokens(const char *s, size_t n);
/* Appends the search terms of s[0..n) to out, space-separated: words in
 * lower case, Latin letters without diacritics ("Café" -> "cafe"; Greek
 * and Cyrillic capitals lowered too), and for each run of CJK characters
 * its overlapping
 * bigrams (a run of one gives the character). Used for both indexing and
 * querying, so a two-character Japanese word matches. */
void text_terms(const char *s, size_t n, buf_t *out);

/* True when the word s[0..n) (ASCII case ignored) is one of English's
 * commonest function words ("the", "of", "how"...): the hash embedder and
 * the extractive generator weigh them down, keyword search leaves them to
 * bm25's idf. */
bool text_is_stop(const char *s, size_t n);

/* Decodes one code point at s (valid UTF-8, n > 0); sets *len. */
uint32_t text_decode(const char *s, size_t n, size_t *len);
/* True for code points of scripts written without spaces. */
bool text_is_cjk(uint32_t cp);

#endif
