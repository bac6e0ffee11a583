"""Write the Grafana dashboards of roles/observability/files/dashboards from the panel lists below.

The JSON files are committed (Grafana provisions them from files); edit this script and re-run it rather than
the JSON. Every expression must return series on a metal3-scenario lab: tests/integration checks each one.
"""

from __future__ import annotations

import json
import os
import sys

OUT = os.path.join(os.path.dirname(__file__), "..", "roles", "observability", "files", "dashboards")
DS = {"type": "prometheus", "uid": "${datasource}"}
CAPI_KINDS = (
    "clusters.cluster.x-k8s.io|machines.cluster.x-k8s.io|machinedeployments.cluster.x-k8s.io|"
    "kubeadmcontrolplanes.controlplane.cluster.x-k8s.io|baremetalhosts.metal3.io|metal3machines.infrastructure.cluster.x-k8s.io|"
    "secrets|events|leases.coordination.k8s.io"
)

# (title, unit, [(expr, legend)]); panels are laid out two per row.
DASHBOARDS = {
    "scalelab-overview": (
        "scalelab / Management cluster overview",
        [
            ("Objects per resource", "short", [(f'scalelab:objects{{resource=~"{CAPI_KINDS}"}}', "{{resource}}")]),
            (
                "Clusters ready",
                "short",
                [
                    (
                        'sum by (type) (capi_cluster_status_condition{type=~"Ready|Available", status="True"})',
                        "{{type}}",
                    ),
                    ("count(capi_cluster_created)", "created"),
                ],
            ),
            ("Scrape targets up", "short", [("up", "{{job}}")]),
            ("Reconcile errors per second", "ops", [("sum by (job) (scalelab:reconcile_errors_rate)", "{{job}}")]),
            ("CPU per process (cores)", "short", [("scalelab:process_cpu_cores", "{{job}}")]),
            ("Resident memory per process", "bytes", [("scalelab:process_resident_memory_bytes", "{{job}}")]),
        ],
    ),
    "scalelab-etcd": (
        "scalelab / etcd",
        [
            (
                "Database size",
                "bytes",
                [
                    ("scalelab:etcd_db_size_bytes", "db size"),
                    ("max(etcd_mvcc_db_total_size_in_use_in_bytes)", "in use"),
                ],
            ),
            (
                "WAL fsync and backend commit P99",
                "s",
                [
                    ("scalelab:etcd_wal_fsync_p99_seconds", "wal fsync"),
                    ("scalelab:etcd_backend_commit_p99_seconds", "backend commit"),
                ],
            ),
            ("Leader changes", "short", [("scalelab:etcd_leader_changes", "leader changes")]),
            (
                "Requests from kube-apiserver, P99 by operation",
                "s",
                [
                    (
                        "histogram_quantile(0.99, sum by (operation, le)"
                        " (rate(etcd_request_duration_seconds_bucket[1m])))",
                        "{{operation}}",
                    )
                ],
            ),
            ("etcd CPU (cores)", "short", [('scalelab:process_cpu_cores{job="etcd"}', "cpu")]),
            ("etcd resident memory", "bytes", [('scalelab:process_resident_memory_bytes{job="etcd"}', "rss")]),
        ],
    ),
    "scalelab-apiserver": (
        "scalelab / API server",
        [
            (
                "Request P99 (mutating, read-only)",
                "s",
                [
                    ("scalelab:apiserver_mutating_p99_seconds", "mutating"),
                    ("scalelab:apiserver_readonly_p99_seconds", "read-only"),
                ],
            ),
            ("Requests per second by verb", "reqps", [("scalelab:apiserver_requests_rate", "{{verb}}")]),
            ("5xx ratio", "percentunit", [("scalelab:apiserver_5xx_ratio", "5xx")]),
            (
                "429s per second (server and clients)",
                "reqps",
                [("scalelab:apiserver_429_rate", "apiserver"), ("scalelab:client_requests_429_rate", "{{job}}")],
            ),
            ("In-flight requests", "short", [("scalelab:apiserver_inflight_requests", "{{request_kind}}")]),
            (
                "Priority and fairness: queued requests",
                "short",
                [("sum by (priority_level) (apiserver_flowcontrol_current_inqueue_requests)", "{{priority_level}}")],
            ),
            (
                "Watches",
                "short",
                [('sum by (resource) (apiserver_longrunning_requests{verb="WATCH"})', "{{resource}}")],
            ),
            (
                "API server CPU and memory",
                "short",
                [
                    ('scalelab:process_cpu_cores{job="kube-apiserver"}', "cores"),
                    ('scalelab:process_resident_memory_bytes{job="kube-apiserver"} / 2^30', "RSS GiB"),
                ],
            ),
        ],
    ),
    "scalelab-controllers": (
        "scalelab / Controller performance",
        [
            ("Reconcile P99 by controller", "s", [("scalelab:reconcile_p99_seconds", "{{job}} {{controller}}")]),
            ("Reconciles per second", "ops", [("scalelab:reconcile_rate", "{{job}} {{controller}}")]),
            ("Work-queue depth", "short", [("scalelab:workqueue_depth", "{{job}} {{name}}")]),
            ("Work-queue wait P99", "s", [("scalelab:workqueue_queue_p99_seconds", "{{job}} {{name}}")]),
            (
                "CPU per manager (cores)",
                "short",
                [('scalelab:process_cpu_cores{job=~"capi-.*|metal3-.*|apiserver-farm"}', "{{job}}")],
            ),
            (
                "Resident memory per manager",
                "bytes",
                [('scalelab:process_resident_memory_bytes{job=~"capi-.*|metal3-.*|apiserver-farm"}', "{{job}}")],
            ),
            (
                "Client requests per second (and 429s)",
                "reqps",
                [("scalelab:client_requests_rate", "{{job}}"), ("scalelab:client_requests_429_rate", "{{job}} 429")],
            ),
            ("Reconcile errors per second", "ops", [("scalelab:reconcile_errors_rate", "{{job}} {{controller}}")]),
        ],
    ),
    "scalelab-provisioning": (
        "scalelab / Provisioning progress",
        [
            (
                "Clusters created and ready",
                "short",
                [
                    ("count(capi_cluster_created)", "created"),
                    ('sum(capi_cluster_status_condition{type=~"Ready|Available", status="True"})', "ready"),
                ],
            ),
            ("Machines by phase", "short", [("sum by (phase) (capi_machine_status_phase)", "{{phase}}")]),
            (
                "Control-plane and worker replicas ready",
                "short",
                [
                    (
                        "sum by (kind) (label_replace(capi_kubeadmcontrolplane_status_ready_replicas,"
                        ' "kind", "KubeadmControlPlane", "", "") or label_replace('
                        'capi_machinedeployment_status_ready_replicas, "kind", "MachineDeployment", "", ""))',
                        "{{kind}}",
                    )
                ],
            ),
            (
                "BareMetalHosts by provisioning state",
                "short",
                [("sum by (state) (metal3_baremetalhost_status_provisioning_state)", "{{state}}")],
            ),
            (
                "Metal3Machines ready",
                "short",
                [
                    ("sum(metal3_metal3machine_status_ready)", "ready"),
                    ("count(metal3_metal3machine_created)", "created"),
                ],
            ),
            ("BareMetalHost errors", "short", [("sum(metal3_baremetalhost_status_error_count)", "errors")]),
        ],
    ),
}


def panel(pid: int, title: str, unit: str, targets: list, x: int, y: int) -> dict:
    return {
        "id": pid,
        "type": "timeseries",
        "title": title,
        "datasource": DS,
        "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi"}},
        "targets": [
            {"refId": chr(ord("A") + i), "datasource": DS, "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(targets)
        ],
    }


def dashboard(uid: str, title: str, panels: list) -> dict:
    return {
        "uid": uid,
        "title": title,
        "tags": ["scalelab"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "10s",
        "time": {"from": "now-1h", "to": "now"},
        "templating": {
            "list": [{"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus"}]
        },
        "annotations": {"list": []},
        "panels": [panel(i + 1, t, u, q, 12 * (i % 2), 8 * (i // 2)) for i, (t, u, q) in enumerate(panels)],
    }


def main() -> int:
    os.makedirs(OUT, exist_ok=True)
    for uid, (title, panels) in DASHBOARDS.items():
        with open(os.path.join(OUT, f"{uid}.json"), "w", encoding="utf-8") as f:
            json.dump(dashboard(uid, title, panels), f, indent=2, sort_keys=True)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
