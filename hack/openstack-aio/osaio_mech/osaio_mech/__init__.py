"""Agent-less ML2 mechanism driver for an all-in-one test cloud.

Binds every port on the first segment offered, with vif_type=ovs and
status ACTIVE, so that nova (with compute_driver=fake.FakeDriver) gets a
bound port without any L2 agent running.  Test use only.
"""
from neutron_lib.api.definitions import portbindings
from neutron_lib import constants
from neutron_lib.plugins.ml2 import api


class NoopBindMechanismDriver(api.MechanismDriver):

    def initialize(self):
        pass

    def bind_port(self, context):
        for segment in context.segments_to_bind:
            context.set_binding(
                segment[api.ID], portbindings.VIF_TYPE_OVS,
                {portbindings.CAP_PORT_FILTER: True,
                 portbindings.OVS_HYBRID_PLUG: False},
                status=constants.PORT_STATUS_ACTIVE)
            return
