#!/usr/bin/env python3
"""Writes deploy/grafana/lme-ingest.json, the Grafana dashboard for lme-ingest's metrics.

Standard library only. Run from anywhere:  python3 deploy/grafana/gen_dashboard.py
Every metric name the queries use is checked against the table in docs/metrics.md, so a
renamed metric fails here rather than as an empty panel.
"""
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(HERE, "lme-ingest.json")
METRICS_DOC = os.path.join(ROOT, "docs", "metrics.md")

DS = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
H = 'host=~"$host"'  # the host filter, for the metrics that have a host label

# Grafana's classic palette, fixed per series so the picture and the dashboard agree.
GREEN, YELLOW, ORANGE, RED = "#73BF69", "#FADE2A", "#FF9830", "#F2495C"
BLUE = "#5794F2"

_next_id = [0]


def nid():
    _next_id[0] += 1
    return _next_id[0]


def target(expr, legend="", ref="A", instant=False, fmt="time_series"):
    t = {"datasource": DS, "expr": expr, "legendFormat": legend or "__auto", "refId": ref,
         "editorMode": "code", "range": not instant, "instant": instant, "format": fmt}
    return t


def color_override(name, color):
    return {"matcher": {"id": "byName", "options": name},
            "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": color}}]}


def row(title, y):
    return {"type": "row", "id": nid(), "title": title, "collapsed": False,
            "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []}


def timeseries(title, desc, targets, pos, unit="short", stack=False, bars=False,
               overrides=None, legend_calcs=("mean", "max"), min0=True, decimals=None,
               interval=None, legend_mode="table"):
    custom = {"drawStyle": "bars" if bars else "line", "lineWidth": 1,
              "fillOpacity": 80 if bars else (35 if stack else 10),
              "gradientMode": "none", "showPoints": "never", "spanNulls": False,
              "axisPlacement": "auto", "axisLabel": "", "barAlignment": 0,
              "pointSize": 5, "lineInterpolation": "linear",
              "stacking": {"mode": "normal" if stack else "none", "group": "A"},
              "thresholdsStyle": {"mode": "off"}}
    defaults = {"unit": unit, "color": {"mode": "palette-classic"}, "custom": custom,
                "thresholds": {"mode": "absolute",
                               "steps": [{"color": "green", "value": None}]}}
    if min0:
        defaults["min"] = 0
    if decimals is not None:
        defaults["decimals"] = decimals
    extra = {"interval": interval} if interval else {}
    return {"type": "timeseries", "id": nid(), "title": title, "description": desc,
            "datasource": DS, "gridPos": pos, "targets": targets, **extra,
            "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
            "options": {"legend": {"showLegend": True, "displayMode": legend_mode,
                                   "placement": "bottom", "calcs": list(legend_calcs)},
                        "tooltip": {"mode": "multi", "sort": "desc"}}}


def stat(title, desc, expr, pos, unit="short", legend="", text_mode="value", steps=None,
         color_mode="value", decimals=None, graph=False, instant=True):
    defaults = {"unit": unit, "color": {"mode": "thresholds"},
                "thresholds": {"mode": "absolute",
                               "steps": steps or [{"color": "text", "value": None}]}}
    if decimals is not None:
        defaults["decimals"] = decimals
    return {"type": "stat", "id": nid(), "title": title, "description": desc, "datasource": DS,
            "gridPos": pos, "targets": [target(expr, legend, instant=instant)],
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "orientation": "auto", "textMode": text_mode, "colorMode": color_mode,
                        "graphMode": "area" if graph else "none", "justifyMode": "auto"}}


