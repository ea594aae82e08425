/* The browse-log grammar: header patterns (PCRE2 with JIT) and the parsing of an assembled record
 * into event fields. See browse_log.h for the shapes a record can take. */
#include "browse_log.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <strings.h>

#include "buf.h"
#include "header_scan.h"

/* Header separators are lenient: spaces, tabs and the 0xA0 padding single-byte logs carry. */
#define WS "[ \\t\\xA0]"
#define DATE "(?<date>\\d{4}[/.-]\\d{1,2}[/.-]\\d{1,2}|\\d{1,2}-[A-Za-z]{3}-\\d{2,4}|<date>)"
#define TIME "(?<time>\\d{1,2}:\\d{2}(?::\\d{2}(?:[.,]\\d{1,6})?)?|<time>)"

/* Possessive quantifiers everywhere: a line either matches on its first reading or fails at
 * once, so no input can make the matcher backtrack. The message starts where the match ends. */
static const char HEADER_RE[] =
    "^" WS "*+(?:" DATE WS "++" TIME WS "*+-?" WS "*+)?"
    "(?<comp>[A-Za-z_$][A-Za-z0-9_$.-]*+)" WS "*+\\(" WS "*+(?<tid>[0-9A-Fa-f]{1,8})" WS "*+\\)"
    WS "*+(?<level>[1-4])" WS "++(?<code>\\d{5})(?![0-9])" WS "*+:?" WS "*+";
static const char DATED_RE[] = "^" WS "*+" DATE WS "++" TIME WS "*+-";
static const char CONTROLLER_RE[] = "^" WS "*+(?<code>\\d{5})" WS "++(?=[A-Z])";

/* Hit only by a pathological pattern/input pair; ours stay far below it. */
#define MATCH_LIMIT 100000
#define DEPTH_LIMIT 1000
#define STATUS_WORD_MAX 256

struct pattern {
    pcre2_code *code;
    bool jit;
    int date, time, comp, tid, level, num; /* capture group numbers; 0 when the pattern has none */
};

/* Compiled once per process and read-only afterwards (pcre2_code is safe to share between
 * threads); the mutable match state lives in each struct browse_log. */
static struct {
    struct pattern header, dated, controller;
    char error[256];
} patterns;
static pthread_once_t patterns_once = PTHREAD_ONCE_INIT;

/* The longest "date time" text the memo below keeps. */
#define WHEN_MAX 48

struct browse_log {
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    struct lme_buf msg; /* scratch for messages joined from several lines */
    /* The last header's date and time as written, from its date to the end of its time, and
     * what they read as in zone tz: consecutive records mostly share them (whole seconds). */
    char when[WHEN_MAX];
    size_t when_len, date_len; /* when_len 0: nothing kept */
    const struct lme_tz *tz;
    int64_t utc_ms;
};

static int group(pcre2_code *code, const char *name)
{
    int n = pcre2_substring_number_from_name(code, (PCRE2_SPTR)name);
    return n > 0 ? n : 0;
}

static int pattern_compile(struct pattern *p, const char *re)
{
    int errcode;
    PCRE2_SIZE erroff;
    p->code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, 0, &errcode, &erroff, NULL);
    if (!p->code) {
        PCRE2_UCHAR msg[128];
        pcre2_get_error_message(errcode, msg, sizeof(msg));
        snprintf(patterns.error, sizeof(patterns.error), "pattern error at %zu: %s", (size_t)erroff,
                 (const char *)msg);
        return -1;
    }
    /* Without JIT (unsupported CPU) pcre2_match interprets: slower, still correct. */
    p->jit = pcre2_jit_compile(p->code, PCRE2_JIT_COMPLETE) == 0;
    p->date = group(p->code, "date");
    p->time = group(p->code, "time");
    p->comp = group(p->code, "comp");
    p->tid = group(p->code, "tid");
    p->level = group(p->code, "level");
    p->num = group(p->code, "code");
    return 0;
}

