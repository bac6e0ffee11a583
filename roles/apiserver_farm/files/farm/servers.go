package main

// Servers: one TLS listener per workload cluster on the port of its control-plane endpoint, all served by one
// http.Server. Cluster API's in-memory library provides the API server and etcd handlers and the object store;
// its WorkloadClustersMux is not used because it picks ports itself (ours are fixed by the cluster's endpoint,
// assigned when the cluster is created), listens on every address and has no hook for injected faults.

import (
	"context"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"sigs.k8s.io/cluster-api/util/certs"

	inmemoryruntime "sigs.k8s.io/cluster-api/test/infrastructure/inmemory/pkg/runtime"
	inmemoryapi "sigs.k8s.io/cluster-api/test/infrastructure/inmemory/pkg/server/api"
	inmemoryetcd "sigs.k8s.io/cluster-api/test/infrastructure/inmemory/pkg/server/etcd"
)

var (
	serversGauge = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "scalelab_farm_servers", Help: "Fake workload API servers listening.",
	})
	clustersGauge = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "scalelab_farm_clusters", Help: "Workload clusters registered in this farm (listening or not yet).",
	})
	nodesGauge = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "scalelab_farm_nodes", Help: "Nodes served by this farm.",
	})
	injectedErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "scalelab_farm_injected_errors_total", Help: "API requests answered with an injected error.",
	}, []string{"cluster"})
	injectedDelay = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "scalelab_farm_injected_delay_seconds_total", Help: "Latency added to API requests.",
	}, []string{"cluster"})
)

func init() {
	ctrlmetrics.Registry.MustRegister(serversGauge, clustersGauge, nodesGauge, injectedErrors, injectedDelay)
}

// Faults added to the API requests of one server (never to its etcd members' gRPC).
type Faults struct {
	Latency   time.Duration
	ErrorRate float64
}

// server is one fake workload cluster: its store (resource group), listener and certificates.
type server struct {
	key         string // namespace/name of the Metal3Cluster, also the resource group name
	clusterName string // the Cluster API Cluster, whose <name>-ca and <name>-etcd secrets sign our certificates
	port        int
	faults      Faults
	listener    net.Listener
	apiCert     *tls.Certificate
	etcdCerts   map[string]*tls.Certificate
	apiServers  map[string]bool
	nodes       map[string]bool
	// CAs whose client certificates this server lets in: the cluster's (Cluster API's kubeconfig) and its etcd
	// CA (the control plane's etcd client, port-forwarded back here). Replaced, never changed: handshakes read it.
	clientCAs *x509.CertPool
}

// Farm holds every server of this process.
type Farm struct {
	host     string // the address clusters' endpoints name (advertised)
	bindHost string // the address listeners bind to
	minPort  int
	maxPort  int
	defaults Faults
	manager  inmemoryruntime.Manager
	log      logr.Logger
	key      *rsa.PrivateKey // one serving key for all certificates: generating RSA keys is the expensive part

	mu     sync.RWMutex
	byKey  map[string]*server
	byPort map[string]*server
	http   *http.Server
}

func NewFarm(manager inmemoryruntime.Manager, host, bindHost string, minPort, maxPort int, defaults Faults, log logr.Logger) (*Farm, error) {
	key, err := certs.NewPrivateKey()
	if err != nil {
		return nil, err
	}
	f := &Farm{
		host: host, bindHost: bindHost, minPort: minPort, maxPort: maxPort, defaults: defaults,
		manager: manager, log: log, key: key,
		byKey: map[string]*server{}, byPort: map[string]*server{},
	}
	resolver := func(hostPort string) (string, error) {
		_, port, err := net.SplitHostPort(hostPort)
		if err != nil {
			return "", err
		}
		f.mu.RLock()
		defer f.mu.RUnlock()
		if s, ok := f.byPort[port]; ok {
			return s.key, nil
		}
		return "", fmt.Errorf("no workload cluster serves port %s", port)
	}
	// The library logs every request and watch at info level: quieter at V(2) (its errors still show).
	api := inmemoryapi.NewAPIServerHandler(manager, log.V(2), resolver)
	etcd := inmemoryetcd.NewEtcdServerHandler(manager, log.V(2), resolver)
	mixed := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("content-type"), "application/grpc") {
			etcd.ServeHTTP(w, r)
			return
		}
		if f.inject(w, r) {
			return
		}
		api.ServeHTTP(w, r)
	})
	f.http = &http.Server{
		Handler:           h2c.NewHandler(mixed, &http2.Server{}),
		ReadHeaderTimeout: 30 * time.Second,
		TLSConfig: &tls.Config{
			MinVersion:         tls.VersionTLS12,
			GetConfigForClient: f.configForClient,
		},
	}
	return f, nil
}

