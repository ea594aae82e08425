/* The parser stage: a record reader (record.c) feeding the browse-log grammar (browse_log.c),
 * with the source's fields (path, host, zone, identity) added to every event. */
#include "parser.h"

#include <stdlib.h>
#include <string.h>

#include "browse_log.h"
#include "record.h"

struct parser {
    struct browse_log *bl;
    struct record_reader *reader;
    struct lme_tz *tz;
    char *path;
    char *host;
    struct lme_event ev; /* source fields set once; record fields per record */
    struct parser_stats stats;

    /* The current feed's callback, for the record callback to forward to. */
    parser_emit_fn emit;
    void *ctx;
};

struct parser *parser_create(const struct parser_config *cfg, struct lme_err *err)
{
    struct parser *p = calloc(1, sizeof(*p));
    if (!p) {
        lme_err_set(err, LME_ENOMEM, "parser: out of memory");
        return NULL;
    }
    size_t max = cfg->max_record_bytes ? cfg->max_record_bytes : PARSER_DEFAULT_MAX_RECORD;
    p->tz = cfg->tz;
    p->bl = browse_log_create(err);
    if (!p->bl)
        goto fail;
    p->reader = record_reader_create(p->bl, max, cfg->start_offset, err);
    if (!p->reader)
        goto fail;
    p->host = strdup(cfg->host ? cfg->host : "");
    p->path = cfg->path ? strdup(cfg->path) : NULL;
    if (!p->host || (cfg->path && !p->path)) {
        lme_err_set(err, LME_ENOMEM, "parser: out of memory");
        goto fail;
    }
    const char *zone = lme_tz_name(cfg->tz);
    p->ev.host = (struct lme_str){ p->host, strlen(p->host) };
    p->ev.path = (struct lme_str){ p->path, p->path ? strlen(p->path) : 0 };
    p->ev.timezone = (struct lme_str){ zone, strlen(zone) };
    p->ev.file_dev = cfg->file_dev;
    p->ev.file_ino = cfg->file_ino;
    return p;
fail:
    parser_destroy(p);
    return NULL;
}

void parser_destroy(struct parser *p)
{
    if (!p)
        return;
    record_reader_destroy(p->reader);
    browse_log_destroy(p->bl);
    free(p->path);
    free(p->host);
    free(p);
}

static int on_record(const struct browse_log_record *rec, void *ctx)
{
    struct parser *p = ctx;
    struct lme_event *ev = &p->ev;
    ev->offset = rec->offset;
    ev->end_offset = rec->end_offset;
    if (browse_log_parse(p->bl, rec, p->tz, ev) != 0)
        return LME_ENOMEM;

    p->stats.records++;
    p->stats.parse_failures += (ev->flags & LME_EV_PARSE_FAILURE) != 0;
    p->stats.truncated += (ev->flags & LME_EV_TRUNCATED) != 0;
    p->stats.no_timestamp += (ev->flags & LME_EV_NO_TIMESTAMP) != 0;
    return p->emit(ev, p->ctx);
}

int parser_feed(struct parser *p, const char *data, size_t len, int64_t now_ms,
                parser_emit_fn emit, void *ctx)
{
    p->ev.created_ms = now_ms;
    p->emit = emit;
    p->ctx = ctx;
    return record_reader_feed(p->reader, data, len, on_record, p);
}

int parser_finish(struct parser *p, int64_t now_ms, parser_emit_fn emit, void *ctx)
{
    p->ev.created_ms = now_ms;
    p->emit = emit;
    p->ctx = ctx;
    return record_reader_finish(p->reader, on_record, p);
}

int parser_flush(struct parser *p, int64_t now_ms, parser_emit_fn emit, void *ctx)
{
    p->ev.created_ms = now_ms;
    p->emit = emit;
    p->ctx = ctx;
    return record_reader_flush(p->reader, on_record, p);
}

int parser_holds(const struct parser *p)
{
    return record_reader_holds(p->reader);
}

uint64_t parser_unemitted(const struct parser *p)
{
    return record_reader_unemitted(p->reader);
}

const struct parser_stats *parser_stats(const struct parser *p)
{
    return &p->stats;
}
