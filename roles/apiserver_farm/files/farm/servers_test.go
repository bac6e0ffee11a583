package main

// Tests of the fake API servers: real farms (the in-memory store, TLS listeners on 127.0.0.1) driven through the
// farm's own functions and answered over HTTPS by net/http, client-go and an etcd gRPC client.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/cluster-api/util/certs"
	"sigs.k8s.io/controller-runtime/pkg/client"

	inmemoryruntime "sigs.k8s.io/cluster-api/test/infrastructure/inmemory/pkg/runtime"
	inmemoryclient "sigs.k8s.io/cluster-api/test/infrastructure/inmemory/pkg/runtime/client"
)

const (
	testHost    = "127.0.0.1"
	testMinPort = 1024
	testMaxPort = 65535
)

// testCA is a cluster CA as Cluster API keeps it in the <cluster>-ca and <cluster>-etcd secrets.
type testCA struct {
	cert *x509.Certificate
	key  *rsa.PrivateKey
}

var (
	casMu sync.Mutex
	cas   = map[string]testCA{}
)

// sharedCA returns the test binary's CA of that name (RSA keys are slow to make: one per name).
func sharedCA(t testing.TB, name string) testCA {
	t.Helper()
	casMu.Lock()
	defer casMu.Unlock()
	if ca, ok := cas[name]; ok {
		return ca
	}
	key, err := certs.NewPrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(int64(len(cas) + 1)),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	cas[name] = testCA{cert: cert, key: key}
	return cas[name]
}

var clients = map[string]tls.Certificate{}

// sharedClient is a client certificate signed by the test binary's CA of that name (Cluster API's kubeconfig
// user for "cluster", the control plane's etcd client for "etcd").
func sharedClient(t testing.TB, name string) tls.Certificate {
	t.Helper()
	ca := sharedCA(t, name)
	casMu.Lock()
	defer casMu.Unlock()
	if c, ok := clients[name]; ok {
		return c
	}
	key, err := certs.NewPrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(int64(100 + len(clients))),
		Subject:      pkix.Name{CommonName: name + "-client"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	clients[name] = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	return clients[name]
}

func (c testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.cert)
	return p
}

// newTestFarm starts an in-memory store and a farm on 127.0.0.1 (ports 1024-65535 in range); both stop when
// the test ends (listeners first, then the store's workers).
func newTestFarm(t *testing.T, defaults Faults) *Farm {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	scheme := runtime.NewScheme()
	_ = corev1.AddToScheme(scheme)
	_ = appsv1.AddToScheme(scheme)
	_ = rbacv1.AddToScheme(scheme)
	store := inmemoryruntime.NewManager(scheme)
	if err := store.Start(ctx); err != nil {
		t.Fatal(err)
	}
	f, err := NewFarm(store, testHost, testHost, testMinPort, testMaxPort, defaults, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := f.Shutdown(ctx); err != nil {
			t.Errorf("farm shutdown: %v", err)
		}
	})
	return f
}