// InRange tells whether an endpoint is this farm's to serve.
func (f *Farm) InRange(host string, port int) bool {
	return host == f.host && port >= f.minPort && port <= f.maxPort
}

// inject adds the server's latency and answers with an injected error at its rate; true when it answered.
func (f *Farm) inject(w http.ResponseWriter, r *http.Request) bool {
	f.mu.RLock()
	s := f.byLocalAddr(r.Context())
	var faults Faults
	var key string
	if s != nil {
		faults, key = s.faults, s.key
	}
	f.mu.RUnlock()
	if faults.Latency > 0 {
		select {
		case <-time.After(faults.Latency):
		case <-r.Context().Done():
			return true
		}
		injectedDelay.WithLabelValues(key).Add(faults.Latency.Seconds())
	}
	if faults.ErrorRate > 0 && rand.Float64() < faults.ErrorRate { //nolint:gosec // a fault injector, not crypto
		injectedErrors.WithLabelValues(key).Inc()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",` +
			`"message":"error injected by the scalelab API server farm","reason":"InternalError","code":500}`))
		return true
	}
	return false
}

// byLocalAddr finds the server of a request by the port it arrived on. f.mu must be held.
func (f *Farm) byLocalAddr(ctx context.Context) *server {
	addr, ok := ctx.Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return nil
	}
	_, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return nil
	}
	return f.byPort[port]
}

// configForClient: like a real API server and etcd, a client must present a certificate signed by the
// cluster's CA or its etcd CA (the listeners are off loopback on farm hosts); the server's certificate by name.
func (f *Farm) configForClient(info *tls.ClientHelloInfo) (*tls.Config, error) {
	_, port, err := net.SplitHostPort(info.Conn.LocalAddr().String())
	if err != nil {
		return nil, err
	}
	f.mu.RLock()
	s, ok := f.byPort[port]
	var pool *x509.CertPool
	if ok {
		pool = s.clientCAs
	}
	f.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("no workload cluster serves port %s", port)
	}
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"h2", "http/1.1"}, // etcd's gRPC needs HTTP/2
		GetCertificate: f.certificate,
		ClientCAs:      pool,
		ClientAuth:     tls.RequireAndVerifyClientCert,
	}, nil
}

// trust lets in clients of one more CA. f.mu must be held for writing.
func (s *server) trust(ca *x509.Certificate) {
	pool := s.clientCAs.Clone()
	pool.AddCert(ca)
	s.clientCAs = pool
}

// certificate picks the etcd member's certificate when the client names that member (the port-forward to etcd
// sets the server name to the etcd pod), else the API server's.
func (f *Farm) certificate(info *tls.ClientHelloInfo) (*tls.Certificate, error) {
	_, port, err := net.SplitHostPort(info.Conn.LocalAddr().String())
	if err != nil {
		return nil, err
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	s, ok := f.byPort[port]
	if !ok {
		return nil, fmt.Errorf("no workload cluster serves port %s", port)
	}
	if c, ok := s.etcdCerts[info.ServerName]; ok {
		return c, nil
	}
	if s.apiCert == nil {
		return nil, fmt.Errorf("workload cluster %s has no API server yet", s.key)
	}
	return s.apiCert, nil
}

// Register reserves the endpoint's port for a cluster and creates its store; the listener opens with the first
// API server. A port held by another cluster is an error naming both.
func (f *Farm) Register(key, clusterName string, port int, faults Faults) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := strconv.Itoa(port)
	if other, ok := f.byPort[p]; ok && other.key != key {
		return fmt.Errorf("port %d of %s is already served for %s", port, key, other.key)
	}
	if s, ok := f.byKey[key]; ok {
		if s.port != port {
			return fmt.Errorf("%s moved from port %d to %d: endpoints are immutable", key, s.port, port)
		}
		s.faults = faults
		return nil
	}
	s := &server{
		key: key, clusterName: clusterName, port: port, faults: faults,
		etcdCerts: map[string]*tls.Certificate{}, apiServers: map[string]bool{}, nodes: map[string]bool{},
		clientCAs: x509.NewCertPool(),
	}
	f.manager.AddResourceGroup(key)
	f.byKey[key] = s
	f.byPort[p] = s
	clustersGauge.Set(float64(len(f.byKey)))
	f.log.Info("Workload cluster registered", "cluster", key, "endpoint", net.JoinHostPort(f.host, p))
	return nil
}

