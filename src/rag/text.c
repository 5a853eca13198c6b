#include "rag/text.h"
#include "util/text_scan.h"

#include <string.h>

uint32_t text_decode(const char *str, size_t n, size_t *len)
{
    const unsigned char *s = (const unsigned char *)str;
    unsigned c = s[0];
    if (c < 0x80 || n < 2) {
        *len = 1;
        return c;
    }
    if (c < 0xE0) {
        *len = 2;
        return ((c & 0x1Fu) << 6) | (s[1] & 0x3Fu);
    }
    if (c < 0xF0 || n < 4) {
        *len = n < 3 ? n : 3;
        return n < 3 ? 0xFFFD : ((c & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu);
    }
    *len = 4;
    return ((c & 0x07u) << 18) | ((s[1] & 0x3Fu) << 12) | ((s[2] & 0x3Fu) << 6) | (s[3] & 0x3Fu);
}

bool text_is_cjk(uint32_t cp)
{
    return (cp >= 0x3040 && cp <= 0x30FF) || /* Hiragana, Katakana */
           (cp >= 0x31F0 && cp <= 0x31FF) || /* Katakana extensions */
           (cp >= 0x3400 && cp <= 0x4DBF) || /* CJK extension A */
           (cp >= 0x4E00 && cp <= 0x9FFF) || /* CJK unified ideographs */
           (cp >= 0xF900 && cp <= 0xFAFF) || /* compatibility ideographs */
           (cp >= 0xFF66 && cp <= 0xFF9F) || /* half-width Katakana */
           (cp >= 0xAC00 && cp <= 0xD7AF) || /* Hangul syllables */
           (cp >= 0x1100 && cp <= 0x11FF) || /* Hangul Jamo */
           (cp >= 0x20000 && cp <= 0x2FA1F); /* CJK extensions B.. */
}

/* Letters and digits of spaced scripts: ASCII alnum, and any other code
 * point that is neither CJK nor a known space or punctuation block. */
static bool is_word_char(uint32_t cp)
{
    if (cp < 0x80)
        return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
    if (cp < 0xC0) return cp == 0xAA || cp == 0xB5 || cp == 0xBA; /* Latin-1 punctuation */
    if (cp == 0xD7 || cp == 0xF7) return false;                   /* x and division signs */
    if (cp >= 0x2000 && cp <= 0x2BFF) return false; /* punctuation, symbols, arrows, math */
    if (cp >= 0x3000 && cp <= 0x303F) return false; /* CJK punctuation */
    if (cp >= 0xFE30 && cp <= 0xFE4F) return false; /* CJK compatibility forms */
    if (cp >= 0xFF00 && cp <= 0xFF0F) return false; /* full-width punctuation */
    if (cp >= 0xFF1A && cp <= 0xFF20) return false;
    if (cp >= 0xFF3B && cp <= 0xFF40) return false;
    if (cp >= 0xFF5B && cp <= 0xFF65) return false;
    if (cp >= 0x1F000) return false; /* emoji and pictographs */
    return !text_is_cjk(cp);
}

/* ASCII letters and digits: the bytes of most text, classified without
 * decoding. */
static const bool ascii_word[128] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
    ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1,
    ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1,
    ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1,
    ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
    ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1,
    ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

void text_tokens(const char *s, size_t n, text_token_fn fn, void *ctx)
{
    size_t i = 0, word = SIZE_MAX;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) { /* is_word_char and text_is_cjk, for one byte */
            if (ascii_word[c]) {
                if (word == SIZE_MAX) word = i;
            } else if (word != SIZE_MAX) {
                if (!fn(ctx, s + word, i - word, TEXT_WORD)) return;
                word = SIZE_MAX;
            }
            i++;
            continue;
        }
        size_t len;
        uint32_t cp = text_decode(s + i, n - i, &len);
        if (is_word_char(cp)) {
            if (word == SIZE_MAX) word = i;
        } else {
            if (word != SIZE_MAX) {
                if (!fn(ctx, s + word, i - word, TEXT_WORD)) return;
                word = SIZE_MAX;
            }
            if (text_is_cjk(cp) && !fn(ctx, s + i, len, TEXT_CJK)) return;
        }
        i += len;
    }
    if (word != SIZE_MAX) fn(ctx, s + word, n - word, TEXT_WORD);
}

static bool count_one(void *ctx, const char *s, size_t n, text_kind_t kind)
{
    (*(size_t *)ctx)++;
    return true;
}

size_t text_count_tokens(const char *s, size_t n)
{
    size_t count = 0;
    text_tokens(s, n, count_one, &count);
    return count;
}

struct terms {
    buf_t *out;
    const char *prev_cjk; /* the previous CJK character, if adjacent */
    size_t prev_len;
    const char *run_end; /* where the previous CJK character ended */
    bool run_emitted;    /* the current run produced a bigram */
};

static void put_sep(buf_t *b)
{
    if (b->len) buf_putc(b, ' ');
}

