"""Serve one OpenStack WSGI app with gunicorn (gthread) on 127.0.0.1.

usage: wsgi_serve.py NAME PORT MODULE[:ATTR] [THREADS]
sys.argv is reset before the app module is imported, because some apps
(neutron) hand sys.argv[1:] to oslo.config.
"""
import importlib
import sys

from gunicorn.app.base import BaseApplication


class App(BaseApplication):
    def __init__(self, name, port, target, threads):
        self.name, self.port, self.target = name, port, target
        self.threads = threads
        super().__init__()

    def load_config(self):
        self.cfg.set('bind', '127.0.0.1:%s' % self.port)
        self.cfg.set('workers', 1)
        self.cfg.set('worker_class', 'gthread')
        self.cfg.set('threads', self.threads)
        self.cfg.set('timeout', 300)
        self.cfg.set('graceful_timeout', 5)
        self.cfg.set('proc_name', 'osaio-' + self.name)
        self.cfg.set('control_socket_disable', True)  # gunicorn>=25 default: ~/.gunicorn/gunicorn.ctl
        self.cfg.set('accesslog', '-')
        self.cfg.set('access_log_format', '%(t)s ACCESS "%(r)s" %(s)s %(B)s %(M)sms')

    def load(self):
        mod, _dummy, attr = self.target.partition(':')
        sys.argv = [self.name]
        return getattr(importlib.import_module(mod), attr or 'application')


if __name__ == '__main__':
    name, port, target = sys.argv[1:4]
    threads = int(sys.argv[4]) if len(sys.argv) > 4 else 4
    App(name, port, target, threads).run()
