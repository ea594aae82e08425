/* Log context: see context.h. A small table of rings, one per host and component; only records
 * whose code is one of a handful are copied, so most events cost a five-byte comparison. */
#include "context.h"

#include <stdlib.h>
#include <string.h>

#include "hash.h"

#define MAX_KEYS 256 /* hosts x components a daemon sees; beyond it the oldest key is reused */

struct ring {
    uint64_t key; /* hash of host and component; 0: unused */
    struct context_record *v;
    int next, n;
    uint64_t last_use;
};

struct context {
    int max_records, max_age_ms;
    struct ring rings[MAX_KEYS];
    uint64_t uses;
};

struct context *context_create(int max_records, int max_age_ms, struct lme_err *err)
{
    struct context *c = calloc(1, sizeof(*c));
    if (!c) {
        lme_err_set(err, LME_ENOMEM, "context: out of memory");
        return NULL;
    }
    c->max_records = max_records > 0 ? max_records : 1;
    c->max_age_ms = max_age_ms;
    return c;
}

void context_destroy(struct context *c)
{
    if (!c)
        return;
    for (int i = 0; i < MAX_KEYS; i++)
        free(c->rings[i].v);
    free(c);
}

static bool code_is(const struct lme_event *ev, const char *code)
{
    return ev->code.len == 5 && memcmp(ev->code.ptr, code, 5) == 0;
}

static bool worth_keeping(const struct lme_event *ev)
{
    return code_is(ev, "01211") || code_is(ev, "00510") || code_is(ev, "00505") ||
           code_is(ev, "64210");
}

static uint64_t key_of(const struct lme_event *ev)
{
    uint64_t h = lme_hash64(ev->host.ptr, ev->host.len, 0x636f6e74657874ULL);
    h = lme_hash64(ev->component.ptr, ev->component.len, h);
    return h ? h : 1;
}

/* The ring of key, taking a free one or the least recently used when create is set. */
static struct ring *find_ring(struct context *c, uint64_t key, bool create)
{
    struct ring *lru = &c->rings[0];
    for (int i = 0; i < MAX_KEYS; i++) {
        struct ring *r = &c->rings[i];
        if (r->key == key)
            return r;
        if (r->last_use < lru->last_use)
            lru = r;
    }
    if (!create)
        return NULL;
    lru->key = key;
    lru->n = lru->next = 0;
    return lru;
}

static void copy_slice(char *dst, size_t size, struct lme_str s)
{
    size_t n = s.len < size - 1 ? s.len : size - 1;
    memcpy(dst, s.ptr ? s.ptr : "", n);
    dst[n] = '\0';
}

int context_observe(struct context *c, const struct lme_event *ev)
{
    if (!worth_keeping(ev))
        return 0;
    struct ring *r = find_ring(c, key_of(ev), true);
    if (!r->v && !(r->v = calloc((size_t)c->max_records, sizeof(*r->v)))) {
        r->key = 0;
        return LME_ENOMEM;
    }
    r->last_use = ++c->uses;
    struct context_record *rec = &r->v[r->next];
    copy_slice(rec->code, sizeof(rec->code), ev->code);
    copy_slice(rec->status, sizeof(rec->status), ev->error_type);
    copy_slice(rec->text, sizeof(rec->text), ev->message);
    rec->time_ms = ev->time_ms;
    r->next = (r->next + 1) % c->max_records;
    if (r->n < c->max_records)
        r->n++;
    return 0;
}

static bool says(const struct context_record *rec, const char *words)
{
    return strstr(rec->status, words) || strstr(rec->text, words);
}

/* The server a 64210 names: "Unable to connect to to the Notes Server NAME." */
static void server_of(const struct context_record *rec, char *out, size_t size)
{
    const char *s = strstr(rec->text, "Notes Server ");
    if (!s)
        return;
    s += strlen("Notes Server ");
    size_t n = strcspn(s, " \r\n");
    while (n > 0 && s[n - 1] == '.')
        n--;
    if (n >= size)
        n = size - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

static void read_signal(const struct context_record *rec, struct context_signals *out)
{
    bool counts = false;
    if (strcmp(rec->code, "01211") == 0 || says(rec, "Timeout on resource lock"))
        counts = out->lock_timeout = true;
    if ((strcmp(rec->code, "00510") == 0 || strcmp(rec->code, "00505") == 0) && says(rec, "Not found"))
        counts = out->mailbox_not_found = true;
    if (says(rec, "Mail system failure"))
        counts = out->mail_system_failure = true;
    if (strcmp(rec->code, "64210") == 0) {
        counts = out->connect_failure = true;
        server_of(rec, out->server, sizeof(out->server));
    }
    if (counts && out->n_seen < (int)(sizeof(out->seen) / sizeof(out->seen[0])))
        out->seen[out->n_seen++] = *rec;
}

void context_signals(struct context *c, const struct lme_event *ev, struct context_signals *out)
{
    memset(out, 0, sizeof(*out));
    struct ring *r = find_ring(c, key_of(ev), false);
    if (!r)
        return;
    for (int i = 0; i < r->n; i++) { /* oldest first */
        const struct context_record *rec = &r->v[(r->next - r->n + i + c->max_records) % c->max_records];
        if (rec->time_ms > ev->time_ms || ev->time_ms - rec->time_ms > c->max_age_ms)
            continue;
        read_signal(rec, out);
    }
}