/* A run of one CJK character is worth a term of its own. */
static void close_run(struct terms *t)
{
    if (t->prev_cjk && !t->run_emitted) {
        put_sep(t->out);
        buf_append(t->out, t->prev_cjk, t->prev_len);
    }
    t->prev_cjk = NULL;
    t->run_emitted = false;
}

/* Latin letters U+00C0..U+017F without their accent, lower case ('.': no
 * plain letter, see fold). */
static const char latin_base[] = "aaaaaa.ceeeeiiii.nooooo..uuuuy..aaaaaa.ceeeeiiii.nooooo..uuuuy.y"
                                 "aaaaaaccccccccddddeeeeeeeeeegggggggghhhhiiiiiiiiii..jjkk.lllllll"
                                 "lllnnnnnn...oooooo..rrrrrrssssssssttttttuuuuuuuuuuuuwwyyyzzzzzzs";

/* A word's code point as a keyword term has it: lower case, and Latin
 * letters without diacritics (so "Café", "CAFE" and "cafe" are one term,
 * as SQLite's unicode61 tokenizer made them), Greek and Cyrillic capitals
 * lowered. Other scripts are kept as they are. */
static uint32_t fold(uint32_t cp)
{
    if (cp >= 0xC0 && cp <= 0x17F) {
        char b = latin_base[cp - 0xC0];
        if (b != '.') return (uint32_t)b;
        if (cp == 0xC6 || cp == 0xD8 || cp == 0xDE) return cp + 0x20; /* Æ Ø Þ */
        if (cp == 0x132 || cp == 0x14A || cp == 0x152) return cp + 1; /* Ĳ Ŋ Œ */
        return cp;
    }
    if ((cp >= 0x391 && cp <= 0x3A9 && cp != 0x3A2) || (cp >= 0x410 && cp <= 0x42F))
        return cp + 0x20;
    if (cp >= 0x400 && cp <= 0x40F) return cp + 0x50;
    return cp;
}

static void put_utf8(buf_t *b, uint32_t cp)
{
    char u[4];
    size_t n = 0;
    if (cp < 0x80) {
        u[n++] = (char)cp;
    } else if (cp < 0x800) {
        u[n++] = (char)(0xC0 | cp >> 6);
        u[n++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        u[n++] = (char)(0xE0 | cp >> 12);
        u[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[n++] = (char)(0x80 | (cp & 0x3F));
    } else {
        u[n++] = (char)(0xF0 | cp >> 18);
        u[n++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[n++] = (char)(0x80 | (cp & 0x3F));
    }
    buf_append(b, u, n);
}

static bool term_one(void *ctx, const char *s, size_t n, text_kind_t kind)
{
    struct terms *t = ctx;
    if (kind == TEXT_WORD) {
        close_run(t);
        put_sep(t->out);
        size_t i = 0;
        if (buf_reserve(t->out, n) == 0) { /* the ASCII bytes first, without a check each */
            char *d = t->out->data + t->out->len;
            for (; i < n && (unsigned char)s[i] < 0x80; i++) d[i] = ascii_lower(s[i]);
            t->out->len += i;
            d[i] = '\0';
        }
        while (i < n) {
            if ((unsigned char)s[i] < 0x80) {
                buf_putc(t->out, ascii_lower(s[i++]));
                continue;
            }
            size_t len;
            uint32_t cp = text_decode(s + i, n - i, &len);
            if (cp == 0xFFFD) /* not UTF-8: the bytes as they are */
                buf_append(t->out, s + i, len);
            else
                put_utf8(t->out, fold(cp));
            i += len;
        }
        return true;
    }
    if (t->prev_cjk && t->run_end == s) { /* adjacent: a bigram */
        put_sep(t->out);
        buf_append(t->out, t->prev_cjk, t->prev_len);
        buf_append(t->out, s, n);
        t->run_emitted = true;
    } else {
        close_run(t);
    }
    t->prev_cjk = s;
    t->prev_len = n;
    t->run_end = s + n;
    return true;
}

void text_terms(const char *s, size_t n, buf_t *out)
{
    struct terms t = {.out = out};
    text_tokens(s, n, term_one, &t);
    close_run(&t);
}

/* The stop words by length, space-separated: the hash embedder asks for
 * every word of every chunk, so a word is packed into an integer (lower
 * case, at most 5 bytes) and compared with those of its length only. */
static const char *const stop_by_len[6] = {
    NULL,
    "a i",
    "an as at be by do in is it of on or to",
    "and are can for how the who why",
    "does from what when with",
    "where which",
};

static uint64_t stop_pack(const char *s, size_t n)
{
    uint64_t k = 0;
    for (size_t i = 0; i < n; i++) k |= (uint64_t)(unsigned char)ascii_lower(s[i]) << (8 * i);
    return k;
}

bool text_is_stop(const char *s, size_t n)
{
    if (n == 0 || n > 5) return false;
    uint64_t k = stop_pack(s, n);
    for (const char *w = stop_by_len[n]; *w; w += n + (w[n] == ' '))
        if (stop_pack(w, n) == k) return true;
    return false;
}
