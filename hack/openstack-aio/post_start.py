"""After all services run: map the compute host, create flavor + image.

usage: <venv>/bin/python post_start.py NOVA_CONF   (start.sh runs it)
"""
import os
import subprocess
import sys
import time

import openstack

NOVA_CONF = sys.argv[1]

c = openstack.connect(cloud='osaio')
t0 = time.time()
# 1. nova-compute registered its service record and resource provider
while True:
    svcs = [s for s in c.compute.services() if s.binary == 'nova-compute']
    if svcs and svcs[0].state == 'up':
        break
    if time.time() - t0 > 180:
        raise SystemExit('nova-compute did not come up')
    time.sleep(1)
while not list(c.placement.resource_providers()):
    if time.time() - t0 > 180:
        raise SystemExit('no resource provider in placement')
    time.sleep(1)
# 2. map the host to cell1. The scheduler does this too, every 5 s: a run that races it fails with "Duplicate
#    host mapping" (seen in a CI rehearsal) while the mapping is there all the same, so its exit code is not
#    what counts; the hypervisor below is.
subprocess.run([os.path.join(os.path.dirname(sys.executable), 'nova-manage'),
                '--config-file', NOVA_CONF, 'cell_v2', 'discover_hosts',
                '--verbose'], check=False)
while not list(c.compute.hypervisors()):
    if time.time() - t0 > 180:
        raise SystemExit('the compute host was never mapped to cell1')
    time.sleep(1)
print('compute ready after %.1fs' % (time.time() - t0))
# 3. flavor + image
if not c.compute.find_flavor('m1.tiny'):
    c.compute.create_flavor(name='m1.tiny', ram=64, vcpus=1, disk=1,
                            id='1', is_public=True)
if not c.image.find_image('tiny'):
    img = c.create_image('tiny', data=b'\0' * 1024, disk_format='raw',
                         container_format='bare', visibility='public',
                         wait=True)
    print('image', img.id, img.status)
print('done after %.1fs' % (time.time() - t0))
