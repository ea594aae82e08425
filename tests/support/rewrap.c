/* Test support: the wrap and marker properties of the browse-log parser; see rewrap.h. A record
 * is kept as its words (the first one the header up to the message) and its trailer; a form is
 * written from them into a buffer and parsed by a parser of our own, its fields copied out of
 * the callback and compared with those of the canonical form. */
#include "rewrap.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "browse_log.h"
#include "buf.h"
#include "parser.h"
#include "tz.h"

#define MAX_RECORD (1024 * 1024)
#define WHY_MAX 8192

/* Where a text field of a copied event lies in struct fields' store. */
struct slice {
    size_t off, len;
};

/* The parsed fields of one form (everything but the offsets, ids and event.original). */
struct fields {
    struct lme_buf store;
    int64_t time_ms;
    uint32_t flags;
    enum lme_event_shape shape;
    int64_t thread_id;
    int severity;
    int32_t origin_line;
    struct slice component, code, message, origin_file, error_type;
};

struct rewrap {
    struct browse_log *bl;
    struct lme_tz *tz;
    struct parser *parser;

    /* The loaded record. */
    struct lme_buf original;
    int64_t created_ms;     /* its event.created: @timestamp when it has no time */
    struct lme_buf words;   /* the words' bytes back to back */
    struct slice *word;     /* word[i] in words */
    size_t n_words, cap_words;
    bool trailer;
    struct lme_buf trailer_text; /* "module(line" */
    bool last_tight;        /* no trailer, and the last word reads "Module(123)" */
    bool last_marker;       /* the last word is ">>" or "<<" */
    struct fields ref;      /* of the canonical form */

    struct lme_buf form;    /* the form being checked */
    struct fields got;
    size_t events;          /* of the form's parse */
    struct lme_buf why;
};

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f' || c == 0xA0;
}

struct rewrap *rewrap_create(void)
{
    struct rewrap *w = calloc(1, sizeof(*w));
    struct lme_err err;
    if (!w)
        return NULL;
    w->bl = browse_log_create(&err);
    w->tz = lme_tz_open("UTC", &err);
    struct parser_config pc = { .host = "h", .tz = w->tz, .max_record_bytes = MAX_RECORD };
    if (w->tz)
        w->parser = parser_create(&pc, &err);
    if (!w->bl || !w->parser) {
        rewrap_destroy(w);
        return NULL;
    }
    return w;
}

void rewrap_destroy(struct rewrap *w)
{
    if (!w)
        return;
    parser_destroy(w->parser);
    lme_tz_destroy(w->tz);
    browse_log_destroy(w->bl);
    lme_buf_free(&w->original);
    lme_buf_free(&w->words);
    free(w->word);
    lme_buf_free(&w->trailer_text);
    lme_buf_free(&w->ref.store);
    lme_buf_free(&w->form);
    lme_buf_free(&w->got.store);
    lme_buf_free(&w->why);
    free(w);
}