// freePort is a loopback port nobody listens on (the farm's ports are fixed by endpoints, not picked by it).
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(testHost, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// serve registers a cluster on a free port and opens its listener with a first API server (pod kube-apiserver-n1),
// its certificate signed by the shared "cluster" CA.
func serve(t *testing.T, f *Farm, key string, faults Faults) int {
	t.Helper()
	port := freePort(t)
	if err := f.Register(key, strings.TrimPrefix(key, "lab/"), port, faults); err != nil {
		t.Fatal(err)
	}
	ca := sharedCA(t, "cluster")
	if err := f.AddAPIServer(key, "kube-apiserver-n1", ca.cert, ca.key); err != nil {
		t.Fatal(err)
	}
	return port
}

func baseURL(port int) string {
	return "https://" + net.JoinHostPort(testHost, strconv.Itoa(port))
}

// httpsClient trusts the given CA; its idle connections are closed when the test ends.
func httpsClient(t *testing.T, ca testCA) *http.Client {
	t.Helper()
	cfg := &tls.Config{RootCAs: ca.pool(), MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{sharedClient(t, "cluster")}}
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

func get(t *testing.T, c *http.Client, url string) (int, []byte) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, body
}

// kubeClient is client-go on a cluster's endpoint, trusting the shared cluster CA, without client-side rate limit.
func kubeClient(t *testing.T, port int) kubernetes.Interface {
	t.Helper()
	cfg := &tls.Config{RootCAs: sharedCA(t, "cluster").pool(), MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{sharedClient(t, "cluster")}}
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: baseURL(port), Transport: tr, QPS: -1, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// etcdMembers asks an etcd member (pod name, as the SNI and :authority) of the cluster for the member list.
func etcdMembers(t *testing.T, port int, member string) (*pb.MemberListResponse, error) {
	t.Helper()
	creds := credentials.NewTLS(&tls.Config{
		RootCAs: sharedCA(t, "etcd").pool(), ServerName: member, MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{sharedClient(t, "etcd")},
	})
	conn, err := grpc.Dial(net.JoinHostPort(testHost, strconv.Itoa(port)), grpc.WithTransportCredentials(creds), grpc.WithAuthority(member))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return pb.NewClusterClient(conn).MemberList(ctx, &pb.MemberListRequest{})
}

func storeOf(f *Farm, key string) inmemoryclient.Client {
	return f.manager.GetResourceGroup(key).GetClient()
}

func counterValue(t *testing.T, c *prometheus.CounterVec, label string) float64 {
	t.Helper()
	m := &dto.Metric{}
	if err := c.WithLabelValues(label).Write(m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func gaugeValue(t *testing.T, g prometheus.Gauge) float64 {
	t.Helper()
	m := &dto.Metric{}
	if err := g.Write(m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}

func serverInfo(t *testing.T, f *Farm, key string) ServerInfo {
	t.Helper()
	for _, s := range f.Servers() {
		if s.Cluster == key {
			return s
		}
	}
	t.Fatalf("%s is not in the farm's servers: %+v", key, f.Servers())
	return ServerInfo{}
}

func TestInRange(t *testing.T) {
	f := &Farm{host: "10.0.0.5", minPort: 30000, maxPort: 30999}
	for _, tc := range []struct {
		host string
		port int
		want bool
	}{
		{"10.0.0.5", 30000, true},
		{"10.0.0.5", 30999, true},
		{"10.0.0.5", 30500, true},
		{"10.0.0.5", 29999, false},
		{"10.0.0.5", 31000, false},
		{"10.0.0.6", 30000, false},
		{"127.0.0.1", 30000, false},
		{"", 30000, false},
	} {
		if got := f.InRange(tc.host, tc.port); got != tc.want {
			t.Errorf("InRange(%q, %d) = %v, want %v", tc.host, tc.port, got, tc.want)
		}
	}
}

func TestRegister(t *testing.T) {
	f := newTestFarm(t, Faults{})
	slow := Faults{Latency: 300 * time.Millisecond, ErrorRate: 0.25}
	steps := []struct {
		name    string
		key     string
		port    int
		faults  Faults
		wantErr string
	}{
		{"new cluster", "lab/a", 30001, Faults{}, ""},
		{"second cluster", "lab/b", 30002, Faults{}, ""},
		{"same cluster again takes its new faults", "lab/a", 30001, slow, ""},
		{"endpoint moved", "lab/a", 30003, Faults{}, "lab/a moved from port 30001 to 30003: endpoints are immutable"},
		{"port of another cluster", "lab/c", 30002, Faults{}, "port 30002 of lab/c is already served for lab/b"},
	}
	for _, s := range steps {
		err := f.Register(s.key, "name", s.port, s.faults)
		switch {
		case s.wantErr == "" && err != nil:
			t.Fatalf("%s: %v", s.name, err)
		case s.wantErr != "" && (err == nil || err.Error() != s.wantErr):
			t.Fatalf("%s: error %v, want %q", s.name, err, s.wantErr)
		}
	}
	if got := gaugeValue(t, clustersGauge); got != 2 {
		t.Errorf("scalelab_farm_clusters = %v, want 2", got)
	}
	for key, want := range map[string]bool{"lab/a": true, "lab/b": true, "lab/c": false} {
		if got := f.Registered(key); got != want {
			t.Errorf("Registered(%s) = %v, want %v", key, got, want)
		}
	}
	a := serverInfo(t, f, "lab/a")
	want := ServerInfo{Cluster: "lab/a", Endpoint: "127.0.0.1:30001", LatencyMS: 300, ErrorRate: 0.25}
	if a != want {
		t.Errorf("server lab/a = %+v, want %+v", a, want)
	}
	if !f.SetFaults("lab/b", Faults{ErrorRate: 1}) || serverInfo(t, f, "lab/b").ErrorRate != 1 {
		t.Errorf("SetFaults(lab/b) did not apply: %+v", serverInfo(t, f, "lab/b"))
	}
	if f.SetFaults("lab/c", Faults{ErrorRate: 1}) || f.Registered("lab/c") {
		t.Error("SetFaults of an unregistered cluster reported success or registered it")
	}
	// The /farm/servers listing is this JSON.
	out, err := json.Marshal(serverInfo(t, f, "lab/a"))
	if err != nil {
		t.Fatal(err)
	}
	if w := `{"cluster":"lab/a","endpoint":"127.0.0.1:30001","listening":false,"apiServers":0,"etcdMembers":0,"nodes":0,"latencyMs":300,"errorRate":0.25}`; string(out) != w {
		t.Errorf("listing line %s, want %s", out, w)
	}
}

// TestEndpoints: what a cluster's API server answers, over TLS 1.2+ with the cluster CA, without authentication.
func TestEndpoints(t *testing.T) {
	f := newTestFarm(t, Faults{})
	port := serve(t, f, "lab/a", Faults{})
	if err := storeOf(f, "lab/a").Create(context.Background(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}); err != nil {
		t.Fatal(err)
	}
	c := httpsClient(t, sharedCA(t, "cluster"))
	for _, tc := range []struct {
		path     string
		status   int
		contains string
	}{
		{"/", http.StatusOK, ""},
		{"/api", http.StatusOK, `"versions":["v1"]`},
		{"/api/v1", http.StatusOK, `"name":"nodes"`},
		{"/apis", http.StatusOK, `"name":"apps"`},
		{"/apis/apps/v1", http.StatusOK, `"name":"daemonsets"`},
		{"/apis/rbac.authorization.k8s.io/v1", http.StatusOK, `"name":"clusterroles"`},
		{"/apis/example.com/v1", http.StatusInternalServerError, "discovery info not defined for example.com/v1"},
		{"/api/v1/nodes", http.StatusOK, `"name":"n1"`},
		{"/api/v1/nodes/n1", http.StatusOK, `"name":"n1"`},
		{"/api/v1/nodes/missing", http.StatusNotFound, `"reason":"NotFound"`},
		{"/api/v1/namespaces/kube-system/pods", http.StatusOK, `"kind":"PodList"`},
		{"/no/such/path", http.StatusNotFound, ""},
	} {
		status, body := get(t, c, baseURL(port)+tc.path)
		compact := &bytes.Buffer{}
		if json.Compact(compact, body) == nil {
			body = compact.Bytes()
		}
		if status != tc.status || !strings.Contains(string(body), tc.contains) {
			t.Errorf("GET %s = %d %.200s, want %d containing %q", tc.path, status, body, tc.status, tc.contains)
		}
	}
	// The store is picked by the port the request names (its Host): a port no cluster is registered on is refused.
	req, err := http.NewRequest(http.MethodGet, baseURL(port)+"/api/v1/nodes", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = net.JoinHostPort(testHost, "1")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), "no workload cluster serves port 1") {
		t.Errorf("request for an unknown cluster = %d %s", resp.StatusCode, body)
	}
}

// TestTLS: the API server's certificate by default, an etcd member's when the client names it, both from the
// cluster's own CAs; other CAs and TLS below 1.2 refused.
func TestTLS(t *testing.T) {
	f := newTestFarm(t, Faults{})
	port := serve(t, f, "lab/a", Faults{})
	etcdCA := sharedCA(t, "etcd")
	if err := f.AddEtcdMember("lab/a", "etcd-n1", etcdCA.cert, etcdCA.key); err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort(testHost, strconv.Itoa(port))
	user, etcdUser := []tls.Certificate{sharedClient(t, "cluster")}, []tls.Certificate{sharedClient(t, "etcd")}
	for _, tc := range []struct {
		name       string
		cfg        *tls.Config
		wantCN     string
		wantIssuer string
		wantErr    string
	}{
		{"by IP: the API server", &tls.Config{RootCAs: sharedCA(t, "cluster").pool(), Certificates: user}, "kube-apiserver", "cluster", ""},
		{"by name kubernetes.default", &tls.Config{RootCAs: sharedCA(t, "cluster").pool(), ServerName: "kubernetes.default", Certificates: user}, "kube-apiserver", "cluster", ""},
		{"an etcd member by pod name", &tls.Config{RootCAs: etcdCA.pool(), ServerName: "etcd-n1", Certificates: etcdUser}, "etcd-n1", "etcd", ""},
		{"an unknown etcd member gets the API server's", &tls.Config{RootCAs: sharedCA(t, "cluster").pool(), ServerName: "etcd-n2", InsecureSkipVerify: true, Certificates: user}, "kube-apiserver", "cluster", ""},
		{"another CA", &tls.Config{RootCAs: sharedCA(t, "other").pool()}, "", "", "certificate signed by unknown authority"},
		{"TLS 1.1", &tls.Config{RootCAs: sharedCA(t, "cluster").pool(), MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, "", "", "protocol version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, tc.cfg)
			if tc.wantErr != "" {
				if err == nil {
					conn.Close()
					t.Fatalf("handshake succeeded, want an error containing %q", tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			leaf := conn.ConnectionState().PeerCertificates[0]
			if leaf.Subject.CommonName != tc.wantCN || leaf.Issuer.CommonName != tc.wantIssuer {
				t.Errorf("certificate %q issued by %q, want %q by %q", leaf.Subject.CommonName, leaf.Issuer.CommonName, tc.wantCN, tc.wantIssuer)
			}
			if err := leaf.VerifyHostname(testHost); err != nil {
				t.Errorf("certificate does not name the farm's host: %v", err)
			}
		})
	}
}

// TestClientCertificates: as a real API server and etcd, a server answers only clients with a certificate of
// the cluster's CA or its etcd CA (listeners are off loopback on farm hosts).
func TestClientCertificates(t *testing.T) {
	f := newTestFarm(t, Faults{})
	port := serve(t, f, "lab/a", Faults{})
	etcdCA := sharedCA(t, "etcd")
	if err := f.AddEtcdMember("lab/a", "etcd-n1", etcdCA.cert, etcdCA.key); err != nil {
		t.Fatal(err)
	}
	stranger := sharedClient(t, "other")
	for _, tc := range []struct {
		name    string
		certs   []tls.Certificate
		wantErr string
	}{
		{"the cluster's user", []tls.Certificate{sharedClient(t, "cluster")}, ""},
		{"the etcd client", []tls.Certificate{sharedClient(t, "etcd")}, ""},
		// Refused in the handshake: the error a client sees varies (certificate required, broken pipe); a client
		// holding only another CA's certificate sends none.
		{"no certificate", nil, "refused"},
		{"another CA's certificate", []tls.Certificate{stranger}, "refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &tls.Config{RootCAs: sharedCA(t, "cluster").pool(), MinVersion: tls.VersionTLS12, Certificates: tc.certs}
			tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(baseURL(port) + "/api/v1/nodes")
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d, want 200", resp.StatusCode)
				}
				return
			}
			if err == nil {
				resp.Body.Close()
				t.Fatalf("status %d, want the handshake %s", resp.StatusCode, tc.wantErr)
			}
		})
	}
	t.Run("etcd without a certificate", func(t *testing.T) {
		creds := credentials.NewTLS(&tls.Config{RootCAs: etcdCA.pool(), ServerName: "etcd-n1", MinVersion: tls.VersionTLS12})
		conn, err := grpc.Dial(net.JoinHostPort(testHost, strconv.Itoa(port)), grpc.WithTransportCredentials(creds), grpc.WithAuthority("etcd-n1"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := pb.NewClusterClient(conn).MemberList(ctx, &pb.MemberListRequest{}); err == nil {
			t.Fatal("member list answered without a client certificate")
		}
	})
}

// TestClustersAreIsolated: each port serves its own cluster's objects.
func TestClustersAreIsolated(t *testing.T) {
	f := newTestFarm(t, Faults{})
	servers := gaugeValue(t, serversGauge)
	portA := serve(t, f, "lab/a", Faults{})
	portB := serve(t, f, "lab/b", Faults{})
	if got := gaugeValue(t, serversGauge) - servers; got != 2 {
		t.Errorf("scalelab_farm_servers went up by %v for two listeners", got)
	}
	ctx := context.Background()
	if err := storeOf(f, "lab/a").Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "only-in-a"}}); err != nil {
		t.Fatal(err)
	}
	for port, want := range map[int]int{portA: 1, portB: 0} {
		nodes, err := kubeClient(t, port).CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(nodes.Items) != want {
			t.Errorf("port %d lists %d nodes, want %d", port, len(nodes.Items), want)
		}
	}
}

func TestAddAPIServer(t *testing.T) {
	f := newTestFarm(t, Faults{})
	ca := sharedCA(t, "cluster")
	if err := f.AddAPIServer("lab/none", "kube-apiserver-n1", ca.cert, ca.key); err == nil || err.Error() != "lab/none is not registered" {
		t.Errorf("AddAPIServer of an unregistered cluster: %v", err)
	}
	if err := f.AddEtcdMember("lab/none", "etcd-n1", ca.cert, ca.key); err == nil || err.Error() != "lab/none is not registered" {
		t.Errorf("AddEtcdMember of an unregistered cluster: %v", err)
	}

	// A port someone else holds: the error names the cluster, and the API server is not counted as up.
	busy, err := net.Listen("tcp", net.JoinHostPort(testHost, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	if err := f.Register("lab/busy", "busy", busy.Addr().(*net.TCPAddr).Port, Faults{}); err != nil {
		t.Fatal(err)
	}
	err = f.AddAPIServer("lab/busy", "kube-apiserver-n1", ca.cert, ca.key)
	if err == nil || !strings.HasPrefix(err.Error(), "listen for lab/busy:") {
		t.Errorf("AddAPIServer on a taken port: %v", err)
	}
	if f.HasAPIServer("lab/busy", "kube-apiserver-n1") || serverInfo(t, f, "lab/busy").Listening {
		t.Error("an API server whose listener failed counts as up")
	}

	// More API servers share the cluster's one listener.
	port := serve(t, f, "lab/a", Faults{})
	if err := f.AddAPIServer("lab/a", "kube-apiserver-n2", ca.cert, ca.key); err != nil {
		t.Fatal(err)
	}
	for _, pod := range []string{"kube-apiserver-n1", "kube-apiserver-n2"} {
		if !f.HasAPIServer("lab/a", pod) {
			t.Errorf("HasAPIServer(lab/a, %s) = false", pod)
		}
	}
	if f.HasAPIServer("lab/a", "kube-apiserver-n3") {
		t.Error("HasAPIServer of a pod never added")
	}
	if s := serverInfo(t, f, "lab/a"); !s.Listening || s.APIServers != 2 || s.Endpoint != net.JoinHostPort(testHost, strconv.Itoa(port)) {
		t.Errorf("server lab/a = %+v", s)
	}
}

// TestRemoveMachine: a gone machine's API server, etcd member and node are forgotten; the listener stays open.
func TestRemoveMachine(t *testing.T) {
	f := newTestFarm(t, Faults{})
	port := serve(t, f, "lab/a", Faults{})
	etcdCA := sharedCA(t, "etcd")
	if err := f.AddEtcdMember("lab/a", "etcd-n1", etcdCA.cert, etcdCA.key); err != nil {
		t.Fatal(err)
	}
	nodes := gaugeValue(t, nodesGauge)
	f.AddNode("lab/a", "n1")
	f.AddNode("lab/a", "n1") // counted once
	f.AddNode("lab/none", "n1")
	if s := serverInfo(t, f, "lab/a"); s.APIServers != 1 || s.Etcd != 1 || s.Nodes != 1 {
		t.Fatalf("before: %+v", s)
	}
	if got := gaugeValue(t, nodesGauge) - nodes; got != 1 {
		t.Errorf("scalelab_farm_nodes went up by %v, want 1", got)
	}
	f.RemoveMachine("lab/a", "n1")
	f.RemoveMachine("lab/none", "n1")
	if s := serverInfo(t, f, "lab/a"); s.APIServers != 0 || s.Etcd != 0 || s.Nodes != 0 || !s.Listening {
		t.Errorf("after: %+v", s)
	}
	if f.HasAPIServer("lab/a", "kube-apiserver-n1") || f.HasEtcdMember("lab/a", "etcd-n1") {
		t.Error("the machine's API server or etcd member is still recorded")
	}
	if got := gaugeValue(t, nodesGauge) - nodes; got != 0 {
		t.Errorf("scalelab_farm_nodes is %v off its start", got)
	}
	if status, _ := get(t, httpsClient(t, sharedCA(t, "cluster")), baseURL(port)+"/api"); status != http.StatusOK {
		t.Errorf("the listener stopped answering: %d", status)
	}
}

// TestUnregister: the listener closes, the store is dropped, the port can serve another cluster.
func TestUnregister(t *testing.T) {
	f := newTestFarm(t, Faults{})
	port := serve(t, f, "lab/a", Faults{})
	ctx := context.Background()
	if err := storeOf(f, "lab/a").Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}); err != nil {
		t.Fatal(err)
	}
	f.AddNode("lab/a", "n1")
	servers, nodes := gaugeValue(t, serversGauge), gaugeValue(t, nodesGauge)
	c := httpsClient(t, sharedCA(t, "cluster"))
	if status, _ := get(t, c, baseURL(port)+"/api/v1/nodes"); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}

	f.Unregister("lab/a")
	f.Unregister("lab/a") // a second time is a no-op
	if f.Registered("lab/a") || len(f.Servers()) != 0 {
		t.Errorf("still registered: %+v", f.Servers())
	}
	if got := servers - gaugeValue(t, serversGauge); got != 1 {
		t.Errorf("scalelab_farm_servers went down by %v, want 1", got)
	}
	if got := nodes - gaugeValue(t, nodesGauge); got != 1 {
		t.Errorf("scalelab_farm_nodes went down by %v, want 1", got)
	}
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(testHost, strconv.Itoa(port)), 5*time.Second)
	if err == nil {
		conn.Close()
		t.Fatal("the unregistered cluster's port still accepts connections")
	}
	if err := storeOf(f, "lab/a").List(ctx, &corev1.NodeList{}); err == nil {
		t.Error("the unregistered cluster's store still answers")
	}
	// A connection opened before stays open (the listener closed, not the connections) but serves nothing.
	if status, body := get(t, c, baseURL(port)+"/api/v1/nodes"); status != http.StatusInternalServerError ||
		!strings.Contains(string(body), "no workload cluster serves port "+strconv.Itoa(port)) {
		t.Errorf("a kept-alive connection to the unregistered cluster: %d %s", status, body)
	}
	// The port is free for another cluster; the same cluster registered again starts from an empty store.
	if err := f.Register("lab/b", "b", port, Faults{}); err != nil {
		t.Fatal(err)
	}
	f.Unregister("lab/b")
	port = serve(t, f, "lab/a", Faults{})
	nodeList, err := kubeClient(t, port).CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil || len(nodeList.Items) != 0 {
		t.Errorf("re-registered cluster lists %v nodes (err %v), want none", len(nodeList.Items), err)
	}
}

func TestShutdownClosesEveryListener(t *testing.T) {
	f := newTestFarm(t, Faults{})
	ports := []int{serve(t, f, "lab/a", Faults{}), serve(t, f, "lab/b", Faults{}), serve(t, f, "lab/c", Faults{})}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, port := range ports {
		if conn, err := net.DialTimeout("tcp", net.JoinHostPort(testHost, strconv.Itoa(port)), 5*time.Second); err == nil {
			conn.Close()
			t.Errorf("port %d still accepts connections after Shutdown", port)
		}
	}
}

// TestHeartbeat: every node's Ready heartbeat and annotation are refreshed, each refresh a watch event.
func TestHeartbeat(t *testing.T) {
	f := newTestFarm(t, Faults{})
	port := serve(t, f, "lab/a", Faults{})
	serve(t, f, "lab/empty", Faults{}) // no nodes: skipped
	ctx := context.Background()
	old := metav1.NewTime(time.Now().Add(-time.Hour).Truncate(time.Second))
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "n1"},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: old},
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, LastHeartbeatTime: old},
		}},
	}
	if err := storeOf(f, "lab/a").Create(ctx, node); err != nil {
		t.Fatal(err)
	}
	f.AddNode("lab/a", "n1")
	// CAPM3 sets the providerID through the API, whose handlers then keep the node unstructured in the store (which
	// a typed List of the store cannot return: the heartbeat skipped every such cluster).
	patch := []byte(`{"spec":{"providerID":"metal3://lab/h1/n1"}}`)
	if _, err := kubeClient(t, port).CoreV1().Nodes().Patch(ctx, "n1", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}

	w, err := kubeClient(t, port).CoreV1().Nodes().Watch(ctx, metav1.ListOptions{TimeoutSeconds: ptr(int64(20))})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	before := time.Now().Truncate(time.Second)
	f.Heartbeat(ctx)

	timeout := time.After(10 * time.Second)
	for seen := false; !seen; {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("watch ended before the heartbeat's event")
			}
			n, isNode := ev.Object.(*corev1.Node)
			seen = ev.Type == watch.Modified && isNode && n.Annotations[heartbeatAnnotation] != ""
		case <-timeout:
			t.Fatal("no watch event for the heartbeat")
		}
	}
	got := &corev1.Node{}
	if err := storeOf(f, "lab/a").Get(ctx, client.ObjectKey{Name: "n1"}, got); err != nil {
		t.Fatal(err)
	}
	at, err := time.Parse(time.RFC3339, got.Annotations[heartbeatAnnotation])
	if err != nil || at.Before(before) {
		t.Errorf("heartbeat annotation %q (%v), want a time from %v", got.Annotations[heartbeatAnnotation], err, before)
	}
	for _, c := range got.Status.Conditions {
		refreshed := c.LastHeartbeatTime.After(old.Time)
		if refreshed != (c.Type == corev1.NodeReady) {
			t.Errorf("condition %s heartbeat %v: refreshed=%v", c.Type, c.LastHeartbeatTime, refreshed)
		}
	}
	// A cluster gone meanwhile is skipped, not an error.
	f.Unregister("lab/a")
	f.Heartbeat(ctx)
}

