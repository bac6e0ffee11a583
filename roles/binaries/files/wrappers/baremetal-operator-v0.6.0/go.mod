module scalelab.local/wrappers/baremetal-operator

go 1.22

require (
	github.com/metal3-io/baremetal-operator v0.6.0
	github.com/metal3-io/baremetal-operator/apis v0.6.0
	github.com/metal3-io/baremetal-operator/pkg/hardwareutils v0.6.0
)

replace (
	github.com/metal3-io/baremetal-operator/apis => github.com/metal3-io/baremetal-operator/apis v0.6.0
	github.com/metal3-io/baremetal-operator/pkg/hardwareutils => github.com/metal3-io/baremetal-operator/pkg/hardwareutils v0.6.0
)
