/* jread against json_loadb: the same value, or both refuse with the same
 * message (jread.h: json_loadb decides whatever simdjson cannot). */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http/jread.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t ea, eb;
    json_t *a = jread((const char *)data, size, &ea);
    json_t *b = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &eb);
    if (!a != !b) abort();
    if (a && !json_equal(a, b)) abort();
    if (!a && strcmp(ea.text, eb.text)) abort();
    json_decref(a);
    json_decref(b);
    return 0;
}
