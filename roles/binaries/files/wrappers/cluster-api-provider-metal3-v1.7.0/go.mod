module scalelab.local/wrappers/cluster-api-provider-metal3

go 1.22

require (
	github.com/metal3-io/cluster-api-provider-metal3 v1.7.0
	github.com/metal3-io/cluster-api-provider-metal3/api v1.7.0
)

replace github.com/metal3-io/cluster-api-provider-metal3/api => github.com/metal3-io/cluster-api-provider-metal3/api v1.7.0
