/* The enrichment stage's configuration keys (conf.h): `enrichment` over struct enrich_config,
 * each `connectors` entry over struct enrich_connector, and its `notes_server` object. The
 * daemon's loader reads them; `path_map` (an object of prefixes) it reads by hand. */
#include "enrich.h"

#define NOTES_PORT 1352 /* Notes RPC, by convention */

static const struct conf_key enrichment_keys[] = {
    CONF_BOOL_KEY(struct enrich_config, enabled, "enabled", 1,
                  "false: no diagnosis at all, events pass untouched"),
    CONF_INT_KEY(struct enrich_config, cache_ms, "probe_cache_ms", 60000, 0, 86400000,
                 "a probe round's results serve every 41220 of its connector this long"),
    CONF_INT_KEY(struct enrich_config, max_wait_ms, "max_wait_ms", 3000, 0, 60000,
                 "the longest a 41220 waits for a running probe round"),
    CONF_INT_KEY(struct enrich_config, probe_timeout_ms, "probe_timeout_ms", 2000, 10, 60000,
                 "the network budget of a round"),
    CONF_INT_KEY(struct enrich_config, context_records, "context_records", 16, 1, 1024,
                 "records that can explain a 41220 kept per host and component"),
    CONF_INT_KEY(struct enrich_config, context_max_age_ms, "context_max_age_ms", 60000, 0,
                 86400000, "records older than this before a 41220 do not count"),
    CONF_INT_KEY(struct enrich_config, probe_horizon_ms, "probe_horizon_ms", 3600000, 0,
                 36500LL * 86400000,
                 "a 41220 older than this before its probes gets their causes at most medium"),
    CONF_BOOL_KEY(struct enrich_config, incidents, "incidents", 1,
                  "turn the 41220s of each connector into incidents (docs/incidents.md)"),
    CONF_INT_KEY(struct enrich_config, incident_quiet_ms, "incident_quiet_ms", 900000, 1000,
                 36500LL * 86400000, "an incident without a 41220 for this long (log time) is resolved"),
    CONF_INT_KEY(struct enrich_config, incident_update_ms, "incident_update_ms", 300000, 0,
                 36500LL * 86400000, "an open incident's running count goes out at most this often"),
};

const struct conf_table enrich_config_keys = CONF_TABLE("enrichment", enrichment_keys);

static const struct conf_key connector_keys[] = {
    CONF_STRING_KEY(struct enrich_connector, notes_ini, "notes_ini", NULL,
                    "local path of the Notes.ini the connector uses"),
    CONF_STRING_KEY(struct enrich_connector, id_file, "id_file", NULL,
                    "local path of the connector's ID file"),
    CONF_OWN_KEY("notes_server", false, "host and port of the Notes server"),
    CONF_STRING_KEY(struct enrich_connector, service_user, "service_user", NULL,
                    "the local account the share maps the connector's account to"),
    CONF_STRING_KEY(struct enrich_connector, exchconn_ini, "exchconn_ini", NULL,
                    "local path of Exchconn.ini"),
    CONF_OWN_KEY("path_map", false, "Windows path prefix to local folder"),
    CONF_INT_KEY(struct enrich_connector, probe_interval_ms, "probe_interval_ms", 0, 0, 86400000,
                 "while following, run the probe round this often to predict incidents; 0: off"),
};

const struct conf_table enrich_connector_keys = CONF_TABLE("connectors", connector_keys);

static const struct conf_key server_keys[] = {
    CONF_REQUIRED_STRING_KEY(struct enrich_connector, server_host, "host",
                             "the Notes server's host name"),
    CONF_INT_KEY(struct enrich_connector, server_port, "port", NOTES_PORT, 1, 65535,
                 "its TCP port"),
};

const struct conf_table enrich_server_keys = CONF_TABLE("connectors.notes_server", server_keys);
