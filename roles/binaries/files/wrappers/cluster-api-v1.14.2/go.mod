// Wrapper that builds the Cluster API managers (core, kubeadm bootstrap, kubeadm control plane) from the
// published sigs.k8s.io/cluster-api module and CAPD (whose in-memory backend serves DevCluster/DevMachine)
// from sigs.k8s.io/cluster-api/test. Upstream replaces cluster-api and its /api module with local paths
// (pinned at v0.0.0 for dependents); those replaces do not apply here, so each is pinned to the release.
module scalelab.local/wrappers/cluster-api

go 1.26.0

require (
	sigs.k8s.io/cluster-api v1.14.2
	sigs.k8s.io/cluster-api/api v1.14.2
	sigs.k8s.io/cluster-api/test v1.14.2
)

replace (
	sigs.k8s.io/cluster-api => sigs.k8s.io/cluster-api v1.14.2
	sigs.k8s.io/cluster-api/api => sigs.k8s.io/cluster-api/api v1.14.2
)
