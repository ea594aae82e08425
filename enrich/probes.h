/* One probe round for one connector: the shares its paths lie on, its Notes.ini (and the
 * KeyFileName in it), its ID file, its Notes server and its Exchconn.ini, each result kept with
 * a sentence an operator can read. A check that cannot be made is not guessed at: it is
 * unverified, with why. Reads only the files the connector's config names and the files their
 * Windows paths lead to (size-capped, confined to the mapped folders: a path that resolves
 * outside its folder is neither stat()ed nor opened) and connects only to the host and port it
 * names; runs no commands. */
#ifndef LME_PROBES_H
#define LME_PROBES_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "enrich.h"
#include "err.h"
#include "probe_file.h"
#include "probe_net.h"

#define PROBES_MAX_INI_BYTES (256 * 1024)
#define PROBES_MAX_SHARES 4 /* a round looks through at most four paths: ini, key, id, exchconn */
#define PROBES_NAME 1024    /* a Windows path, as the connector knows it */

/* Why a check could not be made (docs/diagnosis.md, `reason`). */
enum probe_why {
    PROBE_WHY_NONE,              /* the check was made */
    PROBE_WHY_UNMAPPED_PATH,     /* no path_map entry covers its Windows path (UNC, a drive) */
    PROBE_WHY_REFUSED_PATH,      /* its Windows path has a '..' component */
    PROBE_WHY_OUTSIDE_MAPPING,   /* it resolves outside its mapped folder (a symlink) */
    PROBE_WHY_SHARE_UNAVAILABLE, /* its mapped folder is missing, unreadable or empty */
    PROBE_WHY_UNKNOWN_ACCOUNT,   /* service_user does not exist on this collector */
    PROBE_WHY_NO_ACCOUNT,        /* no service_user configured */
    PROBE_WHY_NETWORK_FS,        /* its mode bits are the mount's, not its Windows ACL */
    PROBE_WHY_LOOKUP_FAILED,     /* the collector could not look it up (permissions, I/O) */
};

enum probe_ini_status {
    PROBE_INI_NOT_CONFIGURED,
    PROBE_INI_OK,
    PROBE_INI_MISSING,    /* no such file */
    PROBE_INI_NOT_FILE,   /* a folder, or something else than a regular file */
    PROBE_INI_UNREADABLE, /* cannot be read (permissions, I/O) */
    PROBE_INI_TOO_LARGE,
    PROBE_INI_UNVERIFIED, /* see ini_why */
};

enum probe_key_status {
    PROBE_KEY_NOT_CHECKED, /* no Notes.ini to read, or no id_file to compare with */
    PROBE_KEY_MATCH,       /* KeyFileName names the connector's ID file */
    PROBE_KEY_NO_LINE,     /* the [Notes] section has no KeyFileName */
    PROBE_KEY_MISMATCH,    /* it names another file */
    PROBE_KEY_UNVERIFIED,  /* see key_why */
};

/* A path_map folder a path of the round lies in. */
struct probe_share {
    char windows[256];    /* its Windows prefix, as configured */
    char local[PATH_MAX]; /* its local folder */
    bool available;       /* there, listable and not empty */
    int error;            /* why not: the errno of opendir, 0 when it is empty */
    char detail[1024];
};

struct probe_report {
    int64_t probed_at_ms; /* wall clock, ms since the epoch */
    int took_ms;
    char collector[256];  /* this machine's name: where the checks were made from */

    struct probe_share shares[PROBES_MAX_SHARES];
    int n_shares;

    enum probe_ini_status ini;
    enum probe_why ini_why;
    char ini_name[PROBES_NAME]; /* the Notes.ini's Windows path; "" when no path_map covers it */
    char ini_detail[1024];

    enum probe_key_status key;
    enum probe_why key_why;
    char key_value[256];        /* KeyFileName as written */
    char key_name[PROBES_NAME]; /* the Windows path it leads to (Directory= joined) */
    char key_local[PATH_MAX];   /* where that is on this machine */
    char key_detail[1024];

    bool id_checked;
    enum probe_why id_why;
    char id_name[PROBES_NAME];  /* the ID file's Windows path; "" when no path_map covers it */
    struct probe_file_result id; /* meaningful unless id_why is a reason found before looking */

    bool server_checked;
    struct probe_net_result server;

    bool exchconn_checked;
    bool exchconn_read;
    enum probe_why exchconn_why;
    char exchconn_detail[1024]; /* NOTESSERVER per process, or why it could not be read */
};

/* Runs every probe of c, bounded by timeout_ms for the network. Returns 0 (r filled) or
 * LME_ENOMEM. Blocking; any thread (no shared state). */
int probes_run(const struct enrich_connector *c, int timeout_ms, struct probe_report *r);

/* The outcome of each configured check of r (notes_ini, keyfilename, id_file, notes_server,
 * then each share as "share"), at most max; returns how many. subjects[k] (when subjects is not
 * NULL) is the share's Windows prefix for a share, else "". Borrowed from r. */
size_t probes_outcomes(const struct probe_report *r, struct enrich_check *out,
                       const char **subjects, size_t max);

/* The checks of r that came out as want, listed into out (size bytes, cut to fit): for a log
 * line "keyfilename,id_file(no_account),share:C:\\", else for a sentence
 * "keyfilename (unmapped_path), share C:\\". Returns how many. */
int probes_list(const struct probe_report *r, enum enrich_check_result want, bool for_log,
                char *out, size_t size);

/* Stable names for reports: "ok", "missing", ..., "unverified"; "unmapped_path", ... */
const char *probes_ini_status_name(enum probe_ini_status s);
const char *probes_key_status_name(enum probe_key_status s);
const char *probes_why_name(enum probe_why w);

/* The word a check's result is shown with: "unverified" when why is set, else the status's. */
const char *probes_id_result(const struct probe_report *r);

#endif