static void why(struct rewrap *w, const char *fmt, ...)
{
    char text[WHY_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof(text) ? (size_t)n : sizeof(text) - 1;
    lme_buf_reset(&w->why);
    lme_buf_append(&w->why, text, len);
    lme_buf_append(&w->why, "", 1);
}

const char *rewrap_why(const struct rewrap *w)
{
    return w->why.len ? w->why.data : "";
}

/* ---- parsing a form ---- */

static struct slice keep(struct lme_buf *store, struct lme_str s)
{
    struct slice sl = { store->len, s.len };
    lme_buf_append(store, s.ptr, s.len);
    return sl;
}

static struct lme_str text_of(const struct fields *f, struct slice sl)
{
    return (struct lme_str){ f->store.data + sl.off, sl.len };
}

static int on_event(const struct lme_event *ev, void *ctx)
{
    struct rewrap *w = ctx;
    struct fields *f = &w->got;
    if (w->events++ > 0)
        return 0;
    lme_buf_reset(&f->store);
    f->time_ms = ev->time_ms;
    f->flags = ev->flags;
    f->shape = ev->shape;
    f->thread_id = ev->thread_id;
    f->severity = ev->severity;
    f->origin_line = ev->origin_line;
    f->component = keep(&f->store, ev->component);
    f->code = keep(&f->store, ev->code);
    f->message = keep(&f->store, ev->message);
    f->origin_file = keep(&f->store, ev->origin_file);
    f->error_type = keep(&f->store, ev->error_type);
    return 0;
}

/* Parses w->form into w->got; returns the number of events it made. */
static size_t parse_form(struct rewrap *w)
{
    w->events = 0;
    parser_feed(w->parser, w->form.data, w->form.len, w->created_ms, on_event, w);
    parser_finish(w->parser, w->created_ms, on_event, w);
    return w->events;
}

static bool same(struct lme_str a, struct lme_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* Compares the text fields of a and b; names the first that differs, or returns NULL. */
static const char *differing_text(const struct fields *a, const struct fields *b,
                                  struct lme_str *va, struct lme_str *vb)
{
    static const struct {
        const char *name;
        size_t at;
    } texts[] = {
        { "process.name", offsetof(struct fields, component) },
        { "event.code", offsetof(struct fields, code) },
        { "message", offsetof(struct fields, message) },
        { "log.origin.file.name", offsetof(struct fields, origin_file) },
        { "error.type", offsetof(struct fields, error_type) },
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        *va = text_of(a, *(const struct slice *)((const char *)a + texts[i].at));
        *vb = text_of(b, *(const struct slice *)((const char *)b + texts[i].at));
        if (!same(*va, *vb))
            return texts[i].name;
    }
    return NULL;
}

/* Compares every field; returns false after naming the first that differs. */
static bool same_fields(struct rewrap *w, const struct fields *want, const struct fields *got)
{
    struct {
        const char *name;
        long long want, got;
    } nums[] = {
        { "@timestamp", want->time_ms, got->time_ms },
        { "flags (tags)", want->flags, got->flags },
        { "lme.shape", want->shape, got->shape },
        { "process.thread.id", want->thread_id, got->thread_id },
        { "event.severity", want->severity, got->severity },
        { "log.origin.file.line", want->origin_line, got->origin_line },
    };
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        if (nums[i].want != nums[i].got) {
            why(w, "%s: want %lld, got %lld", nums[i].name, nums[i].want, nums[i].got);
            return false;
        }
    }
    struct lme_str a, b;
    const char *name = differing_text(want, got, &a, &b);
    if (name)
        why(w, "%s: want '%.*s', got '%.*s'", name, (int)a.len, a.ptr, (int)b.len, b.ptr);
    return name == NULL;
}

/* ---- loading a record ---- */

static int add_word(struct rewrap *w, const char *p, size_t n, const char *glue, size_t glue_n)
{
    if (w->n_words == w->cap_words) {
        size_t cap = w->cap_words ? 2 * w->cap_words : 64;
        struct slice *v = realloc(w->word, cap * sizeof(*v));
        if (!v)
            return -1;
        w->word = v;
        w->cap_words = cap;
    }
    struct slice sl = { w->words.len, n + glue_n };
    if (lme_buf_append(&w->words, p, n) != 0 || lme_buf_append(&w->words, glue, glue_n) != 0)
        return -1;
    w->word[w->n_words++] = sl;
    return 0;
}

static struct lme_str word_at(const struct rewrap *w, size_t i)
{
    return (struct lme_str){ w->words.data + w->word[i].off, w->word[i].len };
}

/* "Module(123)": what a line without marker may be to read as a trailer (browse_log.c). */
static bool is_tight_trailer(struct lme_str s)
{
    size_t i = 0;
    for (; i < s.len && s.ptr[i] != '('; i++) {
        char c = s.ptr[i];
        bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        bool other = (c >= '0' && c <= '9') || c == '.';
        if (!letter && !(other && i > 0))
            return false;
    }
    if (i == 0 || i + 3 > s.len || s.ptr[s.len - 1] != ')' || s.len - i - 2 > 9)
        return false;
    for (size_t k = i + 1; k < s.len - 1; k++)
        if (s.ptr[k] < '0' || s.ptr[k] > '9')
            return false;
    return true;
}

/* The message's words, after the header's (for a controller line the first word is glued to
 * the header: its shape needs the text to start on the header line). */
static int load_words(struct rewrap *w, const struct lme_event *ev, const char *prefix, size_t plen)
{
    w->n_words = 0;
    lme_buf_reset(&w->words);
    bool glue = ev->shape == LME_SHAPE_CONTROLLER;
    if (!glue && add_word(w, prefix, plen, "", 0) != 0)
        return -1;
    const char *m = ev->message.ptr;
    size_t i = 0, n = ev->message.len;
    while (i < n) {
        while (i < n && is_space((unsigned char)m[i]))
            i++;
        size_t start = i;
        while (i < n && !is_space((unsigned char)m[i]))
            i++;
        if (i == start)
            break;
        int rc = glue ? add_word(w, prefix, plen, m + start, i - start)
                      : add_word(w, m + start, i - start, "", 0);
        if (rc != 0)
            return -1;
        glue = false;
    }
    return glue ? -1 : 0; /* a controller line always has text */
}

static int load_trailer(struct rewrap *w, const struct lme_event *ev)
{
    lme_buf_reset(&w->trailer_text);
    w->trailer = ev->origin_file.len > 0;
    if (!w->trailer)
        return 0;
    char line[16];
    snprintf(line, sizeof(line), "(%d", (int)ev->origin_line);
    if (lme_buf_append(&w->trailer_text, ev->origin_file.ptr, ev->origin_file.len) != 0 ||
        lme_buf_append_str(&w->trailer_text, line) != 0)
        return -1;
    return 0;
}

/* The header up to the message, from the record's first line; false when the record is not one
 * the properties cover. */
static bool header_prefix(struct rewrap *w, const struct lme_event *ev, size_t *plen)
{
    const char *text = ev->original.ptr;
    const char *nl = memchr(text, '\n', ev->original.len);
    size_t n = nl ? (size_t)(nl - text) : ev->original.len;
    if (n > 0 && text[n - 1] == '\r')
        n--;
    struct browse_log_header h;
    enum browse_log_kind kind = browse_log_classify(w->bl, text, n, &h);
    enum browse_log_kind want = ev->shape == LME_SHAPE_BROWSE ? BROWSE_LOG_HEADER
                                                              : BROWSE_LOG_CONTROLLER;
    if (kind != want)
        return false; /* a header wrapped over two lines */
    *plen = h.text_off;
    if (kind != BROWSE_LOG_HEADER)
        return true;
    while (*plen > 0 && is_space((unsigned char)text[*plen - 1]))
        (*plen)--; /* its separator before the text: a space to wrap at */
    /* "41220\r:text" reads ":text" (a \r is no separator); "41220 :text" would read "text" */
    return !(ev->message.len > 0 && ev->message.ptr[0] == ':' && text[*plen - 1] != ':');
}

/* s with every run of whitespace read as one space, and none at either end. */
static void normalize(struct lme_str s, struct lme_buf *out)
{
    lme_buf_reset(out);
    for (size_t i = 0; i < s.len; i++) {
        if (!is_space((unsigned char)s.ptr[i])) {
            lme_buf_append(out, s.ptr + i, 1);
            continue;
        }
        if (out->len > 0 && out->data[out->len - 1] != ' ')
            lme_buf_append(out, " ", 1);
    }
    if (out->len > 0 && out->data[out->len - 1] == ' ')
        out->len--;
}

/* The record as read against its canonical form: the same fields, the message and error.type
 * but for their whitespace. */
static bool same_as_read(struct rewrap *w, const struct lme_event *ev)
{
    struct fields read = { .time_ms = ev->time_ms, .flags = ev->flags, .shape = ev->shape,
                           .thread_id = ev->thread_id, .severity = ev->severity,
                           .origin_line = ev->origin_line };
    struct lme_buf norm = LME_BUF_INIT;
    read.component = keep(&read.store, ev->component);
    read.code = keep(&read.store, ev->code);
    normalize(ev->message, &norm);
    /* collapsing whitespace can move a status word's '}' into the 256 bytes it is looked for
     * in: error.type is compared only for a message the collapse leaves alone */
    bool canonical = same((struct lme_str){ norm.data, norm.len }, ev->message);
    read.message = keep(&read.store, (struct lme_str){ norm.data, norm.len });
    read.origin_file = keep(&read.store, ev->origin_file);
    read.error_type = canonical ? keep(&read.store, ev->error_type)
                                : keep(&read.store, text_of(&w->ref, w->ref.error_type));
    bool ok = same_fields(w, &read, &w->ref);
    lme_buf_free(&norm);
    lme_buf_free(&read.store);
    return ok;
}

static void write_form(struct rewrap *w, const struct rewrap_style *st);

enum rewrap_result rewrap_load(struct rewrap *w, const struct lme_event *ev)
{
    w->n_words = 0;
    w->trailer = false;
    lme_buf_reset(&w->why);
    size_t plen;
    if ((ev->shape != LME_SHAPE_BROWSE && ev->shape != LME_SHAPE_CONTROLLER) ||
        (ev->flags & LME_EV_TRUNCATED) || ev->original.len == 0 || !header_prefix(w, ev, &plen))
        return REWRAP_SKIPPED;
    w->created_ms = ev->created_ms;
    lme_buf_reset(&w->original);
    if (lme_buf_append(&w->original, ev->original.ptr, ev->original.len) != 0 ||
        load_words(w, ev, ev->original.ptr, plen) != 0 || load_trailer(w, ev) != 0) {
        w->n_words = 0;
        return REWRAP_SKIPPED;
    }
    struct lme_str last = word_at(w, w->n_words - 1);
    w->last_tight = !w->trailer && w->n_words > 1 && is_tight_trailer(last);
    w->last_marker = w->n_words > 1 && last.len == 2 && last.ptr[0] == last.ptr[1] &&
                     (last.ptr[0] == '>' || last.ptr[0] == '<');

    struct rewrap_style canonical = { .breaks = NULL, .marker = REWRAP_GT };
    write_form(w, &canonical);
    size_t events = parse_form(w);
    if (events != 1) {
        why(w, "the canonical form made %zu events\nform: %.*s\nread: %.*s", events,
            (int)w->form.len, w->form.data, (int)w->original.len, w->original.data);
        return REWRAP_FAILED;
    }
    struct fields t = w->ref;
    w->ref = w->got;
    w->got = t;
    if (same_as_read(w, ev))
        return REWRAP_OK;
    struct lme_buf detail = w->why;
    w->why = (struct lme_buf)LME_BUF_INIT;
    why(w, "the record as read and its canonical form differ: %s\nform: %.*s\nread: %.*s",
        detail.data, (int)w->form.len, w->form.data, (int)w->original.len, w->original.data);
    lme_buf_free(&detail);
    return REWRAP_FAILED;
}

size_t rewrap_gaps(const struct rewrap *w)
{
    return w->n_words == 0 ? 0 : w->n_words - 1 + (w->trailer ? 2 : 0);
}

bool rewrap_has_trailer(const struct rewrap *w)
{
    return w->trailer;
}

size_t rewrap_gap_before_marker(const struct rewrap *w)
{
    return w->trailer ? w->n_words - 1 : rewrap_gaps(w);
}

/* ---- writing a form ---- */

/* Whether gap g of the form ends a line. */
static bool breaks_at(const struct rewrap *w, const struct rewrap_style *st, size_t g)
{
    if (!st->breaks)
        return false;
    if (w->last_tight && g == w->n_words - 2)
        return false; /* it would make the last word a trailer that lost its marker */
    return st->breaks[g] != 0;
}

static void put_gap(struct rewrap *w, const struct rewrap_style *st, bool line_end)
{
    if (!line_end) {
        lme_buf_append(&w->form, " ", 1);
        return;
    }
    lme_buf_append_str(&w->form, st->crlf ? "\r\n" : "\n");
    if (st->indent)
        lme_buf_append(&w->form, " ", 1);
}

static void write_form(struct rewrap *w, const struct rewrap_style *st)
{
    lme_buf_reset(&w->form);
    for (size_t i = 0; i < w->n_words; i++) {
        if (i > 0)
            put_gap(w, st, breaks_at(w, st, i - 1));
        struct lme_str word = word_at(w, i);
        lme_buf_append(&w->form, word.ptr, word.len);
    }
    if (!w->trailer)
        return;
    size_t g = w->n_words - 1;
    if (st->marker == REWRAP_NONE) {
        put_gap(w, st, true);
    } else {
        put_gap(w, st, breaks_at(w, st, g));
        lme_buf_append_str(&w->form, st->marker == REWRAP_GT ? ">>" : "<<");
        put_gap(w, st, breaks_at(w, st, g + 1));
    }
    lme_buf_append(&w->form, w->trailer_text.data, w->trailer_text.len);
    if (!st->open || st->marker == REWRAP_NONE)
        lme_buf_append(&w->form, ")", 1);
}

void rewrap_at_width(const struct rewrap *w, size_t width, const struct rewrap_style *st,
                     uint8_t *breaks)
{
    if (w->n_words == 0)
        return;
    size_t col = w->word[0].len;
    size_t n = rewrap_gaps(w);
    for (size_t g = 0; g < n; g++) {
        size_t len = g + 1 < w->n_words  ? w->word[g + 1].len
                     : g + 1 == w->n_words ? 2 /* the marker */
                                           : w->trailer_text.len + !st->open;
        breaks[g] = col + 1 + len > width;
        col = breaks[g] ? st->indent + len : col + 1 + len;
    }
}

/* Whether every line after the first continues the record (a line that reads as a header
 * would start another). */
static bool lines_continue(struct rewrap *w)
{
    const char *p = w->form.data, *end = p + w->form.len;
    const char *nl = memchr(p, '\n', w->form.len);
    while (nl) {
        p = nl + 1;
        nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        if (n > 0 && p[n - 1] == '\r')
            n--;
        struct browse_log_header h;
        if (browse_log_classify(w->bl, p, n, &h) != BROWSE_LOG_CONTINUATION)
            return false;
    }
    return true;
}

enum rewrap_result rewrap_check(struct rewrap *w, const struct rewrap_style *st)
{
    lme_buf_reset(&w->why);
    if (w->n_words == 0 || (w->trailer && st->marker == REWRAP_NONE && w->last_marker))
        return REWRAP_SKIPPED;
    write_form(w, st);
    if (!lines_continue(w))
        return REWRAP_SKIPPED;
    size_t events = parse_form(w);
    if (events == 1 && same_fields(w, &w->ref, &w->got))
        return REWRAP_OK;
    struct lme_buf detail = w->why;
    w->why = (struct lme_buf)LME_BUF_INIT;
    if (events != 1)
        why(w, "the form made %zu events\nform: %.*s\nread: %.*s", events, (int)w->form.len,
            w->form.data, (int)w->original.len, w->original.data);
    else
        why(w, "%s\nform: %.*s\nread: %.*s", detail.data, (int)w->form.len, w->form.data,
            (int)w->original.len, w->original.data);
    lme_buf_free(&detail);
    return REWRAP_FAILED;
}