func ptr[T any](v T) *T { return &v }

// TestInjectedLatency: each API request waits the cluster's latency once, counted in
// scalelab_farm_injected_delay_seconds_total; a request abandoned meanwhile is not answered nor counted.
func TestInjectedLatency(t *testing.T) {
	for _, latency := range []time.Duration{0, 250 * time.Millisecond} {
		t.Run(latency.String(), func(t *testing.T) {
			f := newTestFarm(t, Faults{})
			key := "lab/latency-" + latency.String()
			port := serve(t, f, key, Faults{Latency: latency})
			c := httpsClient(t, sharedCA(t, "cluster"))
			get(t, c, baseURL(port)+"/") // the TLS handshake out of the timings
			before := counterValue(t, injectedDelay, key)
			for i := 0; i < 3; i++ {
				start := time.Now()
				if status, _ := get(t, c, baseURL(port)+"/api"); status != http.StatusOK {
					t.Fatalf("status %d", status)
				}
				if took := time.Since(start); took < latency {
					t.Errorf("request took %v, under the injected %v", took, latency)
				}
			}
			if got, want := counterValue(t, injectedDelay, key)-before, 3*latency.Seconds(); !near(got, want) {
				t.Errorf("injected delay counted %v s, want %v s", got, want)
			}
		})
	}

	t.Run("abandoned", func(t *testing.T) {
		f := newTestFarm(t, Faults{})
		key := "lab/abandoned"
		port := serve(t, f, key, Faults{Latency: time.Minute})
		// HTTP/1.1, whose connections a graceful shutdown waits for (it does not track HTTP/2 streams).
		tr := &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: sharedCA(t, "cluster").pool(), MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{sharedClient(t, "cluster")}},
			TLSNextProto:    map[string]func(string, *tls.Conn) http.RoundTripper{},
		}
		defer tr.CloseIdleConnections()
		c := &http.Client{Transport: tr}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, baseURL(port)+"/api", nil)
		start := time.Now()
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("answered %d within a minute's latency", resp.StatusCode)
		}
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 10*time.Second {
			t.Fatalf("error %v after %v, want the client's deadline", err, time.Since(start))
		}
		// The handler gave up waiting: a graceful shutdown, which waits for every request in flight, is immediate.
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		if err := f.Shutdown(sctx); err != nil {
			t.Fatalf("shutdown with the abandoned request: %v", err)
		}
		if got := counterValue(t, injectedDelay, key); got != 0 {
			t.Errorf("an abandoned request counted %v s of delay", got)
		}
	})
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

