// Wrapper that builds the Cluster API v1.7 managers (core, kubeadm bootstrap, kubeadm control plane) from the
// published sigs.k8s.io/cluster-api module and the in-memory provider (InMemoryCluster/InMemoryMachine) from
// sigs.k8s.io/cluster-api/test. The test module replaces cluster-api with ../ upstream; that replace does not
// apply here, so it is pinned to the same release.
module scalelab.local/wrappers/cluster-api

go 1.25.0

require (
	sigs.k8s.io/cluster-api v1.7.2
	sigs.k8s.io/cluster-api/test v1.7.2
)

replace sigs.k8s.io/cluster-api => sigs.k8s.io/cluster-api v1.7.2
