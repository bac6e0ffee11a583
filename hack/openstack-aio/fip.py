"""Optional part: external network + router + floating IP on a server (API-level only; no L3 agent)."""
import openstack

c = openstack.connect(cloud='osaio')
ext = c.network.find_network('public') or c.network.create_network(
    name='public', is_router_external=True, provider_network_type='flat',
    provider_physical_network='public')
if not list(c.network.subnets(network_id=ext.id)):
    c.network.create_subnet(network_id=ext.id, name='public-subnet', ip_version=4,
                            cidr='203.0.113.0/24', enable_dhcp=False,
                            gateway_ip='203.0.113.1')
net = c.network.find_network('smoke-net') or c.network.create_network(name='smoke-net')
sub = next(iter(c.network.subnets(network_id=net.id)), None) or c.network.create_subnet(
    network_id=net.id, name='smoke-subnet', ip_version=4, cidr='10.250.0.0/24')
r = c.network.create_router(name='smoke-router', external_gateway_info={'network_id': ext.id})
c.network.add_interface_to_router(r, subnet_id=sub.id)
img = c.image.find_image('tiny')
flv = c.compute.find_flavor('m1.tiny')
s = c.compute.create_server(name='fip-vm', image_id=img.id, flavor_id=flv.id,
                            networks=[{'uuid': net.id}])
s = c.compute.wait_for_server(s, status='ACTIVE', wait=120, interval=1)
port = next(iter(c.network.ports(device_id=s.id)))
fip = c.network.create_ip(floating_network_id=ext.id, port_id=port.id)
print('fip', fip.floating_ip_address, fip.status, '->', fip.fixed_ip_address)
# also the cloud-layer helper the Ansible module uses (openstack.cloud.floating_ip)
s2 = c.get_server(s.id)
print('server addresses', s2.addresses)
c.network.delete_ip(fip)
c.compute.delete_server(s)
c.compute.wait_for_delete(s, wait=120, interval=1)
c.network.remove_interface_from_router(r, subnet_id=sub.id)
c.network.delete_router(r)
print('router/fip cleanup ok')
