/* Local civil time in an IANA zone to UTC. See tz.h.
 *
 * The C library only converts in the process's zone (TZ), so a cache miss sets TZ to the zone
 * under a process-wide lock, asks localtime_r for the UTC offsets around the wanted time and
 * restores TZ. Results are cached per 15-minute slot of local time: every zone in use today
 * changes its offset on a quarter hour, so the slot's offset is the offset of every time in it. */
#include "tz.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SLOT_SECONDS 900
#define NO_SLOT INT64_MIN

struct lme_tz {
    char *name;      /* IANA name shown in events */
    char *tz_value;  /* TZ during conversions (":Europe/Berlin"); NULL: TZ unset (/etc/localtime) */
    bool utc;        /* no lookups at all */
    int64_t slot;    /* cached 15-minute slot of local time */
    int64_t offset;  /* its UTC offset, seconds east */
};

static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- civil arithmetic (Howard Hinnant's algorithms, proleptic Gregorian) ---- */

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

void lme_tz_civil_from_ms(int64_t ms, struct lme_civil *out)
{
    int64_t secs = floor_div(ms, 1000);
    int64_t days = floor_div(secs, 86400);
    int64_t rem = secs - days * 86400;
    out->msec = (int)(ms - secs * 1000);
    out->hour = (int)(rem / 3600);
    out->min = (int)(rem % 3600 / 60);
    out->sec = (int)(rem % 60);

    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    out->day = (int)(doy - (153 * mp + 2) / 5 + 1);
    out->month = (int)(mp < 10 ? mp + 3 : mp - 9);
    out->year = (int)(yoe + era * 400 + (out->month <= 2));
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static bool civil_valid(const struct lme_civil *c)
{
    static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (c->year < 1 || c->year > 9999 || c->month < 1 || c->month > 12 || c->day < 1)
        return false;
    int dim = days[c->month - 1] + (c->month == 2 && is_leap(c->year));
    return c->day <= dim && c->hour >= 0 && c->hour <= 23 && c->min >= 0 && c->min <= 59 &&
           c->sec >= 0 && c->sec <= 60 && c->msec >= 0 && c->msec <= 999;
}

/* ---- opening a zone ---- */

static const char *zoneinfo_dir(void)
{
    const char *dir = getenv("TZDIR");
    return dir && *dir ? dir : "/usr/share/zoneinfo";
}

static bool is_utc_name(const char *name)
{
    return strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0;
}

/* glibc reads an unknown TZ as UTC without a word, so a zone must be a TZif file we can see. */
static int check_zone(const char *name, struct lme_err *err)
{
    const char *dir = zoneinfo_dir();
    if (name[0] == '/' || strstr(name, "..") || strlen(name) > 255)
        return lme_err_set(err, LME_EINVAL, "unknown time zone '%s' (expected an IANA name such "
                           "as Europe/Berlin)", name);
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    char magic[4] = { 0 };
    struct stat st;
    bool ok = f && fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) &&
              fread(magic, 1, 4, f) == 4 && memcmp(magic, "TZif", 4) == 0;
    if (f)
        fclose(f);
    if (!ok)
        return lme_err_set(err, LME_EINVAL, "unknown time zone '%s' (no such zone in %s)", name,
                           dir);
    return 0;
}

/* The machine's zone name: TZ if set, else what /etc/localtime links to. */
static char *default_zone_name(void)
{
    const char *env = getenv("TZ");
    if (env && *env)
        return strdup(env[0] == ':' ? env + 1 : env);
    char target[PATH_MAX];
    ssize_t n = readlink("/etc/localtime", target, sizeof(target) - 1);
    if (n > 0) {
        target[n] = '\0';
        const char *p = strstr(target, "zoneinfo/");
        if (p)
            return strdup(p + strlen("zoneinfo/"));
    }
    return strdup("localtime");
}

struct lme_tz *lme_tz_open(const char *name, struct lme_err *err)
{
    bool machine = !name || !*name;
    struct lme_tz *tz = calloc(1, sizeof(*tz));
    if (!tz)
        goto nomem;
    tz->slot = NO_SLOT;
    tz->name = machine ? default_zone_name() : strdup(name);
    if (!tz->name)
        goto nomem;
    tz->utc = is_utc_name(tz->name);
    if (tz->utc || (machine && !getenv("TZ")))
        return tz; /* UTC needs no lookups; the machine default converts with TZ unset */
    if (check_zone(tz->name, err) != 0) {
        lme_tz_destroy(tz);
        return NULL;
    }
    size_t len = strlen(tz->name) + 2;
    tz->tz_value = malloc(len);
    if (!tz->tz_value)
        goto nomem;
    snprintf(tz->tz_value, len, ":%s", tz->name);
    return tz;
nomem:
    lme_tz_destroy(tz);
    lme_err_set(err, LME_ENOMEM, "time zone: out of memory");
    return NULL;
}

void lme_tz_destroy(struct lme_tz *tz)
{
    if (!tz)
        return;
    free(tz->name);
    free(tz->tz_value);
    free(tz);
}

const char *lme_tz_name(const struct lme_tz *tz)
{
    return tz->name;
}

/* ---- conversion ---- */

/* A UTC offset of more than a day is no offset: what an unknown answer becomes. */
#define NO_OFFSET INT64_MIN

static int64_t offset_at(int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if ((int64_t)tt != t || !localtime_r(&tt, &tm))
        return NO_OFFSET;
    return tm.tm_gmtoff;
}

/* The offset for local time `local` (seconds, read as if UTC), or NO_OFFSET when the C library
 * cannot tell. Offsets a day before and after are the candidates: one that reproduces itself is
 * valid; two valid ones mean the repeated hour, where the first occurrence (the earlier instant)
 * wins; none means the time falls in a gap, read with the offset in force before it. Caller
 * holds tz_lock with TZ set. */
static int64_t offset_for_local(int64_t local)
{
    int64_t before = offset_at(local - 86400), after = offset_at(local + 86400);
    if (before == NO_OFFSET || after == NO_OFFSET)
        return NO_OFFSET;
    bool before_ok = offset_at(local - before) == before;
    bool after_ok = offset_at(local - after) == after;
    if (before_ok && after_ok)
        return before > after ? before : after; /* larger offset = earlier instant */
    if (after_ok)
        return after;
    return before;
}

static int64_t lookup_offset(const struct lme_tz *tz, int64_t local)
{
    pthread_mutex_lock(&tz_lock);
    char *saved = getenv("TZ") ? strdup(getenv("TZ")) : NULL;
    if (tz->tz_value)
        setenv("TZ", tz->tz_value, 1);
    else
        unsetenv("TZ");
    tzset();
    int64_t off = offset_for_local(local);
    if (saved)
        setenv("TZ", saved, 1);
    else
        unsetenv("TZ");
    tzset();
    free(saved);
    pthread_mutex_unlock(&tz_lock);
    return off;
}

/* The years an RFC 3339 time can name, 0001 to 9999: a local time near either end can convert
 * to a UTC time beyond them. */
#define UTC_MIN_SECONDS (-62135596800LL) /* 0001-01-01T00:00:00Z */
#define UTC_END_SECONDS 253402300800LL   /* 10000-01-01T00:00:00Z */

int lme_tz_to_utc(struct lme_tz *tz, const struct lme_civil *c, int64_t *utc_ms)
{
    if (!civil_valid(c))
        return LME_EINVAL;
    int sec = c->sec == 60 ? 59 : c->sec;
    int64_t local = days_from_civil(c->year, c->month, c->day) * 86400 + c->hour * 3600 +
                    c->min * 60 + sec;
    if (!tz->utc) {
        int64_t slot = floor_div(local, SLOT_SECONDS);
        if (slot != tz->slot) {
            tz->offset = lookup_offset(tz, local);
            tz->slot = slot;
        }
        if (tz->offset == NO_OFFSET)
            return LME_ERANGE;
        local -= tz->offset;
    }
    if (local < UTC_MIN_SECONDS || local >= UTC_END_SECONDS)
        return LME_ERANGE;
    *utc_ms = local * 1000 + c->msec;
    return 0;
}

static void put_digits(char *w, int v, int n)
{
    for (int i = n - 1; i >= 0; i--, v /= 10)
        w[i] = (char)('0' + v % 10);
}

void lme_utc_format(int64_t ms, char out[25])
{
    static const int64_t lo = -62167219200000LL, hi = 253402300799999LL; /* 0000-01-01, 9999-12-31 */
    struct lme_civil c;
    lme_tz_civil_from_ms(ms < lo ? lo : ms > hi ? hi : ms, &c);
    memcpy(out, "0000-00-00T00:00:00.000Z", 25);
    put_digits(out, c.year, 4);
    put_digits(out + 5, c.month, 2);
    put_digits(out + 8, c.day, 2);
    put_digits(out + 11, c.hour, 2);
    put_digits(out + 14, c.min, 2);
    put_digits(out + 17, c.sec, 2);
    put_digits(out + 20, c.msec, 3);
}
