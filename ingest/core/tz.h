/* Time zones: converts a record's local wall-clock time, read in an IANA zone, to UTC.
 *
 * Browse logs carry local time without a zone; each source names its zone (default: the machine's).
 * Conversions are cached per local hour, so the hot path costs a comparison; a cache miss asks the
 * C library (mktime under TZ=<zone>), serialised by a process-wide lock because TZ is process state.
 * Nothing else in lme-ingest may call localtime()/mktime(): the daemon's own log uses UTC only. */
#ifndef LME_TZ_H
#define LME_TZ_H

#include <stdint.h>

#include "err.h"

/* A local civil time as read from a record. */
struct lme_civil {
    int year;  /* e.g. 1998 */
    int month; /* 1..12 */
    int day;   /* 1..31 */
    int hour;  /* 0..23 */
    int min;   /* 0..59 */
    int sec;   /* 0..60 (a leap second is read as :59) */
    int msec;  /* 0..999 */
};

struct lme_tz;

/* Opens zone `name` (an IANA name such as "Europe/Berlin", or "UTC"). NULL or "" means the
 * machine's zone (TZ, else /etc/localtime). Fails with LME_EINVAL when the zone does not exist
 * under the zoneinfo directory (TZDIR, default /usr/share/zoneinfo), naming it in err.
 * The caller owns the result and frees it with lme_tz_destroy. */
struct lme_tz *lme_tz_open(const char *name, struct lme_err *err);

/* NULL-safe. */
void lme_tz_destroy(struct lme_tz *tz);

/* The zone's IANA name ("Europe/Berlin"; for the machine's zone the name it resolves to, or
 * "localtime" when it cannot be told). Borrowed until lme_tz_destroy. */
const char *lme_tz_name(const struct lme_tz *tz);

/* Converts local civil time to milliseconds since the epoch, UTC. Returns 0; LME_EINVAL when
 * a field is out of range (month 13, day 31 in April, year 0, ...); LME_ERANGE when the UTC time
 * falls outside the years 0001 to 9999 (9999-12-31 23:30 in New York is in the year 10000) or
 * the C library cannot tell the zone's offset at that time. *utc_ms is unchanged on failure.
 * A time in a DST gap is read with the offset in force before the gap; an ambiguous time (the
 * repeated hour at DST's end) is read as its first occurrence.
 * Not thread-safe for one tz (it updates its cache); distinct tz objects may be used concurrently. */
int lme_tz_to_utc(struct lme_tz *tz, const struct lme_civil *local, int64_t *utc_ms);

/* Civil fields (UTC) of a time in milliseconds since the epoch; pure arithmetic, no zone. */
void lme_tz_civil_from_ms(int64_t ms, struct lme_civil *out);

/* ms since the epoch as "1998-03-18T03:22:50.000Z" (24 characters and a NUL), UTC, without the
 * C library's calendar: state files and incident events write several per change. Years outside
 * 0000..9999 are clamped to them. */
void lme_utc_format(int64_t ms, char out[25]);

#endif