// Registered tells whether the cluster has a store here.
func (f *Farm) Registered(key string) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	_, ok := f.byKey[key]
	return ok
}

// SetFaults changes a registered server's faults; false when the cluster is not registered.
func (f *Farm) SetFaults(key string, faults Faults) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.byKey[key]
	if ok {
		s.faults = faults
	}
	return ok
}

// Unregister closes a cluster's listener and drops its store.
func (f *Farm) Unregister(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.byKey[key]
	if !ok {
		return
	}
	if s.listener != nil {
		_ = s.listener.Close()
		serversGauge.Dec()
	}
	nodesGauge.Sub(float64(len(s.nodes)))
	delete(f.byKey, key)
	delete(f.byPort, strconv.Itoa(s.port))
	f.manager.DeleteResourceGroup(key)
	clustersGauge.Set(float64(len(f.byKey)))
	f.log.Info("Workload cluster unregistered", "cluster", key)
}

// AddAPIServer records an API server pod of the cluster and, with the first, creates the serving certificate
// from the cluster CA and opens the listener.
func (f *Farm) AddAPIServer(key, pod string, caCert *x509.Certificate, caKey *rsa.PrivateKey) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.byKey[key]
	if !ok {
		return fmt.Errorf("%s is not registered", key)
	}
	if s.apiCert == nil {
		cfg := &certs.Config{
			CommonName: "kube-apiserver",
			AltNames: certs.AltNames{
				DNSNames: []string{"localhost", "kubernetes", "kubernetes.default"},
				IPs:      ips(f.host, f.bindHost),
			},
			Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		c, err := f.pair(cfg, caCert, caKey)
		if err != nil {
			return fmt.Errorf("serving certificate of %s: %w", key, err)
		}
		s.apiCert = c
		s.trust(caCert)
	}
	s.apiServers[pod] = true
	if s.listener == nil {
		l, err := net.Listen("tcp", net.JoinHostPort(f.bindHost, strconv.Itoa(s.port)))
		if err != nil {
			return fmt.Errorf("listen for %s: %w", key, err)
		}
		s.listener = l
		serversGauge.Inc()
		go func() {
			if err := f.http.ServeTLS(l, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
				f.log.Error(err, "Listener stopped", "cluster", key)
			}
		}()
		f.log.Info("API server listening", "cluster", key, "address", l.Addr().String())
	}
	return nil
}

// HasAPIServer tells whether the pod is recorded and the listener open.
func (f *Farm) HasAPIServer(key, pod string) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	s, ok := f.byKey[key]
	return ok && s.apiServers[pod] && s.listener != nil
}

// RemoveMachine forgets the API server, etcd member and node of a machine that is gone; the listener stays while
// the cluster exists (Cluster API still reads and deletes through it).
func (f *Farm) RemoveMachine(key, node string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.byKey[key]
	if !ok {
		return
	}
	delete(s.apiServers, "kube-apiserver-"+node)
	delete(s.etcdCerts, "etcd-"+node)
	if s.nodes[node] {
		delete(s.nodes, node)
		nodesGauge.Dec()
	}
}

// AddNode counts a node served by the cluster.
func (f *Farm) AddNode(key, node string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.byKey[key]; ok && !s.nodes[node] {
		s.nodes[node] = true
		nodesGauge.Inc()
	}
}

// AddEtcdMember creates the member's serving certificate from the cluster's etcd CA.
func (f *Farm) AddEtcdMember(key, pod string, caCert *x509.Certificate, caKey *rsa.PrivateKey) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.byKey[key]
	if !ok {
		return fmt.Errorf("%s is not registered", key)
	}
	if _, ok := s.etcdCerts[pod]; ok {
		return nil
	}
	cfg := &certs.Config{
		CommonName: pod,
		AltNames:   certs.AltNames{DNSNames: []string{"localhost", pod}, IPs: ips(f.host, f.bindHost)},
		Usages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	c, err := f.pair(cfg, caCert, caKey)
	if err != nil {
		return fmt.Errorf("etcd certificate of %s in %s: %w", pod, key, err)
	}
	s.etcdCerts[pod] = c
	s.trust(caCert)
	return nil
}

