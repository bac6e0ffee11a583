"""The loop the Ansible role needs, with openstacksdk:
keypair, security group + rules, network + subnet, N servers (with a nic or
networks='none'), wait ACTIVE, list, delete; optionally a router + FIP."""
import sys
import time

import openstack

N = int(sys.argv[1]) if len(sys.argv) > 1 else 3
MODE = sys.argv[2] if len(sys.argv) > 2 else 'nic'   # nic | none
c = openstack.connect(cloud='osaio')
t = {}

kp = c.compute.find_keypair('smoke-kp') or c.compute.create_keypair(name='smoke-kp')
sg = c.network.find_security_group('smoke-sg') or c.network.create_security_group(name='smoke-sg')
for port in (22, 80):
    try:
        c.network.create_security_group_rule(
            security_group_id=sg.id, direction='ingress', protocol='tcp',
            port_range_min=port, port_range_max=port, remote_ip_prefix='0.0.0.0/0',
            ethertype='IPv4')
    except openstack.exceptions.ConflictException:
        pass
net = c.network.find_network('smoke-net') or c.network.create_network(name='smoke-net')
if not list(c.network.subnets(network_id=net.id)):
    c.network.create_subnet(network_id=net.id, name='smoke-subnet', ip_version=4,
                            cidr='10.250.0.0/24')
img = c.image.find_image('tiny')
flv = c.compute.find_flavor('m1.tiny')

t0 = time.time()
servers = []
for i in range(N):
    kw = dict(name=f'smoke-{MODE}-{i}', image_id=img.id, flavor_id=flv.id,
              key_name=kp.name)
    if MODE == 'nic':
        kw['networks'] = [{'uuid': net.id}]
        kw['security_groups'] = [{'name': sg.name}]
    else:
        kw['networks'] = 'none'
    servers.append(c.compute.create_server(**kw))
servers = [c.compute.wait_for_server(s, status='ACTIVE', wait=300, interval=1)
           for s in servers]
t['active'] = time.time() - t0
for s in c.compute.servers():
    print(s.name, s.status, s.addresses)
if MODE == 'nic':
    ports = list(c.network.ports(device_owner='compute:nova'))
    print('ports', [(p.status, p.binding_vif_type, p.binding_host_id) for p in ports])
t1 = time.time()
for s in servers:
    c.compute.delete_server(s)
for s in servers:
    c.compute.wait_for_delete(s, wait=300, interval=1)
t['deleted'] = time.time() - t1
left = [(s.name, s.status, s.task_state) for s in c.compute.servers()]
print('remaining servers', left,
      'ports', len(list(c.network.ports(device_owner='compute:nova'))))
print('TIMES', {k: round(v, 1) for k, v in t.items()})
