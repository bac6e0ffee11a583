// rawcreate is the benchmark's raw limit: an unthrottled client-go client creating the same objects as our bulk
// modules, from many goroutines, with no client-side rate limit (QPS -1): -kind cluster makes cluster_bulk's
// Cluster (a ClusterClass topology), -kind host makes bmh_bulk's pair (BMC Secret, then BareMetalHost).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the management cluster")
	n := flag.Int("n", 100, "clusters to create")
	set := flag.String("set", "bench-raw", "set name: label scalelab.io/set and name prefix")
	namespace := flag.String("namespace", "default", "namespace of the clusters and the ClusterClass")
	class := flag.String("class", "scalelab-in-memory", "ClusterClass")
	version := flag.String("version", "v1.35.4", "Kubernetes version of the workload clusters")
	apiVersion := flag.String("api-version", "v1beta2", "cluster.x-k8s.io version")
	workers := flag.Int("concurrency", 32, "goroutines")
	kind := flag.String("kind", "cluster", "cluster or host")
	flag.Parse()
	if *kind != "cluster" && *kind != "host" {
		fmt.Fprintln(os.Stderr, "-kind must be cluster or host")
		os.Exit(2)
	}

	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cfg.QPS = -1 // no client-side rate limit: the raw limit of the apiserver and webhooks
	cfg.Burst = 0
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	gvr := schema.GroupVersionResource{Group: "cluster.x-k8s.io", Version: *apiVersion, Resource: "clusters"}
	secrets := schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	hosts := schema.GroupVersionResource{Group: "metal3.io", Version: "v1alpha1", Resource: "baremetalhosts"}
	jobs := make(chan int)
	var created, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				name := fmt.Sprintf("%s-%04d", *set, i)
				var err error
				if *kind == "host" {
					secret, host := hostPair(name, *namespace, *set, i)
					_, err = client.Resource(secrets).Namespace(*namespace).Create(context.Background(), secret, metav1.CreateOptions{})
					if err == nil {
						_, err = client.Resource(hosts).Namespace(*namespace).Create(context.Background(), host, metav1.CreateOptions{})
					}
				} else {
					obj := cluster(*apiVersion, name, *namespace, *set, *class, *version)
					_, err = client.Resource(gvr).Namespace(*namespace).Create(context.Background(), obj, metav1.CreateOptions{})
				}
				if err != nil {
					if failed.Add(1) == 1 {
						fmt.Fprintln(os.Stderr, err)
					}
					continue
				}
				created.Add(1)
			}
		}()
	}
	for i := 1; i <= *n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	secs := time.Since(start).Seconds()
	_ = json.NewEncoder(os.Stdout).Encode(map[string]any{
		"created": created.Load(), "failed": failed.Load(), "seconds": secs, "per_second": float64(created.Load()) / secs,
	})
}

func cluster(apiVersion, name, namespace, set, class, version string) *unstructured.Unstructured {
	topology := map[string]any{
		"version":      version,
		"controlPlane": map[string]any{"replicas": int64(1)},
		"workers": map[string]any{"machineDeployments": []any{
			map[string]any{"class": "default-worker", "name": "md-0", "replicas": int64(0)},
		}},
	}
	if apiVersion == "v1beta1" {
		topology["class"] = class
	} else {
		topology["classRef"] = map[string]any{"name": class, "namespace": namespace}
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "cluster.x-k8s.io/" + apiVersion,
		"kind":       "Cluster",
		"metadata": map[string]any{
			"name": name, "namespace": namespace, "labels": map[string]any{"scalelab.io/set": set},
		},
		"spec": map[string]any{
			"clusterNetwork": map[string]any{
				"services":      map[string]any{"cidrBlocks": []any{"10.128.0.0/12"}},
				"pods":          map[string]any{"cidrBlocks": []any{"192.168.0.0/16"}},
				"serviceDomain": "cluster.local",
			},
			"topology": topology,
		},
	}}
}

// hostPair is what bmh_bulk writes for host i with its defaults: the BMC Secret and the BareMetalHost using it.
func hostPair(name, namespace, set string, i int) (*unstructured.Unstructured, *unstructured.Unstructured) {
	labels := map[string]any{"scalelab.io/set": set, "scalelab.io/index": fmt.Sprint(i)}
	secret := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "Secret",
		"metadata": map[string]any{
			"name": name + "-bmc-secret", "namespace": namespace,
			"labels": map[string]any{"scalelab.io/set": set, "scalelab.io/index": fmt.Sprint(i), "environment.metal3.io": "baremetal"},
		},
		"type": "Opaque",
		"data": map[string]any{"username": "YWRtaW4=", "password": "cGFzc3dvcmQ="},
	}}
	host := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "metal3.io/v1alpha1",
		"kind":       "BareMetalHost",
		"metadata":   map[string]any{"name": name, "namespace": namespace, "labels": labels},
		"spec": map[string]any{
			"bmc": map[string]any{
				"address":         fmt.Sprintf("ipmi://10.200.%d.%d:623", i/256, i%256),
				"credentialsName": name + "-bmc-secret",
			},
			"bootMACAddress": fmt.Sprintf("02:5c:a2:%02x:%02x:%02x", (i>>16)&0xff, (i>>8)&0xff, i&0xff),
			"online":         true,
		},
	}}
	return secret, host
}