// TestInjectedErrors: the share of API requests answered with a Kubernetes 500 Status follows the error rate
// (none at 0, all at 1), each counted in scalelab_farm_injected_errors_total.
func TestInjectedErrors(t *testing.T) {
	for _, tc := range []struct {
		rate     float64
		requests int
		min, max int // errors expected (0.5 of 200: outside 50-150 has a probability below 1e-12)
	}{
		{0, 50, 0, 0},
		{1, 50, 50, 50},
		{0.5, 200, 50, 150},
	} {
		t.Run(fmt.Sprint(tc.rate), func(t *testing.T) {
			f := newTestFarm(t, Faults{})
			key := fmt.Sprintf("lab/errors-%v", tc.rate)
			port := serve(t, f, key, Faults{ErrorRate: tc.rate})
			c := httpsClient(t, sharedCA(t, "cluster"))
			before := counterValue(t, injectedErrors, key)
			errs := 0
			for i := 0; i < tc.requests; i++ {
				status, body := get(t, c, baseURL(port)+"/api/v1/nodes")
				switch status {
				case http.StatusOK:
				case http.StatusInternalServerError:
					errs++
					var s metav1.Status
					if err := json.Unmarshal(body, &s); err != nil || s.Kind != "Status" || s.Code != 500 || s.Reason != metav1.StatusReasonInternalError {
						t.Fatalf("injected error body %s (%v)", body, err)
					}
				default:
					t.Fatalf("status %d: %s", status, body)
				}
			}
			if errs < tc.min || errs > tc.max {
				t.Errorf("%d of %d requests failed, want %d to %d", errs, tc.requests, tc.min, tc.max)
			}
			if got := counterValue(t, injectedErrors, key) - before; int(got) != errs {
				t.Errorf("scalelab_farm_injected_errors_total counted %v, %d answered", got, errs)
			}
		})
	}
}

