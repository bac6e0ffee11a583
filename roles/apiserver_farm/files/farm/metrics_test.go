package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

func TestCheckMetricsTLS(t *testing.T) {
	full := metricsTLS{certDir: "/d", clientCA: "/ca.crt", clientName: "scalelab-monitoring"}
	for _, tc := range []struct {
		name, addr string
		tls        metricsTLS
		wantErr    string
	}{
		{"loopback, plain", "127.0.0.1:9480", metricsTLS{}, ""},
		{"IPv6 loopback, plain", "[::1]:9480", metricsTLS{}, ""},
		{"loopback, TLS", "127.0.0.1:9480", full, ""},
		{"off loopback, TLS", "10.0.0.5:9480", full, ""},
		{"off loopback, plain", "10.0.0.5:9480", metricsTLS{}, "--metrics-bind-address=10.0.0.5:9480 is off loopback"},
		{"every address, plain", ":9480", metricsTLS{}, "--metrics-bind-address=:9480 is off loopback"},
		{"a name, not a loopback IP", "localhost:9480", metricsTLS{}, "is off loopback"},
		{"half the TLS flags", "10.0.0.5:9480", metricsTLS{certDir: "/d"}, "give all three or none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkMetricsTLS(tc.addr, tc.tls)
			if tc.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// pair is a certificate and its key, signed by parent (self-signed when parent is nil).
type pair struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	der  []byte
}

func newPair(t *testing.T, cn string, parent *pair, usage x509.ExtKeyUsage) *pair {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	signer, signerKey := tmpl, key
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	} else {
		tmpl.ExtKeyUsage, tmpl.IPAddresses = []x509.ExtKeyUsage{usage}, []net.IP{net.IPv4(127, 0, 0, 1)}
		signer, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &pair{cert: cert, key: key, der: der}
}

func (p *pair) write(t *testing.T, certPath, keyPath string) {
	t.Helper()
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if keyPath == "" {
		return
	}
	kder, _ := x509.MarshalECPrivateKey(p.key)
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (p *pair) tls() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{p.der}, PrivateKey: p.key}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestMetricsListenerLetsInOnlyTheClient serves the farm's metrics listener with TLS settings and reads it as
// Prometheus would, as nobody, as another identity of the same CA and as a stranger's certificate.
func TestMetricsListenerLetsInOnlyTheClient(t *testing.T) {
	dir := t.TempDir()
	ca, other := newPair(t, "lab-ca", nil, 0), newPair(t, "other-ca", nil, 0)
	ca.write(t, filepath.Join(dir, "ca.crt"), "")
	newPair(t, "farm", ca, x509.ExtKeyUsageServerAuth).write(t, filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"))
	monitoring := newPair(t, "scalelab-monitoring", ca, x509.ExtKeyUsageClientAuth)
	farmUser := newPair(t, "scalelab:farm:farm-1", ca, x509.ExtKeyUsageClientAuth)
	stranger := newPair(t, "scalelab-monitoring", other, x509.ExtKeyUsageClientAuth)

	addr := freeAddr(t)
	m := metricsTLS{certDir: dir, clientCA: filepath.Join(dir, "ca.crt"), clientName: "scalelab-monitoring"}
	opts, err := metricsOptions(addr, m, map[string]http.Handler{
		"/farm/servers": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("[]")) }),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := metricsserver.NewServer(opts, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Start(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	get := func(path string, certs ...tls.Certificate) (int, error) {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs}, DisableKeepAlives: true}
		defer tr.CloseIdleConnections()
		c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
		var resp *http.Response
		var err error
		for i := 0; i < 50; i++ { // until the listener is up
			if resp, err = c.Get("https://" + addr + path); err == nil || !strings.Contains(err.Error(), "connection refused") {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	for _, path := range []string{"/metrics", "/farm/servers"} {
		if code, err := get(path, monitoring.tls()); err != nil || code != http.StatusOK {
			t.Errorf("%s as the monitoring client: %d %v, want 200", path, code, err)
		}
		if code, err := get(path); err == nil {
			t.Errorf("%s without a client certificate: %d, want a refused handshake", path, code)
		}
		if code, err := get(path, stranger.tls()); err == nil {
			t.Errorf("%s with another CA's certificate: %d, want a refused handshake", path, code)
		}
		if code, err := get(path, farmUser.tls()); err != nil || code != http.StatusForbidden {
			t.Errorf("%s as another identity of the lab's CA: %d %v, want 403", path, code, err)
		}
	}
	plain, err := (&http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}).Get("http://" + addr + "/metrics")
	if err == nil {
		plain.Body.Close()
		if plain.StatusCode == http.StatusOK {
			t.Error("plain HTTP answered 200")
		}
	}
}

func TestMetricsOptionsRefuseMissingFiles(t *testing.T) {
	dir := t.TempDir()
	ca := newPair(t, "lab-ca", nil, 0)
	ca.write(t, filepath.Join(dir, "ca.crt"), "")
	for _, tc := range []struct {
		name    string
		m       metricsTLS
		wantErr string
	}{
		{"no CA file", metricsTLS{certDir: dir, clientCA: dir + "/none.crt", clientName: "x"}, "--metrics-client-ca=" + dir + "/none.crt"},
		{"CA file without PEM", metricsTLS{certDir: dir, clientCA: dir, clientName: "x"}, "--metrics-client-ca=" + dir},
		{"no serving certificate", metricsTLS{certDir: dir, clientCA: dir + "/ca.crt", clientName: "x"}, "--metrics-cert-dir=" + dir},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := metricsOptions("10.0.0.5:9480", tc.m, nil)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}