def build():
    p = []
    y = 0

    # ---- Overview -------------------------------------------------------------------------
    p.append(row("Overview", y)); y += 1
    p.append(stat("Build", "lme_build_info: the version and event schema version running "
                  "(one line per distinct pair when several daemons are scraped).",
                  "max by (version, schema_version) (lme_build_info)",
                  {"h": 4, "w": 4, "x": 0, "y": y},
                  legend="{{version}} · schema {{schema_version}}", text_mode="name",
                  color_mode="none"))
    p.append(stat("Uptime", "lme_uptime_seconds: of the most recently started daemon.",
                  "min(lme_uptime_seconds)", {"h": 4, "w": 3, "x": 4, "y": y},
                  unit="dtdurations", decimals=1,
                  steps=[{"color": ORANGE, "value": None}, {"color": GREEN, "value": 600}]))
    p.append(stat("Records / s", "Records read per second, all selected hosts.",
                  f"sum(rate(lme_input_records_total{{{H}}}[$__rate_interval]))",
                  {"h": 4, "w": 4, "x": 7, "y": y}, decimals=1, graph=True, instant=False,
                  steps=[{"color": BLUE, "value": None}]))
    p.append(stat("Files followed", "lme_input_files: files the inputs follow now.",
                  f"sum(lme_input_files{{{H}}})", {"h": 4, "w": 2, "x": 11, "y": y},
                  steps=[{"color": RED, "value": None}, {"color": GREEN, "value": 1}]))
    p.append(stat("41220 diagnosed (range)", "41220 events diagnosed over the dashboard's "
                  "time range, selected hosts (lme_diagnoses_total).",
                  f"sum(increase(lme_diagnoses_total{{{H}}}[$__range])) or vector(0)",
                  {"h": 4, "w": 4, "x": 13, "y": y}, decimals=0,
                  steps=[{"color": GREEN, "value": None}, {"color": RED, "value": 1}]))
    p.append(stat("Dead-lettered (range)", "Events set aside in a dead-letter file over the "
                  "time range, all sinks.",
                  "sum(increase(lme_sink_events_dead_lettered_total[$__range])) or vector(0)",
                  {"h": 4, "w": 3, "x": 17, "y": y}, decimals=0,
                  steps=[{"color": GREEN, "value": None}, {"color": RED, "value": 1}]))
    p.append(stat("Checkpoint save errors (range)", "lme_checkpoint_saves_total{result=\"error\"} "
                  "over the time range.",
                  'sum(increase(lme_checkpoint_saves_total{result="error"}[$__range])) '
                  "or vector(0)",
                  {"h": 4, "w": 4, "x": 20, "y": y}, decimals=0,
                  steps=[{"color": GREEN, "value": None}, {"color": RED, "value": 1}]))
    y += 4

    # ---- Input ----------------------------------------------------------------------------
    p.append(row("Input", y)); y += 1
    p.append(timeseries(
        "Records per second by host", "rate(lme_input_records_total): records read (events "
        "made) per second, per host.name.",
        [target(f"sum by (host) (rate(lme_input_records_total{{{H}}}[$__rate_interval]))",
                "{{host}}")],
        {"h": 8, "w": 12, "x": 0, "y": y}))
    p.append(timeseries(
        "Parse failures per second by host", "rate(lme_input_parse_failures_total): records "
        "tagged lme_parse_failure, per second, per host.name.",
        [target(f"sum by (host) (rate(lme_input_parse_failures_total{{{H}}}"
                "[$__rate_interval]))", "{{host}}")],
        {"h": 8, "w": 12, "x": 12, "y": y}, decimals=2))
    y += 8

    # ---- Events and the 41220 diagnosis --------------------------------------------------
    p.append(row("Events and the 41220 diagnosis", y)); y += 1
    p.append(timeseries(
        "Events by code per second", "lme_events_by_code_total: the codes that matter for the "
        "connector's health, stacked (left axis); every other code (other) and records "
        "without one (none) as dashed lines on the right axis, unstacked. All daemons: this "
        "metric has no host label.",
        [target('sum by (code) (rate(lme_events_by_code_total{code!~"other|none"}'
                '[$__rate_interval]))', "{{code}}", "A"),
         target('sum by (code) (rate(lme_events_by_code_total{code=~"other|none"}'
                '[$__rate_interval]))', "{{code}}", "B")],
        {"h": 8, "w": 12, "x": 0, "y": y}, stack=True, decimals=2, legend_mode="list",
        legend_calcs=(), overrides=[{"matcher": {"id": "byFrameRefID", "options": "B"},
                    "properties": [
                        {"id": "custom.stacking", "value": {"mode": "none", "group": "B"}},
                        {"id": "custom.axisPlacement", "value": "right"},
                        {"id": "custom.fillOpacity", "value": 0},
                        {"id": "custom.lineStyle",
                         "value": {"fill": "dash", "dash": [10, 10]}}]},
                   color_override("41220", RED)]))
    p.append(timeseries(
        "41220 by diagnosed cause and host", "increase(lme_diagnoses_total) per interval "
        "(5 min at least), stacked by host and probable cause (docs/diagnosis.md).",
        [target(f"sum by (host, cause) (increase(lme_diagnoses_total{{{H}}}[$__interval]))",
                "{{cause}} @ {{host}}")],
        {"h": 8, "w": 12, "x": 12, "y": y}, stack=True, bars=True, decimals=0,
        legend_calcs=("sum",), interval="5m"))  # bars of at least 5 min: increase() needs
    #                                               two samples in each $__interval
    y += 8
    p.append({
        "type": "bargauge", "id": nid(), "title": "41220 by cause over the time range",
        "description": "increase(lme_diagnoses_total[$__range]) per probable cause, selected "
                       "hosts.",
        "datasource": DS, "gridPos": {"h": 8, "w": 10, "x": 0, "y": y},
        "targets": [target(f"sort_desc(sum by (cause) (increase(lme_diagnoses_total{{{H}}}"
                           "[$__range])))", "{{cause}}", instant=True)],
        "fieldConfig": {"defaults": {"unit": "short", "decimals": 0, "min": 0,
                                     "color": {"mode": "fixed", "fixedColor": RED},
                                     "thresholds": {"mode": "absolute", "steps": [
                                         {"color": RED, "value": None}]}},
                        "overrides": []},
        "options": {"orientation": "horizontal", "displayMode": "basic", "showUnfilled": True,
                    "valueMode": "color", "namePlacement": "left", "minVizHeight": 10,
                    "reduceOptions": {"calcs": ["lastNotNull"], "fields": "",
                                      "values": False}}})
    p.append({
        "type": "table", "id": nid(), "title": "41220 by host and cause",
        "description": "Per host.name and probable cause: 41220 events over the time range "
                       "(increase) and the counter's latest value (since the daemon started).",
        "datasource": DS, "gridPos": {"h": 8, "w": 14, "x": 10, "y": y},
        "targets": [
            target(f"sum by (host, cause) (increase(lme_diagnoses_total{{{H}}}[$__range]))",
                   "", "A", instant=True, fmt="table"),
            target(f"sum by (host, cause) (lme_diagnoses_total{{{H}}})",
                   "", "B", instant=True, fmt="table")],
        "transformations": [
            {"id": "merge", "options": {}},
            {"id": "organize", "options": {
                "excludeByName": {"Time": True},
                "indexByName": {"host": 0, "cause": 1, "Value #A": 2, "Value #B": 3},
                "renameByName": {"Value #A": "in range", "Value #B": "since start"}}},
            {"id": "sortBy", "options": {"sort": [{"field": "in range", "desc": True}]}}],
        "fieldConfig": {"defaults": {"unit": "short", "decimals": 0,
                                     "custom": {"align": "auto", "filterable": True},
                                     "thresholds": {"mode": "absolute", "steps": [
                                         {"color": "text", "value": None}]}},
                        "overrides": [{"matcher": {"id": "byName", "options": "in range"},
                                       "properties": [
                                           {"id": "custom.cellOptions",
                                            "value": {"type": "color-text"}},
                                           {"id": "thresholds", "value": {
                                               "mode": "absolute", "steps": [
                                                   {"color": "text", "value": None},
                                                   {"color": RED, "value": 1}]}}]}]},
        "options": {"showHeader": True, "cellHeight": "sm",
                    "footer": {"show": False, "reducer": ["sum"], "fields": ""}}})
    y += 8

    # ---- Incidents ------------------------------------------------------------------------
    p.append(row("Connector incidents", y)); y += 1
    p.append(stat("Open incidents", "lme_incidents{state=\"open\"}: connectors failing now "
                  "(one incident per failure: docs/incidents.md).",
                  'sum(lme_incidents{state="open"}) or vector(0)',
                  {"h": 4, "w": 4, "x": 0, "y": y}, decimals=0,
                  steps=[{"color": GREEN, "value": None}, {"color": RED, "value": 1}]))
    p.append(stat("Predicted", "lme_incidents{state=\"predicted\"}: connectors whose periodic "
                  "probes found a fault before any 41220.",
                  'sum(lme_incidents{state="predicted"}) or vector(0)',
                  {"h": 4, "w": 4, "x": 0, "y": y + 4}, decimals=0,
                  steps=[{"color": GREEN, "value": None}, {"color": ORANGE, "value": 1}]))
    p.append({
        "type": "table", "id": nid(), "title": "Open incidents by host and cause",
        "description": "lme_incident_age_seconds: every open or predicted incident of the "
                       "selected hosts, with its connector (key), probable cause and age.",
        "datasource": DS, "gridPos": {"h": 8, "w": 12, "x": 4, "y": y},
        "targets": [target(f"max by (key, host, cause, state) (lme_incident_age_seconds{{{H}}})",
                           "", "A", instant=True, fmt="table")],
        "transformations": [
            {"id": "organize", "options": {
                "excludeByName": {"Time": True},
                "indexByName": {"host": 0, "key": 1, "cause": 2, "state": 3, "Value": 4},
                "renameByName": {"key": "connector", "Value": "open for"}}},
            {"id": "sortBy", "options": {"sort": [{"field": "open for", "desc": True}]}}],
        "fieldConfig": {"defaults": {"unit": "s", "decimals": 0,
                                     "custom": {"align": "auto", "filterable": True},
                                     "thresholds": {"mode": "absolute", "steps": [
                                         {"color": "text", "value": None}]}},
                        "overrides": []},
        "options": {"showHeader": True, "cellHeight": "sm",
                    "footer": {"show": False, "reducer": ["sum"], "fields": ""}}})
    p.append(timeseries(
        "Incidents opened and resolved by cause", "increase(lme_incidents_opened_total) and "
        "increase(lme_incidents_resolved_total) per interval (5 min at least), by cause.",
        [target('sum by (cause) (increase(lme_incidents_opened_total[$__interval]))',
                "opened {{cause}}", "A"),
         target('sum by (cause) (increase(lme_incidents_resolved_total[$__interval]))',
                "resolved {{cause}}", "B")],
        {"h": 8, "w": 8, "x": 16, "y": y}, bars=True, decimals=0,
        legend_calcs=("sum",), interval="5m"))
    y += 8

    # ---- Delivery -------------------------------------------------------------------------
    p.append(row("Delivery", y)); y += 1
    q = "sum by (le) (rate(lme_delivery_latency_seconds_bucket[$__rate_interval]))"
    p.append(timeseries(
        "Delivery latency p50 / p90 / p99", "histogram_quantile over "
        "lme_delivery_latency_seconds: from reading a record to its settlement by every sink.",
        [target(f"histogram_quantile(0.5, {q})", "p50", "A"),
         target(f"histogram_quantile(0.9, {q})", "p90", "B"),
         target(f"histogram_quantile(0.99, {q})", "p99", "C")],
        {"h": 8, "w": 8, "x": 0, "y": y}, unit="s",
        overrides=[color_override("p50", GREEN), color_override("p90", YELLOW),
                   color_override("p99", RED)]))
    p.append(timeseries(
        "In flight and producer queue", "lme_sink_events_in_flight: events handed to a sink, "
        "not settled yet; lme_kafka_producer_queue_messages: messages in librdkafka's queue.",
        [target("sum by (sink) (lme_sink_events_in_flight)", "in flight {{sink}}", "A"),
         target("sum by (sink) (lme_kafka_producer_queue_messages)", "rdkafka queue {{sink}}",
                "B")],
        {"h": 8, "w": 8, "x": 8, "y": y}, decimals=0))
    p.append(timeseries(
        "Delivered / retried / dead-lettered per second by sink",
        "Per sink: events settled as delivered (solid, left axis); re-sends after transient "
        "errors (dashed) and events dead-lettered (dotted) on the right axis.",
        [target("sum by (sink) (rate(lme_sink_events_delivered_total[$__rate_interval]))",
                "delivered {{sink}}", "A"),
         target("sum by (sink) (rate(lme_sink_events_retried_total[$__rate_interval]))",
                "retried {{sink}}", "B"),
         target("sum by (sink) (rate(lme_sink_events_dead_lettered_total[$__rate_interval]))",
                "dead-lettered {{sink}}", "C")],
        {"h": 8, "w": 8, "x": 16, "y": y}, decimals=2, legend_mode="list", legend_calcs=(),
        overrides=[{"matcher": {"id": "byFrameRefID", "options": ref},
                    "properties": [{"id": "custom.axisPlacement", "value": "right"},
                                   {"id": "custom.lineStyle",
                                    "value": {"fill": "dash", "dash": dash}}]}
                   for ref, dash in (("B", [10, 6]), ("C", [3, 3]))]))
    y += 8

    # ---- Checkpoints and probes -----------------------------------------------------------
    p.append(row("Checkpoints and probes", y)); y += 1
    p.append(timeseries(
        "Checkpoint lag by file", "lme_checkpoint_lag_bytes: bytes of each file after its "
        "settled offset, i.e. how far behind delivery is.",
        [target("max by (file) (lme_checkpoint_lag_bytes)", "{{file}}")],
        {"h": 8, "w": 12, "x": 0, "y": y}, unit="bytes", legend_calcs=("lastNotNull", "max")))
    p.append({
        "type": "state-timeline", "id": nid(), "title": "Probe health by connector and check",
        "description": "lme_probe_ok: 1 when the check passed in the last probe round, 0 when "
                       "it failed; empty before a round and for a check that could not be made "
                       "(unverified).",
        "datasource": DS, "gridPos": {"h": 8, "w": 12, "x": 12, "y": y},
        "targets": [target("min by (connector, check) (lme_probe_ok)",
                           "{{connector}} · {{check}}")],
        "fieldConfig": {"defaults": {
            "color": {"mode": "thresholds"},
            "thresholds": {"mode": "absolute", "steps": [{"color": RED, "value": None},
                                                         {"color": GREEN, "value": 1}]},
            "mappings": [{"type": "value", "options": {
                "0": {"text": "FAIL", "color": RED, "index": 0},
                "1": {"text": "OK", "color": GREEN, "index": 1}}}],
            "custom": {"lineWidth": 0, "fillOpacity": 80}},
            "overrides": []},
        "options": {"showValue": "auto", "mergeValues": True, "alignValue": "center",
                    "rowHeight": 0.85, "legend": {"showLegend": False},
                    "tooltip": {"mode": "single", "sort": "none"}}})
    y += 8
    return p