// TestFaultsPerClusterAndLive: a cluster's faults touch no other cluster and change without a restart; clients
// see an injected error as a Kubernetes InternalError.
func TestFaultsPerClusterAndLive(t *testing.T) {
	f := newTestFarm(t, Faults{})
	broken := serve(t, f, "lab/broken", Faults{ErrorRate: 1})
	healthy := serve(t, f, "lab/healthy", Faults{})
	ctx := context.Background()
	_, err := kubeClient(t, broken).CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if !apierrors.IsInternalError(err) || !strings.Contains(err.Error(), "error injected by the scalelab API server farm") {
		t.Errorf("broken cluster: %v, want the injected InternalError", err)
	}
	if _, err := kubeClient(t, healthy).CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("healthy cluster: %v", err)
	}
	if !f.SetFaults("lab/broken", Faults{}) {
		t.Fatal("SetFaults: not registered")
	}
	if _, err := kubeClient(t, broken).CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("after clearing its faults: %v", err)
	}
}

// TestFaultsSpareEtcd: the etcd members' gRPC, on the same port, gets neither latency nor errors.
func TestFaultsSpareEtcd(t *testing.T) {
	f := newTestFarm(t, Faults{})
	latency := 2 * time.Second
	port := serve(t, f, "lab/a", Faults{Latency: latency, ErrorRate: 1})
	etcdCA := sharedCA(t, "etcd")
	if err := f.AddEtcdMember("lab/a", "etcd-n1", etcdCA.cert, etcdCA.key); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := ensureEtcdPod(ctx, f.manager.GetResourceGroup("lab/a").GetClient(), "etcd-n1", "n1"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	members, err := etcdMembers(t, port, "etcd-n1")
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took >= latency {
		t.Errorf("etcd answered in %v, delayed by the API's latency %v", took, latency)
	}
	if len(members.Members) != 1 {
		t.Errorf("members %v, want one", members.Members)
	}
	start = time.Now()
	if status, _ := get(t, httpsClient(t, sharedCA(t, "cluster")), baseURL(port)+"/api"); status != http.StatusInternalServerError || time.Since(start) < latency {
		t.Errorf("the API answered %d after %v, want 500 after %v", status, time.Since(start), latency)
	}
}
