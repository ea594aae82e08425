/* One probe round for one connector: its Notes.ini (and the KeyFileName in it), its ID file, its
 * Notes server and its Exchconn.ini, each result kept with a sentence an operator can read.
 * Reads only the files the connector's config names (size-capped, confined to the mapped trees)
 * and connects only to the host and port it names; runs no commands. */
#ifndef LME_PROBES_H
#define LME_PROBES_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "probe_file.h"
#include "probe_net.h"
#include "winpath.h"

#define PROBES_MAX_INI_BYTES (256 * 1024)

/* What the probes need to know about one connector (docs/config.md, `connectors`). Local paths
 * are the daemon's view of the files; Windows paths inside them go through path_map. */
struct enrich_connector {
    char *name;
    char *notes_ini;    /* local path of the Notes.ini the connector uses; NULL: not checked */
    char *id_file;      /* local path of the connector's ID file; NULL: not checked */
    char *server_host;  /* the Notes server's host name; NULL: not checked */
    int server_port;    /* 1352 by convention */
    char *service_user; /* the account the connector runs as; NULL: the daemon's own */
    char *exchconn_ini; /* local path of Exchconn.ini; NULL: not read */
    struct winpath_map *path_map;
    size_t n_path_map;
};

enum probe_ini_status {
    PROBE_INI_NOT_CONFIGURED,
    PROBE_INI_OK,
    PROBE_INI_MISSING,    /* no such file */
    PROBE_INI_NOT_FILE,   /* a folder, or something else than a regular file */
    PROBE_INI_UNREADABLE, /* cannot be read (permissions, I/O) */
    PROBE_INI_TOO_LARGE,
};

enum probe_key_status {
    PROBE_KEY_NOT_CHECKED, /* no Notes.ini to read, or no id_file to compare with */
    PROBE_KEY_MATCH,       /* KeyFileName names the connector's ID file */
    PROBE_KEY_NO_LINE,     /* the [Notes] section has no KeyFileName */
    PROBE_KEY_MISMATCH,    /* it names another file */
    PROBE_KEY_UNMAPPED,    /* its Windows path is outside every path_map prefix */
};

struct probe_report {
    int64_t probed_at_ms; /* wall clock, ms since the epoch */
    int took_ms;

    enum probe_ini_status ini;
    char ini_detail[1024];
    enum probe_key_status key;
    char key_value[256];     /* KeyFileName as written */
    char key_local[PATH_MAX]; /* where it leads on this machine */
    char key_detail[1024];

    bool id_checked;
    struct probe_file_result id;

    bool server_checked;
    struct probe_net_result server;

    bool exchconn_checked;
    char exchconn_detail[1024]; /* NOTESSERVER per process, or why it could not be read */
};

/* Runs every probe of c, bounded by timeout_ms for the network. Returns 0 (r filled) or
 * LME_ENOMEM. */
int probes_run(const struct enrich_connector *c, int timeout_ms, struct probe_report *r);

/* Stable names for reports: "ok", "missing", ... */
const char *probes_ini_status_name(enum probe_ini_status s);
const char *probes_key_status_name(enum probe_key_status s);

#endif
