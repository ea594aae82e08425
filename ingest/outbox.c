/* The outbox of incident events: see outbox.h. An array of pointers in the order added, so
 * sorted by token: a settlement finds its entry by binary search (a flapping connector keeps
 * hundreds in flight, and a linear search per settlement showed in profiles). */
#include "outbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

/* Settlements may come inside send() (the file sink settles at once): the count starts this high
 * so that it cannot reach 0 before every sink has the event. */
#define GUARD (1 << 20)

static void entry_free(struct outbox_entry *e)
{
    if (e) {
        free(e->text);
        free(e->saved);
    }
    free(e);
}

static void remove_at(struct outbox *ob, size_t i)
{
    entry_free(ob->v[i]);
    memmove(&ob->v[i], &ob->v[i + 1], (ob->n - i - 1) * sizeof(ob->v[0]));
    ob->n--;
    ob->changed = true;
}

/* The index of token's entry, or ob->n when it has none. */
static size_t find(const struct outbox *ob, uint64_t token)
{
    size_t lo = 0, hi = ob->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ob->v[mid]->token < token)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < ob->n && ob->v[lo]->token == token ? lo : ob->n;
}

static struct lme_str keep(char **w, struct lme_str s)
{
    struct lme_str kept = { *w, s.len };
    if (s.len)
        memcpy(*w, s.ptr, s.len);
    *w += s.len;
    return kept;
}

struct outbox_entry *outbox_add(struct outbox *ob, const struct lme_event *ev)
{
    if (ob->n == ob->cap) {
        size_t cap = ob->cap ? 2 * ob->cap : 8;
        struct outbox_entry **v = realloc(ob->v, cap * sizeof(*v));
        if (!v)
            return NULL;
        ob->v = v;
        ob->cap = cap;
    }
    size_t len = ev->host.len + ev->component.len + ev->message.len + ev->diagnosis.len +
                 ev->incident.len;
    struct outbox_entry *e = calloc(1, sizeof(*e));
    if (!e || !(e->text = malloc(len ? len : 1))) {
        free(e);
        return NULL;
    }
    char *w = e->text;
    e->ev = *ev;
    e->ev.host = keep(&w, ev->host);
    e->ev.component = keep(&w, ev->component);
    e->ev.message = keep(&w, ev->message);
    e->ev.diagnosis = keep(&w, ev->diagnosis);
    e->ev.incident = keep(&w, ev->incident);
    memcpy(e->id, ev->given_id, 32);
    e->ev.given_id = e->id;
    snprintf(e->type, sizeof(e->type), "%s", ev->alert_type);
    e->ev.alert_type = e->type;
    e->token = OUTBOX_TOKEN | ++ob->seq;
    e->copies = GUARD;
    ob->v[ob->n++] = e;
    ob->changed = true;
    return e;
}

void outbox_sent(struct outbox *ob, struct outbox_entry *e, int copies)
{
    e->copies += copies - GUARD;
    if (e->copies > 0)
        return;
    size_t i = find(ob, e->token);
    if (i < ob->n)
        remove_at(ob, i);
}

bool outbox_settle(struct outbox *ob, uint64_t token)
{
    size_t i = find(ob, token);
    if (i == ob->n || --ob->v[i]->copies > 0)
        return false;
    remove_at(ob, i);
    return true;
}

/* ---- saved with the checkpoints ---- */

/* Log bytes (host, component, and the message that names them) as hex: the state file is JSON,
 * which takes only UTF-8. */
static int set_hex(json_t *o, const char *key, struct lme_str s, struct lme_buf *scratch)
{
    lme_buf_reset(scratch);
    return lme_buf_append_hex(scratch, s.ptr, s.len) ||
           json_object_set_new(o, key, json_stringn(scratch->data ? scratch->data : "", scratch->len));
}

