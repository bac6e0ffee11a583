module scalelab.local/wrappers/controller-tools

go 1.24.0

require sigs.k8s.io/controller-tools v0.18.0
