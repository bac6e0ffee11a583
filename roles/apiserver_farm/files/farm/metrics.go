package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// metricsTLS is how the metrics listener (/metrics, /farm/servers) is secured off loopback: a serving certificate
// and key (tls.crt, tls.key in certDir), the CA that signs its clients' certificates and the one client name
// (certificate common name) let in. Prometheus on the management host scrapes with such a certificate.
type metricsTLS struct {
	certDir, clientCA, clientName string
}

// loopback reports whether a host:port listens on loopback only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkMetricsTLS refuses a metrics listener off loopback without TLS and client authentication: it serves
// every served cluster's endpoint (/farm/servers) and the farm's metrics to whoever reaches it.
func checkMetricsTLS(addr string, m metricsTLS) error {
	set := m.certDir != "" || m.clientCA != "" || m.clientName != ""
	complete := m.certDir != "" && m.clientCA != "" && m.clientName != ""
	switch {
	case set && !complete:
		return fmt.Errorf("--metrics-cert-dir=%q --metrics-client-ca=%q --metrics-client-name=%q: give all three or none", m.certDir, m.clientCA, m.clientName)
	case !set && !loopback(addr):
		return fmt.Errorf("--metrics-bind-address=%s is off loopback: it needs --metrics-cert-dir, --metrics-client-ca and --metrics-client-name (TLS and a client certificate)", addr)
	}
	return nil
}

// metricsOptions: plain HTTP without TLS settings; with them, TLS that asks for a client certificate signed by
// the client CA and lets in only the client name (403 for any other name of that CA).
func metricsOptions(addr string, m metricsTLS, extra map[string]http.Handler) (metricsserver.Options, error) {
	opts := metricsserver.Options{BindAddress: addr, ExtraHandlers: extra}
	if m.certDir == "" {
		return opts, nil
	}
	pem, err := os.ReadFile(m.clientCA)
	if err != nil {
		return opts, fmt.Errorf("--metrics-client-ca=%s: %w", m.clientCA, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return opts, fmt.Errorf("--metrics-client-ca=%s: no PEM certificate in it", m.clientCA)
	}
	for _, f := range []string{"tls.crt", "tls.key"} {
		if _, err := os.Stat(m.certDir + "/" + f); err != nil {
			// Without them controller-runtime would serve a self-signed certificate nobody can verify.
			return opts, fmt.Errorf("--metrics-cert-dir=%s: %w", m.certDir, err)
		}
	}
	opts.SecureServing, opts.CertDir = true, m.certDir
	opts.TLSOpts = []func(*tls.Config){func(c *tls.Config) {
		c.ClientCAs, c.ClientAuth, c.MinVersion = pool, tls.RequireAndVerifyClientCert, tls.VersionTLS12
	}}
	opts.FilterProvider = func(*rest.Config, *http.Client) (metricsserver.Filter, error) {
		return clientNameFilter(m.clientName), nil
	}
	return opts, nil
}

// clientNameFilter lets in only requests whose verified client certificate names the client.
func clientNameFilter(name string) metricsserver.Filter {
	return func(_ logr.Logger, next http.Handler) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || r.TLS.VerifiedChains[0][0].Subject.CommonName != name {
				http.Error(w, "forbidden: only "+name+" may read this", http.StatusForbidden)
				return
			}
			next.ServeHTTP(w, r)
		}), nil
	}
}