def dashboard():
    return {
        "annotations": {"list": [{
            "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
            "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
            "name": "Annotations & Alerts", "type": "dashboard"}]},
        "description": "lme-ingest: Exchange connector browse logs to Kafka, and the 41220 "
                       "diagnosis (docs/metrics.md).",
        "editable": True,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": None,
        "links": [],
        "liveNow": False,
        "panels": build(),
        "refresh": "30s",
        "schemaVersion": 39,
        "tags": ["lme-ingest", "exchange", "kafka"],
        "templating": {"list": [
            {"type": "datasource", "name": "DS_PROMETHEUS", "label": "Data source",
             "query": "prometheus", "current": {}, "hide": 0, "includeAll": False,
             "multi": False, "options": [], "refresh": 1, "regex": "", "skipUrlSync": False},
            {"type": "query", "name": "host", "label": "host", "datasource": DS,
             "definition": "label_values(lme_input_records_total, host)",
             "query": "label_values(lme_input_records_total, host)",
             "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
             "hide": 0, "includeAll": True, "allValue": ".*", "multi": True, "options": [],
             "refresh": 2, "regex": "", "skipUrlSync": False, "sort": 1}]},
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "",
        "title": "lme-ingest",
        "uid": "lme-ingest",
        "version": 1,
        "weekStart": ""}