// HasEtcdMember tells whether the member has its certificate.
func (f *Farm) HasEtcdMember(key, pod string) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	s, ok := f.byKey[key]
	return ok && s.etcdCerts[pod] != nil
}

func (f *Farm) pair(cfg *certs.Config, caCert *x509.Certificate, caKey *rsa.PrivateKey) (*tls.Certificate, error) {
	cert, err := cfg.NewSignedCert(f.key, caCert, caKey)
	if err != nil {
		return nil, err
	}
	pair, err := tls.X509KeyPair(certs.EncodeCertPEM(cert), certs.EncodePrivateKeyPEM(f.key))
	if err != nil {
		return nil, err
	}
	return &pair, nil
}

func ips(hosts ...string) []net.IP {
	out := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			out = append(out, ip)
		}
	}
	return out
}

// ServerInfo is one line of the /farm/servers listing.
type ServerInfo struct {
	Cluster    string  `json:"cluster"`
	Endpoint   string  `json:"endpoint"`
	Listening  bool    `json:"listening"`
	APIServers int     `json:"apiServers"`
	Etcd       int     `json:"etcdMembers"`
	Nodes      int     `json:"nodes"`
	LatencyMS  int64   `json:"latencyMs"`
	ErrorRate  float64 `json:"errorRate"`
}

// Servers lists every registered cluster.
func (f *Farm) Servers() []ServerInfo {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]ServerInfo, 0, len(f.byKey))
	for _, s := range f.byKey {
		out = append(out, ServerInfo{
			Cluster: s.key, Endpoint: net.JoinHostPort(f.host, strconv.Itoa(s.port)), Listening: s.listener != nil,
			APIServers: len(s.apiServers), Etcd: len(s.etcdCerts), Nodes: len(s.nodes),
			LatencyMS: s.faults.Latency.Milliseconds(), ErrorRate: s.faults.ErrorRate,
		})
	}
	return out
}

// Heartbeat refreshes every node's Ready condition, as a kubelet reports its status: each refresh is a watch
// event, which is how Cluster API v1.7 finds a node it missed (the machine controller does not requeue when
// a node's providerID reaches its cache before the Machine's does; found at 300 clusters, where 3 Machines
// waited for the 10-minute resync).
func (f *Farm) Heartbeat(ctx context.Context) {
	f.mu.RLock()
	keys := make([]string, 0, len(f.byKey))
	for k, s := range f.byKey {
		if len(s.nodes) > 0 {
			keys = append(keys, k)
		}
	}
	f.mu.RUnlock()
	now := metav1.Now()
	for _, key := range keys {
		store := f.manager.GetResourceGroup(key).GetClient()
		// Listed unstructured, read typed: the store keeps a node its API handlers wrote (CAPM3's providerID patch)
		// unstructured, which a typed List cannot return, while Get converts either.
		nodes := &unstructured.UnstructuredList{}
		nodes.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NodeList"))
		if err := store.List(ctx, nodes); err != nil {
			if f.Registered(key) {
				f.log.Error(err, "Heartbeat: listing the nodes", "cluster", key)
			}
			continue // else the cluster went away meanwhile
		}
		for i := range nodes.Items {
			n := &corev1.Node{}
			if err := store.Get(ctx, client.ObjectKey{Name: nodes.Items[i].GetName()}, n); err != nil {
				continue // deleted meanwhile
			}
			if n.Annotations == nil {
				n.Annotations = map[string]string{}
			}
			n.Annotations[heartbeatAnnotation] = now.UTC().Format(time.RFC3339)
			for j := range n.Status.Conditions {
				if n.Status.Conditions[j].Type == corev1.NodeReady {
					n.Status.Conditions[j].LastHeartbeatTime = now
				}
			}
			if err := store.Update(ctx, n); err != nil {
				f.log.V(2).Info("Heartbeat", "cluster", key, "node", n.Name, "error", err.Error())
			}
		}
	}
}

// Shutdown closes every listener.
func (f *Farm) Shutdown(ctx context.Context) error {
	// A listener Unregister closed stays tracked by the server until its Serve returns: closed again here, it is not
	// a failure (seen once in four runs of the tests on a loaded machine, in TestClusterReconciler's clean-up).
	if err := f.http.Shutdown(ctx); err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}
