// Command apiserver-farm serves the fake API servers of many Metal3 workload clusters from one process.
//
// It watches the management cluster: a cluster whose Metal3Cluster control-plane endpoint is this farm's host
// and a port in its range is served here. Endpoints are fixed when clusters are created (scalelab.capi.cluster_bulk
// endpoint_pool), so several farms on several hosts share one lab without coordination and a restarted farm
// serves the same clusters on the same ports.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	"k8s.io/klog/v2/textlogger"
	clusterv1 "sigs.k8s.io/cluster-api/api/v1beta1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	inmemoryruntime "sigs.k8s.io/cluster-api/test/infrastructure/inmemory/pkg/runtime"
)

type options struct {
	kubeconfig, host, bindHost, namespace, metricsAddr, healthAddr string
	minPort, maxPort, concurrency, burst                           int
	qps, errorRate                                                 float64
	latency, heartbeat                                             time.Duration
	metricsTLS                                                     metricsTLS
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("apiserver-farm", flag.ContinueOnError)
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "Kubeconfig of the management cluster (required).")
	fs.StringVar(&o.host, "host", "127.0.0.1", "Address that served clusters' control-plane endpoints name.")
	fs.StringVar(&o.bindHost, "bind-address", "", "Address the API servers listen on (default: --host).")
	fs.IntVar(&o.minPort, "min-port", 20000, "First port of this farm's range.")
	fs.IntVar(&o.maxPort, "max-port", 20999, "Last port of this farm's range.")
	fs.StringVar(&o.namespace, "namespace", "", "Namespace to watch (default: all).")
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", "127.0.0.1:19100", "Address of /metrics and /farm/servers.")
	fs.StringVar(&o.metricsTLS.certDir, "metrics-cert-dir", "", "Directory of the metrics listener's tls.crt and tls.key (TLS; required off loopback).")
	fs.StringVar(&o.metricsTLS.clientCA, "metrics-client-ca", "", "CA of the metrics listener's clients' certificates (required off loopback).")
	fs.StringVar(&o.metricsTLS.clientName, "metrics-client-name", "", "The one client certificate common name the metrics listener lets in (required off loopback).")
	fs.StringVar(&o.healthAddr, "health-probe-bind-address", "127.0.0.1:19101", "Address of /healthz and /readyz.")
	fs.IntVar(&o.concurrency, "concurrency", 10, "Machines reconciled at once.")
	fs.Float64Var(&o.qps, "kube-api-qps", 20, "Client rate limit towards the management cluster.")
	fs.IntVar(&o.burst, "kube-api-burst", 30, "Client burst towards the management cluster.")
	fs.DurationVar(&o.latency, "latency", 0, "Latency added to every API request (annotation "+latencyAnnotation+" overrides per cluster).")
	fs.DurationVar(&o.heartbeat, "node-heartbeat", time.Minute, "How often every node's Ready condition is refreshed, like a kubelet's status report (0: never).")
	fs.Float64Var(&o.errorRate, "error-rate", 0, "Share of API requests answered 500 (annotation "+errorsAnnotation+" overrides per cluster).")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.bindHost == "" {
		o.bindHost = o.host
	}
	switch {
	case o.kubeconfig == "":
		return o, fmt.Errorf("--kubeconfig is required")
	case net.ParseIP(o.host) == nil:
		return o, fmt.Errorf("--host=%q is not an IP address", o.host)
	case o.minPort < 1 || o.maxPort > 65535 || o.minPort > o.maxPort:
		return o, fmt.Errorf("--min-port=%d --max-port=%d is not a port range", o.minPort, o.maxPort)
	case !(o.errorRate >= 0 && o.errorRate <= 1): // NaN too
		return o, fmt.Errorf("--error-rate=%v must be within 0 and 1", o.errorRate)
	case o.latency < 0:
		return o, fmt.Errorf("--latency=%v must not be negative", o.latency)
	case o.heartbeat < 0:
		return o, fmt.Errorf("--node-heartbeat=%v must not be negative", o.heartbeat)
	}
	return o, checkMetricsTLS(o.metricsAddr, o.metricsTLS)
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "apiserver-farm:", err)
		os.Exit(2)
	}
	log := textlogger.NewLogger(textlogger.NewConfig())
	ctrl.SetLogger(log)
	klog.SetLogger(log)
	if err := run(ctrl.SetupSignalHandler(), o); err != nil {
		log.Error(err, "apiserver-farm failed")
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	log := ctrl.Log.WithName("farm")
	restConfig, err := clientcmd.BuildConfigFromFlags("", o.kubeconfig)
	if err != nil {
		return fmt.Errorf("--kubeconfig=%s: %w", o.kubeconfig, err)
	}
	restConfig.QPS, restConfig.Burst = float32(o.qps), o.burst
	restConfig.UserAgent = "scalelab-apiserver-farm"

	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = clusterv1.AddToScheme(scheme)
	storeScheme := runtime.NewScheme()
	_ = corev1.AddToScheme(storeScheme)
	_ = appsv1.AddToScheme(storeScheme)
	_ = rbacv1.AddToScheme(storeScheme)

	store := inmemoryruntime.NewManager(storeScheme)
	if err := store.Start(ctx); err != nil {
		return err
	}
	farm, err := NewFarm(store, o.host, o.bindHost, o.minPort, o.maxPort, Faults{Latency: o.latency, ErrorRate: o.errorRate}, log)
	if err != nil {
		return err
	}

	cacheOpts := cache.Options{}
	if o.namespace != "" {
		cacheOpts.DefaultNamespaces = map[string]cache.Config{o.namespace: {}}
	}
	metrics, err := metricsOptions(o.metricsAddr, o.metricsTLS, map[string]http.Handler{
		"/farm/servers": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(farm.Servers())
		}),
	})
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme:                 scheme,
		Cache:                  cacheOpts,
		Metrics:                metrics,
		HealthProbeBindAddress: o.healthAddr,
		Client:                 client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
	})
	if err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return err
	}

	machines := &MachineReconciler{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Farm: farm, placed: map[client.ObjectKey]placed{}}
	err = ctrl.NewControllerManagedBy(mgr).
		Named("metal3machine").
		For(newObject(m3MachineGVK)).
		Watches(newObject(bmhGVK), handler.EnqueueRequestsFromMapFunc(hostToMachine)).
		WithOptions(controller.Options{MaxConcurrentReconciles: o.concurrency}).
		Complete(machines)
	if err != nil {
		return err
	}
	err = ctrl.NewControllerManagedBy(mgr).
		Named("metal3cluster").
		For(newObject(m3ClusterGVK)).
		Complete(&ClusterReconciler{Client: mgr.GetClient(), Farm: farm})
	if err != nil {
		return err
	}
	if o.heartbeat > 0 {
		err = mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
			t := time.NewTicker(o.heartbeat)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return nil
				case <-t.C:
					farm.Heartbeat(ctx)
				}
			}
		}))
		if err != nil {
			return err
		}
	}
	log.Info("Starting", "host", o.host, "bind", o.bindHost, "ports", fmt.Sprintf("%d-%d", o.minPort, o.maxPort))
	err = mgr.Start(ctx)
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = farm.Shutdown(shutdown)
	return err
}

// hostToMachine maps a BareMetalHost to the Metal3Machine consuming it.
func hostToMachine(_ context.Context, o client.Object) []reconcile.Request {
	u, ok := o.(interface{ UnstructuredContent() map[string]interface{} })
	if !ok {
		return nil
	}
	spec, _ := u.UnstructuredContent()["spec"].(map[string]interface{})
	ref, _ := spec["consumerRef"].(map[string]interface{})
	if ref == nil || ref["kind"] != "Metal3Machine" {
		return nil
	}
	name, _ := ref["name"].(string)
	ns, _ := ref["namespace"].(string)
	if ns == "" {
		ns = o.GetNamespace()
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: ns, Name: name}}}
}
