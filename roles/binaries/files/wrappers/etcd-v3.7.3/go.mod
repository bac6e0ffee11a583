// Wrapper that builds etcd from the published server module (Debian's etcd 3.4 is too old
// for kube-apiserver v1.35). Only go.mod and go.sum live here; `go build` fetches the rest.
module scalelab.local/wrappers/etcd

go 1.26.0

require go.etcd.io/etcd/server/v3 v3.7.3