static void patterns_compile(void)
{
    if (pattern_compile(&patterns.header, HEADER_RE) == 0 &&
        pattern_compile(&patterns.dated, DATED_RE) == 0)
        pattern_compile(&patterns.controller, CONTROLLER_RE);
}

struct browse_log *browse_log_create(struct lme_err *err)
{
    pthread_once(&patterns_once, patterns_compile);
    if (!patterns.controller.code) {
        lme_err_set(err, LME_EINVAL, "browse-log parser: %s", patterns.error);
        return NULL;
    }
    struct browse_log *bl = calloc(1, sizeof(*bl));
    if (!bl)
        goto nomem;
    bl->md = pcre2_match_data_create_from_pattern(patterns.header.code, NULL);
    bl->mctx = pcre2_match_context_create(NULL);
    if (!bl->md || !bl->mctx)
        goto nomem;
    pcre2_set_match_limit(bl->mctx, MATCH_LIMIT);
    pcre2_set_depth_limit(bl->mctx, DEPTH_LIMIT);
    return bl;
nomem:
    browse_log_destroy(bl);
    lme_err_set(err, LME_ENOMEM, "browse-log parser: out of memory");
    return NULL;
}

void browse_log_destroy(struct browse_log *bl)
{
    if (!bl)
        return;
    pcre2_match_data_free(bl->md);
    pcre2_match_context_free(bl->mctx);
    lme_buf_free(&bl->msg);
    free(bl);
}

/* Returns true on a match; a match-limit or JIT-stack error counts as no match. */
static bool match(struct browse_log *bl, const struct pattern *p, const char *s, size_t len)
{
    int rc = p->jit ? pcre2_jit_match(p->code, (PCRE2_SPTR)s, len, 0, 0, bl->md, bl->mctx)
                    : pcre2_match(p->code, (PCRE2_SPTR)s, len, 0, 0, bl->md, bl->mctx);
    return rc > 0;
}

static struct browse_log_span span_of(const PCRE2_SIZE *ov, int group_no)
{
    struct browse_log_span sp = { 0, 0 };
    if (group_no <= 0 || ov[2 * group_no] == PCRE2_UNSET)
        return sp;
    sp.off = (uint32_t)ov[2 * group_no];
    sp.len = (uint32_t)(ov[2 * group_no + 1] - ov[2 * group_no]);
    return sp;
}

/* What a byte can be where records are trimmed and trailers cut, looked up once instead of
 * compared in turn (trim and cut_trailer walk every record's ends a byte at a time). */
enum {
    SPACE = 1,  /* [ \t\r\v\f\xA0] */
    MODULE = 2, /* a trailer's module name: [A-Za-z0-9_.] */
};

