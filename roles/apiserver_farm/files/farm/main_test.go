package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// TestMain fails the run when a test leaves a goroutine running (a listener, a watch, a store worker).
func TestMain(m *testing.M) {
	before := runtime.NumGoroutine()
	code := m.Run()
	if code == 0 {
		deadline := time.Now().Add(10 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<20)
			fmt.Fprintf(os.Stderr, "FAIL: %d goroutines left running (%d at the start):\n%s\n", n, before, buf[:runtime.Stack(buf, true)])
			code = 1
		}
	}
	os.Exit(code)
}

func TestParseFlags(t *testing.T) {
	defaults := options{
		kubeconfig: "/k", host: "127.0.0.1", bindHost: "127.0.0.1", metricsAddr: "127.0.0.1:19100", healthAddr: "127.0.0.1:19101",
		minPort: 20000, maxPort: 20999, concurrency: 10, burst: 30, qps: 20, heartbeat: time.Minute,
	}
	with := func(change func(*options)) options {
		o := defaults
		change(&o)
		return o
	}
	for _, tc := range []struct {
		name    string
		args    []string
		want    options
		wantErr string
	}{
		{"defaults", []string{"--kubeconfig=/k"}, defaults, ""},
		{"bind address defaults to the host", []string{"--kubeconfig=/k", "--host=10.0.0.5"},
			with(func(o *options) { o.host, o.bindHost = "10.0.0.5", "10.0.0.5" }), ""},
		{"bind address of its own (a floating IP's host)", []string{"--kubeconfig=/k", "--host=203.0.113.7", "--bind-address=10.0.0.5"},
			with(func(o *options) { o.host, o.bindHost = "203.0.113.7", "10.0.0.5" }), ""},
		{"everything", []string{
			"--kubeconfig=/k", "--namespace=lab", "--min-port=30000", "--max-port=30000", "--metrics-bind-address=127.0.0.1:9480",
			"--health-probe-bind-address=127.0.0.1:9481", "--concurrency=4", "--kube-api-qps=50", "--kube-api-burst=60",
			"--latency=300ms", "--error-rate=1", "--node-heartbeat=0",
		}, with(func(o *options) {
			o.namespace, o.minPort, o.maxPort, o.metricsAddr, o.healthAddr = "lab", 30000, 30000, "127.0.0.1:9480", "127.0.0.1:9481"
			o.concurrency, o.qps, o.burst, o.latency, o.errorRate, o.heartbeat = 4, 50, 60, 300*time.Millisecond, 1, 0
		}), ""},
		{"IPv6 host", []string{"--kubeconfig=/k", "--host=::1"}, with(func(o *options) { o.host, o.bindHost = "::1", "::1" }), ""},
		{"no kubeconfig", nil, options{}, "--kubeconfig is required"},
		{"host not an IP", []string{"--kubeconfig=/k", "--host=farm.example"}, options{}, `--host="farm.example" is not an IP address`},
		{"ports reversed", []string{"--kubeconfig=/k", "--min-port=30999", "--max-port=30000"}, options{}, "--min-port=30999 --max-port=30000 is not a port range"},
		{"port 0", []string{"--kubeconfig=/k", "--min-port=0"}, options{}, "--min-port=0 --max-port=20999 is not a port range"},
		{"port above 65535", []string{"--kubeconfig=/k", "--max-port=65536"}, options{}, "--min-port=20000 --max-port=65536 is not a port range"},
		{"error rate above 1", []string{"--kubeconfig=/k", "--error-rate=1.01"}, options{}, "--error-rate=1.01 must be within 0 and 1"},
		{"negative error rate", []string{"--kubeconfig=/k", "--error-rate=-0.1"}, options{}, "--error-rate=-0.1 must be within 0 and 1"},
		{"error rate NaN", []string{"--kubeconfig=/k", "--error-rate=NaN"}, options{}, "--error-rate=NaN must be within 0 and 1"},
		{"negative latency", []string{"--kubeconfig=/k", "--latency=-1s"}, options{}, "--latency=-1s must not be negative"},
		{"latency not a duration", []string{"--kubeconfig=/k", "--latency=300"}, options{}, `invalid value "300" for flag -latency`},
		{"negative heartbeat", []string{"--kubeconfig=/k", "--node-heartbeat=-1m"}, options{}, "--node-heartbeat=-1m0s must not be negative"},
		{"unknown flag", []string{"--kubeconfig=/k", "--port=1"}, options{}, "flag provided but not defined: -port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseFlags(tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("options\n%+v, want\n%+v", got, tc.want)
			}
		})
	}
}

// TestRunRefusesAMissingKubeconfig: run stops before starting anything when the kubeconfig cannot be read.
func TestRunRefusesAMissingKubeconfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.kubeconfig")
	o, err := parseFlags([]string{"--kubeconfig=" + path})
	if err != nil {
		t.Fatal(err)
	}
	err = run(context.Background(), o)
	if err == nil || !strings.HasPrefix(err.Error(), "--kubeconfig="+path+": ") {
		t.Fatalf("run = %v, want an error naming the kubeconfig", err)
	}
}

func TestHostToMachine(t *testing.T) {
	host := func(namespace string, consumer map[string]interface{}) client.Object {
		u := newObject(bmhGVK)
		u.SetNamespace(namespace)
		u.SetName("host-1")
		if consumer != nil {
			_ = unstructured.SetNestedMap(u.Object, consumer, "spec", "consumerRef")
		}
		return u
	}
	request := func(namespace, name string) []reconcile.Request {
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: namespace, Name: name}}}
	}
	for _, tc := range []struct {
		name string
		obj  client.Object
		want []reconcile.Request
	}{
		{"consumed by a Metal3Machine", host("hosts", map[string]interface{}{"kind": "Metal3Machine", "name": "m1", "namespace": "lab"}), request("lab", "m1")},
		{"consumer in the host's namespace", host("hosts", map[string]interface{}{"kind": "Metal3Machine", "name": "m1"}), request("hosts", "m1")},
		{"consumed by something else", host("hosts", map[string]interface{}{"kind": "Pod", "name": "p"}), nil},
		{"free host", host("hosts", nil), nil},
		{"not unstructured", &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "hosts", Name: "p"}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := hostToMachine(context.Background(), tc.obj)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("hostToMachine = %v, want %v", got, tc.want)
			}
		})
	}
}