def check_metric_names(d):
    """Every lme_* name in a query must be in docs/metrics.md's table (histogram: _bucket)."""
    doc = open(METRICS_DOC, encoding="utf-8").read()
    known = set(re.findall(r"^\| `(lme_[a-z_]+)` \|", doc, re.M))
    hist = {m for m in known if re.search(r"^\| `%s` \| histogram" % m, doc, re.M)}
    known |= {m + s for m in hist for s in ("_bucket", "_sum", "_count")}
    exprs = [json.loads('"%s"' % t) for t in re.findall(
        r'"(?:expr|query|definition)": "([^"\\]*(?:\\.[^"\\]*)*)"', json.dumps(d))]
    used = set()
    for text in exprs:
        used |= set(re.findall(r"\blme_[a-z_]+", text))
    bad = sorted(used - known)
    if bad:
        sys.exit("metric names not in docs/metrics.md: " + ", ".join(bad))
    # label names: those in the table's labels column, plus le (histogram buckets)
    labels = {"le"}
    for cell in re.findall(r"^\| `lme_[a-z_]+` \| [^|]+ \| ([^|]*) \|", doc, re.M):
        labels |= set(re.findall(r"`([a-z_]+)`", cell))
    used_labels = set()
    for text in exprs:
        for grp in re.findall(r"\bby \(([^)]*)\)", text):
            used_labels |= {x.strip() for x in grp.split(",")}
        used_labels |= set(re.findall(r"[{,]\s*([a-z_]+)\s*[!=]~?", text))
        used_labels |= set(re.findall(r"label_values\([a-z_]+, ([a-z_]+)\)", text))
    bad = sorted(used_labels - labels)
    if bad:
        sys.exit("label names not in docs/metrics.md: " + ", ".join(bad))
    return used


def main():
    d = dashboard()
    used = check_metric_names(d)
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(d, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {os.path.relpath(OUT, ROOT)}: {len(d['panels'])} panels, "
          f"{len(used)} metrics")


if __name__ == "__main__":
    main()