#define BYTE_CLASS(c)                                                                             \
    (((c) == ' ' || (c) == '\t' || (c) == '\r' || (c) == '\v' || (c) == '\f' || (c) == 0xA0      \
          ? SPACE                                                                                 \
          : 0) |                                                                                  \
     (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z') || ((c) >= '0' && (c) <= '9') ||   \
              (c) == '_' || (c) == '.'                                                            \
          ? MODULE                                                                                \
          : 0))
#define BYTE_ROW(b)                                                                               \
    BYTE_CLASS(b), BYTE_CLASS(b + 1), BYTE_CLASS(b + 2), BYTE_CLASS(b + 3), BYTE_CLASS(b + 4),    \
        BYTE_CLASS(b + 5), BYTE_CLASS(b + 6), BYTE_CLASS(b + 7), BYTE_CLASS(b + 8),               \
        BYTE_CLASS(b + 9), BYTE_CLASS(b + 10), BYTE_CLASS(b + 11), BYTE_CLASS(b + 12),            \
        BYTE_CLASS(b + 13), BYTE_CLASS(b + 14), BYTE_CLASS(b + 15)

static const unsigned char byte_classes[256] = {
    BYTE_ROW(0x00), BYTE_ROW(0x10), BYTE_ROW(0x20), BYTE_ROW(0x30), BYTE_ROW(0x40), BYTE_ROW(0x50),
    BYTE_ROW(0x60), BYTE_ROW(0x70), BYTE_ROW(0x80), BYTE_ROW(0x90), BYTE_ROW(0xA0), BYTE_ROW(0xB0),
    BYTE_ROW(0xC0), BYTE_ROW(0xD0), BYTE_ROW(0xE0), BYTE_ROW(0xF0),
};

static bool is_space(unsigned char c)
{
    return byte_classes[c] & SPACE;
}

enum browse_log_kind browse_log_classify(struct browse_log *bl, const char *line, size_t len,
                                         struct browse_log_header *h)
{
    if (header_scan(line, len, h))
        return BROWSE_LOG_HEADER;
    return browse_log_classify_pcre2(bl, line, len, h);
}

enum browse_log_kind browse_log_classify_pcre2(struct browse_log *bl, const char *line, size_t len,
                                               struct browse_log_header *h)
{
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(bl->md);
    memset(h, 0, sizeof(*h));

    if (match(bl, &patterns.header, line, len)) {
        const struct pattern *p = &patterns.header;
        h->kind = BROWSE_LOG_HEADER;
        h->date = span_of(ov, p->date);
        h->time = span_of(ov, p->time);
        h->component = span_of(ov, p->comp);
        h->thread = span_of(ov, p->tid);
        h->level = span_of(ov, p->level);
        h->code = span_of(ov, p->num);
        h->text_off = (uint32_t)ov[1];
        return h->kind;
    }

    /* The other shapes start with a digit (or a "<date>" placeholder): skip their patterns for
     * the many continuation lines that cannot be one. */
    size_t i = 0;
    while (i < len && is_space((unsigned char)line[i]))
        i++;
    if (i == len || !((line[i] >= '0' && line[i] <= '9') || line[i] == '<'))
        return BROWSE_LOG_CONTINUATION;

    if (match(bl, &patterns.controller, line, len)) {
        h->kind = BROWSE_LOG_CONTROLLER;
        h->code = span_of(ov, patterns.controller.num);
        h->text_off = (uint32_t)ov[1];
        return h->kind;
    }
    if (match(bl, &patterns.dated, line, len)) {
        h->kind = BROWSE_LOG_BROKEN;
        h->date = span_of(ov, patterns.dated.date);
        h->time = span_of(ov, patterns.dated.time);
        h->text_off = 0; /* a parse failure keeps all its text in the message */
        return h->kind;
    }
    return BROWSE_LOG_CONTINUATION;
}

/* ---- time ---- */

static bool digits(const char *s, size_t n, size_t *i, int min, int max, int *out)
{
    int v = 0, k = 0;
    while (*i < n && k < max && s[*i] >= '0' && s[*i] <= '9') {
        v = v * 10 + (s[*i] - '0');
        (*i)++;
        k++;
    }
    *out = v;
    return k >= min;
}

static int month_from_name(const char *s)
{
    static const char names[] = "janfebmaraprmayjunjulaugsepoctnovdec";
    for (int m = 0; m < 12; m++)
        if (strncasecmp(s, names + 3 * m, 3) == 0)
            return m + 1;
    return 0;
}

static bool parse_date(const char *s, size_t n, struct lme_civil *c)
{
    size_t i = 0;
    if (n >= 8 && (s[4] == '/' || s[4] == '-' || s[4] == '.')) { /* YYYY/MM/DD */
        if (!digits(s, n, &i, 4, 4, &c->year) || i >= n)
            return false;
        i++;
        if (!digits(s, n, &i, 1, 2, &c->month) || i >= n)
            return false;
        i++;
        return digits(s, n, &i, 1, 2, &c->day) && i == n;
    }
    /* DD-Mon-YYYY */
    if (!digits(s, n, &i, 1, 2, &c->day) || i + 5 > n || s[i] != '-')
        return false;
    c->month = month_from_name(s + i + 1);
    i += 4;
    if (c->month == 0 || i >= n || s[i] != '-')
        return false;
    i++;
    size_t start = i;
    if (!digits(s, n, &i, 2, 4, &c->year) || i != n || i - start == 3)
        return false;
    if (i - start == 2)
        c->year += c->year >= 70 ? 1900 : 2000;
    return true;
}

static bool parse_clock(const char *s, size_t n, struct lme_civil *c)
{
    size_t i = 0;
    c->sec = c->msec = 0;
    if (!digits(s, n, &i, 1, 2, &c->hour) || i >= n || s[i++] != ':')
        return false;
    if (!digits(s, n, &i, 2, 2, &c->min))
        return false;
    if (i == n)
        return true;
    if (s[i++] != ':' || !digits(s, n, &i, 2, 2, &c->sec))
        return false;
    if (i == n)
        return true;
    if (s[i] != '.' && s[i] != ',')
        return false;
    i++;
    int scale = 100;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, scale /= 10)
        c->msec += (s[i] - '0') * scale;
    return i == n;
}

int browse_log_parse_time(const char *date, size_t date_len, const char *time, size_t time_len,
                          struct lme_civil *out)
{
    if (!parse_date(date, date_len, out) || !parse_clock(time, time_len, out))
        return LME_EINVAL;
    return 0;
}

/* ---- message, trailer, status word ---- */

static struct lme_str trim(const char *s, size_t n)
{
    size_t b = 0;
    while (b < n && is_space((unsigned char)s[b]))
        b++;
    while (n > b) {
        unsigned char c = (unsigned char)s[n - 1];
        if (c == 0xA0) {
            /* Padding, unless it is the last byte of a UTF-8 character (U+00E0 is C3 A0). */
            unsigned char prev = n - 1 > b ? (unsigned char)s[n - 2] : 0;
            if (prev >= 0x80 && prev != 0xA0)
                break;
        } else if (!is_space(c)) {
            break;
        }
        n--;
    }
    return (struct lme_str){ s + b, n - b };
}

static bool is_module_char(char c)
{
    return byte_classes[(unsigned char)c] & MODULE;
}

/* The start of the run of spaces ending at s[i - 1] (i when there is none). */
static size_t skip_spaces_back(const char *s, size_t i)
{
    while (i > 0 && is_space((unsigned char)s[i - 1]))
        i--;
    return i;
}

/* Whether s[i - 2, i) is a trailer's marker: ">>", or the "<<" some PROFS/SNADS components
 * write, standing at the start of the text or after a space. */
static bool marker_before(const char *s, size_t i)
{
    if (i < 2 || s[i - 1] != s[i - 2] || (s[i - 1] != '>' && s[i - 1] != '<'))
        return false;
    return i == 2 || is_space((unsigned char)s[i - 3]);
}

/* Finds the trailer "module(line)" ending the (right-trimmed) text s[0..n): the connector's
 * source file and line. It counts as one when a marker (">>" or "<<") stands before it, its
 * closing parenthesis may then be missing; without a marker (copies that lost it) only when it
 * is a whole line of its own, starting at own_line (pass n or more when no line qualifies), and
 * written tight and closed, "Module(1234)": a message ending in "(...)" keeps it. On success
 * fills module/line and returns the length of the text before the trailer; returns n when
 * there is none. */
static size_t cut_trailer(const char *s, size_t n, size_t own_line, struct lme_str *module,
                          int32_t *line)
{
    size_t i = n;
    bool closed = i > 0 && s[i - 1] == ')';
    if (closed)
        i--;
    size_t dend = skip_spaces_back(s, i);
    i = dend;
    while (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9')
        i--;
    if (i == dend || dend - i > 9)
        return n;
    size_t dstart = i;
    i = skip_spaces_back(s, i);
    if (i == 0 || s[i - 1] != '(')
        return n;
    size_t mend = skip_spaces_back(s, i - 1);
    /* "module(line)" as written, no spaces inside: all a line without marker may be */
    bool tight = closed && dend == n - 1 && dstart == i && mend == i - 1;
    i = mend;
    while (i > 0 && is_module_char(s[i - 1]))
        i--;
    if (i == mend || (s[i] >= '0' && s[i] <= '9') || s[i] == '.')
        return n;
    size_t mstart = i;
    i = skip_spaces_back(s, i);
    if (marker_before(s, i))
        i -= 2;
    else if (!tight || mstart != own_line)
        return n;

    int32_t v = 0;
    for (size_t k = dstart; k < dend; k++)
        v = v * 10 + (s[k] - '0');
    *line = v;
    *module = (struct lme_str){ s + mstart, mend - mstart };
    return i;
}

/* "error" in any case, ASCII only: strncasecmp consults the locale, for every record. */
static bool starts_error(const char *p)
{
    return (p[0] | 0x20) == 'e' && (p[1] | 0x20) == 'r' && (p[2] | 0x20) == 'r' &&
           (p[3] | 0x20) == 'o' && (p[4] | 0x20) == 'r';
}

/* The status word of "Error {Status word}: ..." (also "{Status word}: ..." and the "Error (X}"
 * typo real logs carry), or an absent slice. */
static struct lme_str status_word(struct lme_str m)
{
    struct lme_str none = { NULL, 0 };
    size_t i = 0;
    bool error_prefix = m.len >= 5 && starts_error(m.ptr);
    if (error_prefix) {
        i = 5;
        while (i < m.len && is_space((unsigned char)m.ptr[i]))
            i++;
    }
    if (i >= m.len || !(m.ptr[i] == '{' || (error_prefix && m.ptr[i] == '(')))
        return none;
    char open = m.ptr[i];
    size_t start = ++i, limit = m.len - start < STATUS_WORD_MAX ? m.len : start + STATUS_WORD_MAX;
    const char *close = memchr(m.ptr + start, '}', limit - start);
    if (!close && open == '(')
        close = memchr(m.ptr + start, ')', limit - start);
    if (!close || close == m.ptr + start)
        return none;
    return (struct lme_str){ m.ptr + start, (size_t)(close - (m.ptr + start)) };
}

/* A line of the record: [p, p+n) without its terminator. */
static struct lme_str next_line(const char *text, size_t len, size_t *pos)
{
    const char *p = text + *pos;
    const char *nl = memchr(p, '\n', len - *pos);
    size_t n = nl ? (size_t)(nl - p) : len - *pos;
    *pos += n + (nl ? 1 : 0);
    return (struct lme_str){ p, n };
}

static int join(struct lme_buf *b, struct lme_str part)
{
    if (part.len == 0)
        return 0;
    if (b->len > 0 && lme_buf_append(b, " ", 1) != 0)
        return LME_ENOMEM;
    return lme_buf_append(b, part.ptr, part.len) != 0 ? LME_ENOMEM : 0;
}

/* Sets ev->message (and the trailer fields): the header's text and every later line, each
 * trimmed, joined by one space, the trailer ending the whole removed. The trailer is looked for
 * in the joined text, so wherever the record was wrapped (inside the trailer too) it reads the
 * same. */
static int build_message(struct browse_log *bl, const struct browse_log_record *rec,
                         struct lme_event *ev)
{
    struct lme_str head = trim(rec->header + rec->hdr.text_off, rec->header_len - rec->hdr.text_off);

    if (rec->body_off >= rec->len) { /* one line: a slice of the header, no copy */
        head.len = trim(head.ptr, cut_trailer(head.ptr, head.len, head.len, &ev->origin_file,
                                              &ev->origin_line)).len;
        ev->message = head;
        return 0;
    }

    struct lme_buf *b = &bl->msg;
    lme_buf_reset(b);
    if (join(b, head) != 0)
        return LME_ENOMEM;
    size_t last_line = b->len; /* where the last line with text starts in b */
    size_t pos = rec->body_off;
    while (pos < rec->len) {
        struct lme_str raw = next_line(rec->text, rec->len, &pos);
        struct lme_str line = trim(raw.ptr, raw.len);
        if (line.len == 0)
            continue;
        if (join(b, line) != 0)
            return LME_ENOMEM;
        last_line = b->len - line.len;
    }
    size_t keep = cut_trailer(b->data, b->len, last_line, &ev->origin_file, &ev->origin_line);
    ev->message = trim(b->data, keep);
    return 0;
}

static int64_t hex_value(const char *s, size_t n)
{
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int d = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
        v = v * 16 + d;
    }
    return v;
}

static struct lme_str field(const struct browse_log_record *rec, struct browse_log_span sp)
{
    return (struct lme_str){ sp.len ? rec->header + sp.off : NULL, sp.len };
}

/* The header's time in UTC, taken from the last header's when it was written the same and read
 * in the same zone (a conversion depends on nothing else). Returns 0 or an error of
 * browse_log_parse_time or lme_tz_to_utc. */
static int read_utc_time(struct browse_log *bl, const struct browse_log_record *rec,
                         struct lme_tz *tz, int64_t *ms)
{
    const struct browse_log_header *h = &rec->hdr;
    const char *date = rec->header + h->date.off, *time = rec->header + h->time.off;
    size_t when_len = h->time.off + h->time.len - h->date.off;
    bool memo = h->time.off > h->date.off && when_len <= WHEN_MAX;
    if (memo && when_len == bl->when_len && h->date.len == bl->date_len && bl->tz == tz &&
        memcmp(bl->when, date, when_len) == 0) {
        *ms = bl->utc_ms;
        return 0;
    }
    struct lme_civil local;
    int rc = browse_log_parse_time(date, h->date.len, time, h->time.len, &local);
    if (rc == 0)
        rc = lme_tz_to_utc(tz, &local, ms);
    bl->when_len = 0;
    if (rc == 0 && memo) {
        memcpy(bl->when, date, when_len);
        bl->when_len = when_len;
        bl->date_len = h->date.len;
        bl->tz = tz;
        bl->utc_ms = *ms;
    }
    return rc;
}

static void parse_time_fields(struct browse_log *bl, const struct browse_log_record *rec,
                              struct lme_tz *tz, struct lme_event *ev)
{
    const struct browse_log_header *h = &rec->hdr;
    int64_t ms;
    if (h->date.len && h->time.len && read_utc_time(bl, rec, tz, &ms) == 0) {
        ev->time_ms = ms;
        return;
    }
    ev->time_ms = ev->created_ms;
    ev->flags |= LME_EV_NO_TIMESTAMP;
}

int browse_log_parse(struct browse_log *bl, const struct browse_log_record *rec, struct lme_tz *tz,
                     struct lme_event *ev)
{
    const struct browse_log_header *h = &rec->hdr;
    struct lme_str none = { NULL, 0 };

    ev->original = (struct lme_str){ rec->text, rec->len };
    ev->code = ev->component = ev->origin_file = ev->error_type = none;
    ev->thread_id = -1;
    ev->origin_line = -1;
    ev->severity = 0;
    ev->flags = 0;
    ev->truncated_bytes = rec->truncated_bytes;
    if (rec->truncated_bytes > 0)
        ev->flags |= LME_EV_TRUNCATED;

    switch (h->kind) {
    case BROWSE_LOG_HEADER:
        ev->shape = LME_SHAPE_BROWSE;
        ev->component = field(rec, h->component);
        ev->thread_id = hex_value(rec->header + h->thread.off, h->thread.len);
        ev->severity = rec->header[h->level.off] - '0';
        ev->code = field(rec, h->code);
        break;
    case BROWSE_LOG_CONTROLLER:
        ev->shape = LME_SHAPE_CONTROLLER;
        ev->code = field(rec, h->code);
        break;
    default:
        ev->shape = LME_SHAPE_UNPARSED;
        ev->flags |= LME_EV_PARSE_FAILURE;
        break;
    }

    parse_time_fields(bl, rec, tz, ev);
    if (build_message(bl, rec, ev) != 0)
        return LME_ENOMEM;
    if (ev->shape != LME_SHAPE_UNPARSED)
        ev->error_type = status_word(ev->message);
    return 0;
}