static json_t *entry_json(const struct outbox_entry *e, struct lme_buf *scratch)
{
    const struct lme_event *ev = &e->ev;
    json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:i, s:s%, s:s%}", "id", e->id, "type", e->type,
                          "time", (json_int_t)ev->time_ms, "created", (json_int_t)ev->created_ms,
                          "severity", ev->severity,
                          "diagnosis", ev->diagnosis.ptr ? ev->diagnosis.ptr : "", ev->diagnosis.len,
                          "incident", ev->incident.ptr ? ev->incident.ptr : "", ev->incident.len);
    if (o && (set_hex(o, "host_hex", ev->host, scratch) ||
              set_hex(o, "component_hex", ev->component, scratch) ||
              set_hex(o, "message_hex", ev->message, scratch))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int outbox_save(struct outbox *ob, struct lme_buf *out)
{
    struct lme_buf scratch = LME_BUF_INIT;
    int rc = lme_buf_append(out, "[", 1);
    for (size_t i = 0; !rc && i < ob->n; i++) {
        struct outbox_entry *e = ob->v[i];
        if (!e->saved) {
            json_t *o = entry_json(e, &scratch);
            e->saved = o ? json_dumps(o, JSON_COMPACT) : NULL;
            json_decref(o);
        }
        rc = !e->saved || (i && lme_buf_append(out, ",", 1)) || lme_buf_append_str(out, e->saved);
    }
    lme_buf_free(&scratch);
    return rc || lme_buf_append(out, "]", 1) ? LME_ENOMEM : 0;
}

static struct lme_str str_of(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return (struct lme_str){ json_string_value(v), json_string_length(v) };
}

/* The hex member key's bytes, appended to raw; where they start and how many. */
static int unhex_of(json_t *obj, const char *key, struct lme_buf *raw, size_t *at, size_t *len)
{
    struct lme_str hex = str_of(obj, key);
    *at = raw->len;
    int rc = hex.ptr ? lme_buf_append_unhex(raw, hex.ptr, hex.len) : -1;
    *len = raw->len - *at;
    return rc;
}

/* Saved text an event carries as it is: a JSON object (or, where allowed, nothing). */
static bool object_text(struct lme_str s, bool may_be_empty)
{
    if (!s.ptr || s.len == 0)
        return s.ptr && may_be_empty;
    json_t *v = json_loadb(s.ptr, s.len, 0, NULL);
    bool ok = json_is_object(v);
    json_decref(v);
    return ok;
}

static bool known_type(const char *type)
{
    return type && (strcmp(type, "start") == 0 || strcmp(type, "change") == 0 ||
                    strcmp(type, "end") == 0);
}

int outbox_saved_event(json_t *entry, struct lme_buf *raw, struct lme_event *ev)
{
    struct lme_str id = str_of(entry, "id"), type = str_of(entry, "type");
    struct lme_str diagnosis = str_of(entry, "diagnosis"), incident = str_of(entry, "incident");
    size_t at[3], len[3];
    if (lme_buf_reserve(raw, 1) != 0) /* raw->data is never NULL below */
        return LME_ENOMEM;
    if (id.len != 32 || strspn(id.ptr, "0123456789abcdef") != 32 || !known_type(type.ptr) ||
        !object_text(diagnosis, true) || !object_text(incident, false))
        return -1;
    int rc = unhex_of(entry, "host_hex", raw, &at[0], &len[0]);
    if (!rc)
        rc = unhex_of(entry, "component_hex", raw, &at[1], &len[1]);
    if (!rc)
        rc = unhex_of(entry, "message_hex", raw, &at[2], &len[2]);
    if (rc)
        return rc;
    *ev = (struct lme_event){ .host = { raw->data + at[0], len[0] },
                              .component = { raw->data + at[1], len[1] },
                              .message = { raw->data + at[2], len[2] },
                              .diagnosis = diagnosis, .incident = incident, .given_id = id.ptr,
                              .alert_type = type.ptr, .flags = LME_EV_INCIDENT, .thread_id = -1,
                              .origin_line = -1 };
    ev->time_ms = json_integer_value(json_object_get(entry, "time"));
    ev->created_ms = json_integer_value(json_object_get(entry, "created"));
    ev->severity = (int)json_integer_value(json_object_get(entry, "severity"));
    return 0;
}

void outbox_free(struct outbox *ob)
{
    for (size_t i = 0; i < ob->n; i++)
        entry_free(ob->v[i]);
    free(ob->v);
    *ob = (struct outbox){ 0 };
}
