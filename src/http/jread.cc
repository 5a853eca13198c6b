/* jread: simdjson's DOM walked into jansson's values (see jread.h). */
#include "http/jread.h"

#include <simdjson.h>

#include <cstring>
#include <new>

namespace
{

using simdjson::dom::element;
using simdjson::dom::element_type;

bool has_nul(std::string_view s)
{
    return std::memchr(s.data(), 0, s.size()) != nullptr;
}

/* e as jansson's value; NULL when json_loadb would refuse it (or no
 * memory): the caller then asks json_loadb. */
json_t *convert(element e)
{
    switch (e.type()) {
    case element_type::OBJECT: {
        json_t *o = json_object();
        simdjson::dom::object fields = e.get_object().value_unsafe(); /* named: iterated below */
        for (auto field : fields) {
            std::string_view k = field.key;
            json_t *v = nullptr;
            if (!o || has_nul(k) || json_object_getn(o, k.data(), k.size()) ||
                !(v = convert(field.value)) ||
                json_object_setn_new_nocheck(o, k.data(), k.size(), v) != 0) {
                json_decref(o); /* setn_new_nocheck took v, even when it failed */
                return nullptr;
            }
        }
        return o;
    }
    case element_type::ARRAY: {
        json_t *a = json_array();
        simdjson::dom::array items = e.get_array().value_unsafe();
        for (element x : items) {
            json_t *v = a ? convert(x) : nullptr;
            if (!v || json_array_append_new(a, v) != 0) {
                json_decref(a);
                return nullptr;
            }
        }
        return a;
    }
    case element_type::STRING: {
        std::string_view s = e.get_string().value_unsafe();
        return has_nul(s) ? nullptr : json_stringn_nocheck(s.data(), s.size());
    }
    case element_type::INT64:
        return json_integer(e.get_int64().value_unsafe());
    case element_type::UINT64: /* above INT64_MAX: jansson's "too big integer" */
        return nullptr;
    case element_type::DOUBLE:
        return json_real(e.get_double().value_unsafe());
    case element_type::BOOL:
        return json_boolean(e.get_bool().value_unsafe());
    case element_type::NULL_VALUE:
        return json_null();
    }
    return nullptr;
}

json_t *fast(const char *buf, size_t len)
{
    thread_local simdjson::dom::parser kept;
    simdjson::dom::parser once;
    simdjson::dom::parser &p = len <= JREAD_KEEP ? kept : once;
    element e;
    /* realloc_if_needed: parse copies buf into a padded buffer of its own */
    if (p.parse(buf, len, true).get(e) != simdjson::SUCCESS) return nullptr;
    if (!e.is_object() && !e.is_array()) return nullptr; /* json_loadb wants one or the other */
    return convert(e);
}

} // namespace

extern "C" json_t *jread(const char *buf, size_t len, json_error_t *e)
{
    json_t *j = nullptr;
    try {
        j = fast(buf, len);
    } catch (const std::bad_alloc &) {
        j = nullptr; /* json_loadb then says, or runs out of memory itself */
    }
    return j ? j : json_loadb(buf, len, JSON_REJECT_DUPLICATES, e);
}
