"""Create service project/users/roles and the catalog entries (run after keystone-manage bootstrap)."""
import openstack

IP = '127.0.0.1'
PASS = 'osaio'
SERVICES = [  # name, type, url
    ('placement', 'placement', f'http://{IP}:16778'),
    ('glance', 'image', f'http://{IP}:16292'),
    ('nova', 'compute', f'http://{IP}:16774/v2.1'),
    ('neutron', 'network', f'http://{IP}:16696'),
]

c = openstack.connect(cloud='osaio')
idc = c.identity
dom = idc.find_domain('default')
proj = idc.find_project('service', domain_id=dom.id) or idc.create_project(
    name='service', domain_id=dom.id)
roles = {}
for r in ('admin', 'service', 'member', 'reader'):
    roles[r] = idc.find_role(r) or idc.create_role(name=r)
for name, stype, url in SERVICES:
    user = idc.find_user(name, domain_id=dom.id) or idc.create_user(
        name=name, password=PASS, domain_id=dom.id, default_project_id=proj.id)
    for r in ('admin', 'service'):
        idc.assign_project_role_to_user(proj, user, roles[r])
    svc = idc.find_service(name) or idc.create_service(name=name, type=stype)
    for iface in ('public', 'internal', 'admin'):
        idc.create_endpoint(service_id=svc.id, interface=iface, url=url,
                            region_id='RegionOne')
print('registered', [s[0] for s in SERVICES])
