/* gen: what every generator shares (see gen.h). */
#include "gen/gen.h"

#include <errno.h>
#include <string.h>

#include "util/clock.h"

int gen_generate(generator_t *g, const gen_request_t *req, const gen_sink_t *sink,
                 gen_result_t *out, char *err, size_t errlen)
{
    *out = (gen_result_t){.prompt_tokens = -1, .completion_tokens = -1, .first_token_s = -1};
    if (errlen) err[0] = '\0';
    double t0 = clock_now();
    int rc = g->generate(g, req, sink, out, err, errlen);
    out->duration_s = clock_now() - t0;
    if (rc && out->reason == GEN_OK) out->reason = rc == -ECANCELED ? GEN_CANCELLED : GEN_MALFORMED;
    return rc;
}

void gen_free(generator_t **g)
{
    if (!g || !*g) return;
    (*g)->destroy(*g);
    *g = NULL;
}

const char *gen_reason_name(gen_reason_t r)
{
    static const char *const names[GEN_REASON_COUNT] = {
        [GEN_OK] = "",
        [GEN_CONNECT] = "connect",
        [GEN_TIMEOUT] = "timeout",
        [GEN_FIRST_TOKEN_TIMEOUT] = "first_token_timeout",
        [GEN_RATE_LIMITED] = "rate_limited",
        [GEN_HTTP_4XX] = "http_4xx",
        [GEN_HTTP_5XX] = "http_5xx",
        [GEN_MALFORMED] = "malformed",
        [GEN_STREAM_CUT] = "stream_cut",
        [GEN_CANCELLED] = "cancelled",
    };
    return r < GEN_REASON_COUNT ? names[r] : "unknown";
}

const char *gen_role_name(gen_role_t r)
{
    return r == GEN_SYSTEM ? "system" : r == GEN_ASSISTANT ? "assistant" : "user";
}
