package main

// Tests of what a provisioned Metal3 machine puts in its workload cluster. The management cluster is
// controller-runtime's in-memory fake client (the Metal3 and Cluster API objects the reconcilers read); the
// workload clusters are real farms: their store, listeners and API answers.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	clusterv1 "sigs.k8s.io/cluster-api/api/v1beta1"
	"sigs.k8s.io/cluster-api/util/certs"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

const labNS = "lab"

func managementScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = clusterv1.AddToScheme(s)
	for _, gvk := range []schema.GroupVersionKind{m3MachineGVK, m3ClusterGVK, bmhGVK} {
		s.AddKnownTypeWithName(gvk, &unstructured.Unstructured{})
		s.AddKnownTypeWithName(gvk.GroupVersion().WithKind(gvk.Kind+"List"), &unstructured.UnstructuredList{})
	}
	return s
}

func newManagement(objs ...client.Object) client.Client {
	return fake.NewClientBuilder().WithScheme(managementScheme()).WithObjects(objs...).Build()
}

func newMachineReconciler(c client.Client, f *Farm) *MachineReconciler {
	return &MachineReconciler{Client: c, Reader: c, Farm: f, placed: map[types.NamespacedName]placed{}}
}

func cluster(name, infraKind string) *clusterv1.Cluster {
	return &clusterv1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: labNS, Name: name},
		Spec: clusterv1.ClusterSpec{InfrastructureRef: &corev1.ObjectReference{
			APIVersion: m3ClusterGVK.GroupVersion().String(), Kind: infraKind, Name: name,
		}},
	}
}

func metal3Cluster(name, host string, port int, annotations map[string]string) *unstructured.Unstructured {
	u := newObject(m3ClusterGVK)
	u.SetNamespace(labNS)
	u.SetName(name)
	u.SetAnnotations(annotations)
	_ = unstructured.SetNestedField(u.Object, host, "spec", "controlPlaneEndpoint", "host")
	_ = unstructured.SetNestedField(u.Object, int64(port), "spec", "controlPlaneEndpoint", "port")
	return u
}

// metal3Machine of cluster on host (namespace/name of a BareMetalHost, "" before CAPM3 picked one), owned by
// Machine <name>-m.
func metal3Machine(name, clusterName, host string, controlPlane bool, providerID string) *unstructured.Unstructured {
	u := newObject(m3MachineGVK)
	u.SetNamespace(labNS)
	u.SetName(name)
	labels := map[string]string{}
	if clusterName != "" {
		labels[clusterv1.ClusterNameLabel] = clusterName
	}
	if controlPlane {
		labels[controlPlaneLabel] = ""
	}
	u.SetLabels(labels)
	if host != "" {
		u.SetAnnotations(map[string]string{hostAnnotation: host})
	}
	u.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: clusterv1.GroupVersion.String(), Kind: "Machine", Name: name + "-m", UID: "m"}})
	if providerID != "" {
		_ = unstructured.SetNestedField(u.Object, providerID, "spec", "providerID")
	}
	return u
}

func machine(name, version string) *clusterv1.Machine {
	m := &clusterv1.Machine{ObjectMeta: metav1.ObjectMeta{Namespace: labNS, Name: name}}
	if version != "" {
		m.Spec.Version = &version
	}
	return m
}

func bareMetalHost(name, consumer, state string) *unstructured.Unstructured {
	u := newObject(bmhGVK)
	u.SetNamespace(labNS)
	u.SetName(name)
	u.SetUID(types.UID("uid-" + name))
	if consumer != "" {
		_ = unstructured.SetNestedMap(u.Object, map[string]interface{}{
			"apiVersion": m3MachineGVK.GroupVersion().String(), "kind": "Metal3Machine", "name": consumer, "namespace": labNS,
		}, "spec", "consumerRef")
	}
	_ = unstructured.SetNestedField(u.Object, state, "status", "provisioning", "state")
	return u
}

// giveHost makes control-plane machine m3m of cluster c1 (its Machine at version) and gives it the host, as CAPM3
// does with a host a deleted machine left.
func giveHost(t *testing.T, mgmt client.Client, hostName, m3m, version string) {
	t.Helper()
	ctx := context.Background()
	providerID := "metal3://lab/" + hostName + "/" + m3m
	for _, o := range []client.Object{metal3Machine(m3m, "c1", labNS+"/"+hostName, true, providerID), machine(m3m+"-m", version)} {
		if err := mgmt.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	host := newObject(bmhGVK)
	if err := mgmt.Get(ctx, client.ObjectKey{Namespace: labNS, Name: hostName}, host); err != nil {
		t.Fatal(err)
	}
	_ = unstructured.SetNestedField(host.Object, m3m, "spec", "consumerRef", "name")
	if err := mgmt.Update(ctx, host); err != nil {
		t.Fatal(err)
	}
}

func caSecret(name string, ca testCA) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: labNS, Name: name},
		Data:       map[string][]byte{"tls.crt": certs.EncodeCertPEM(ca.cert), "tls.key": certs.EncodePrivateKeyPEM(ca.key)},
	}
}

func reconcileMachine(t *testing.T, r *MachineReconciler, name string) (ctrl.Result, error) {
	t.Helper()
	return r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: labNS, Name: name}})
}

func exists(t *testing.T, f *Farm, key string, o client.Object) bool {
	t.Helper()
	err := storeOf(f, key).Get(context.Background(), client.ObjectKeyFromObject(o), o)
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}

func pod(name string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceSystem, Name: name}}
}

func TestFaultsOf(t *testing.T) {
	defaults := Faults{Latency: 50 * time.Millisecond, ErrorRate: 0.2}
	for _, tc := range []struct {
		name        string
		annotations map[string]string
		want        Faults
	}{
		{"none: the farm's defaults", nil, defaults},
		{"latency", map[string]string{latencyAnnotation: "300ms"}, Faults{Latency: 300 * time.Millisecond, ErrorRate: 0.2}},
		{"no latency", map[string]string{latencyAnnotation: "0s"}, Faults{ErrorRate: 0.2}},
		{"error rate", map[string]string{errorsAnnotation: "0.1"}, Faults{Latency: 50 * time.Millisecond, ErrorRate: 0.1}},
		{"both, bounds included", map[string]string{latencyAnnotation: "2s", errorsAnnotation: "1"}, Faults{Latency: 2 * time.Second, ErrorRate: 1}},
		{"zero error rate", map[string]string{errorsAnnotation: "0"}, Faults{Latency: 50 * time.Millisecond}},
		{"latency not a duration", map[string]string{latencyAnnotation: "300"}, defaults},
		{"negative latency", map[string]string{latencyAnnotation: "-1s"}, defaults},
		{"error rate above 1", map[string]string{errorsAnnotation: "1.5"}, defaults},
		{"negative error rate", map[string]string{errorsAnnotation: "-0.1"}, defaults},
		{"error rate NaN", map[string]string{errorsAnnotation: "NaN"}, defaults},
		{"error rate as a percentage", map[string]string{errorsAnnotation: "10%"}, defaults},
		{"one bad, one good", map[string]string{latencyAnnotation: "soon", errorsAnnotation: "0.5"}, Faults{Latency: 50 * time.Millisecond, ErrorRate: 0.5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := faultsOf(metal3Cluster("c", testHost, 30000, tc.annotations), defaults); got != tc.want {
				t.Errorf("faultsOf(%v) = %+v, want %+v", tc.annotations, got, tc.want)
			}
		})
	}
}

// TestWorkerMachine: nothing is served until the machine's host is provisioned for it and its cluster's endpoint
// is this farm's; then its node (no control plane, no listener).
func TestWorkerMachine(t *testing.T) {
	for _, tc := range []struct {
		name           string
		mutate         func(c *clusterv1.Cluster, m3c, m3m, bmh *unstructured.Unstructured)
		wantRegistered bool
		wantNode       bool
	}{
		{"provisioned host", nil, true, true},
		{"host still provisioning", func(_ *clusterv1.Cluster, _, _, bmh *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(bmh.Object, "provisioning", "status", "provisioning", "state")
		}, true, false},
		{"host consumed by another machine", func(_ *clusterv1.Cluster, _, _, bmh *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(bmh.Object, "c1-other", "spec", "consumerRef", "name")
		}, true, false},
		{"no host picked yet", func(_ *clusterv1.Cluster, _, m3m, _ *unstructured.Unstructured) {
			m3m.SetAnnotations(nil)
		}, true, false},
		{"host annotation naming a missing host", func(_ *clusterv1.Cluster, _, m3m, _ *unstructured.Unstructured) {
			m3m.SetAnnotations(map[string]string{hostAnnotation: labNS + "/missing"})
		}, true, false},
		{"machine without a cluster", func(_ *clusterv1.Cluster, _, m3m, _ *unstructured.Unstructured) {
			m3m.SetLabels(nil)
		}, false, false},
		{"cluster not on Metal3", func(c *clusterv1.Cluster, _, _, _ *unstructured.Unstructured) {
			c.Spec.InfrastructureRef.Kind = "DockerCluster"
		}, false, false},
		{"endpoint on another farm host", func(_ *clusterv1.Cluster, m3c, _, _ *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(m3c.Object, "10.0.0.7", "spec", "controlPlaneEndpoint", "host")
		}, false, false},
		{"endpoint port outside the range", func(_ *clusterv1.Cluster, m3c, _, _ *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(m3c.Object, int64(443), "spec", "controlPlaneEndpoint", "port")
		}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newTestFarm(t, Faults{})
			c, m3c := cluster("c1", m3ClusterGVK.Kind), metal3Cluster("c1", testHost, freePort(t), nil)
			m3m, bmh := metal3Machine("c1-w1", "c1", labNS+"/host-1", false, ""), bareMetalHost("host-1", "c1-w1", "provisioned")
			if tc.mutate != nil {
				tc.mutate(c, m3c, m3m, bmh)
			}
			r := newMachineReconciler(newManagement(c, m3c, m3m, bmh, machine("c1-w1-m", "v1.35.5")), f)
			res, err := reconcileMachine(t, r, "c1-w1")
			if err != nil || !res.IsZero() {
				t.Fatalf("Reconcile = %+v, %v", res, err)
			}
			if got := f.Registered("lab/c1"); got != tc.wantRegistered {
				t.Fatalf("registered %v, want %v", got, tc.wantRegistered)
			}
			if !tc.wantRegistered {
				return
			}
			node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "c1-w1"}}
			if got := exists(t, f, "lab/c1", node); got != tc.wantNode {
				t.Fatalf("node exists %v, want %v", got, tc.wantNode)
			}
			s := serverInfo(t, f, "lab/c1")
			if s.Listening || s.APIServers != 0 || s.Etcd != 0 || (s.Nodes == 1) != tc.wantNode {
				t.Errorf("server %+v", s)
			}
			if !tc.wantNode {
				return
			}
			want := map[string]string{uuidLabel: "uid-host-1", "kubernetes.io/hostname": "c1-w1"}
			if !equalMaps(node.Labels, want) || node.Spec.ProviderID != "" {
				t.Errorf("node labels %v providerID %q, want %v and none", node.Labels, node.Spec.ProviderID, want)
			}
			// The node's kubelet at its Machine's version: an upgrade's new nodes show the new one.
			if node.Status.NodeInfo.KubeletVersion != "v1.35.5" {
				t.Errorf("node kubelet version %q, want the Machine's v1.35.5", node.Status.NodeInfo.KubeletVersion)
			}
			if len(node.Status.Conditions) != 1 || node.Status.Conditions[0].Type != corev1.NodeReady || node.Status.Conditions[0].Status != corev1.ConditionTrue {
				t.Errorf("node conditions %v, want Ready", node.Status.Conditions)
			}
			if exists(t, f, "lab/c1", pod("etcd-c1-w1")) {
				t.Error("a worker got an etcd member")
			}
			// Reconciled again (the host's watch): nothing changes.
			if _, err := reconcileMachine(t, r, "c1-w1"); err != nil {
				t.Fatal(err)
			}
			if s := serverInfo(t, f, "lab/c1"); s.Nodes != 1 {
				t.Errorf("after a second reconcile: %+v", s)
			}
		})
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestControlPlaneMachines: a control-plane machine waits for its cluster's CAs, then gets its etcd member, static
// pods, API server (the listener opens) and kubeadm's objects, served over HTTPS and etcd's gRPC; a second member
// joins the first's etcd cluster; a deleted machine's pods and node go (Cluster API has drained it), so its host,
// provisioned again for the next machine of the cluster, gets a node of its own at that machine's version.
func TestControlPlaneMachines(t *testing.T) {
	f := newTestFarm(t, Faults{})
	ctx := context.Background()
	port := freePort(t)
	const key = "lab/c1"
	mgmt := newManagement(
		cluster("c1", m3ClusterGVK.Kind), metal3Cluster("c1", testHost, port, nil),
		metal3Machine("c1-cp1", "c1", labNS+"/host-1", true, "metal3://lab/host-1/c1-cp1"), machine("c1-cp1-m", "v1.29.5"),
		bareMetalHost("host-1", "c1-cp1", "provisioned"),
	)
	r := newMachineReconciler(mgmt, f)

	// No CA secrets yet: a requeue, the etcd pod and the node exist, no listener.
	res, err := reconcileMachine(t, r, "c1-cp1")
	if err != nil || res.RequeueAfter != 5*time.Second {
		t.Fatalf("Reconcile without CAs = %+v, %v; want a requeue after 5s", res, err)
	}
	if !exists(t, f, key, pod("etcd-c1-cp1")) || f.HasEtcdMember(key, "etcd-c1-cp1") || serverInfo(t, f, key).Listening {
		t.Fatalf("without CAs: %+v", serverInfo(t, f, key))
	}
	if err := mgmt.Create(ctx, caSecret("c1-etcd", sharedCA(t, "etcd"))); err != nil {
		t.Fatal(err)
	}
	if res, err := reconcileMachine(t, r, "c1-cp1"); err != nil || res.RequeueAfter != 5*time.Second {
		t.Fatalf("Reconcile with the etcd CA only = %+v, %v", res, err)
	}
	if !f.HasEtcdMember(key, "etcd-c1-cp1") || serverInfo(t, f, key).Listening {
		t.Fatalf("with the etcd CA only: %+v", serverInfo(t, f, key))
	}
	if err := mgmt.Create(ctx, caSecret("c1-ca", sharedCA(t, "cluster"))); err != nil {
		t.Fatal(err)
	}
	if res, err := reconcileMachine(t, r, "c1-cp1"); err != nil || !res.IsZero() {
		t.Fatalf("Reconcile with both CAs = %+v, %v", res, err)
	}
	if s := serverInfo(t, f, key); !s.Listening || s.APIServers != 1 || s.Etcd != 1 || s.Nodes != 1 {
		t.Fatalf("server %+v", s)
	}

	// What the workload cluster holds, read through its API server.
	kube := kubeClient(t, port)
	node, err := kube.CoreV1().Nodes().Get(ctx, "c1-cp1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if node.Labels[uuidLabel] != "uid-host-1" || node.Spec.ProviderID != "metal3://lab/host-1/c1-cp1" {
		t.Errorf("node labels %v providerID %q", node.Labels, node.Spec.ProviderID)
	}
	if _, ok := node.Labels["node-role.kubernetes.io/control-plane"]; !ok {
		t.Errorf("node labels %v: no control-plane role", node.Labels)
	}
	pods, err := kube.CoreV1().Pods(metav1.NamespaceSystem).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, p := range pods.Items {
		ready := len(p.Status.Conditions) == 1 && p.Status.Conditions[0].Type == corev1.PodReady && p.Status.Conditions[0].Status == corev1.ConditionTrue
		if p.Status.Phase != corev1.PodRunning || !ready || p.Spec.NodeName != "c1-cp1" || p.Labels["tier"] != "control-plane" {
			t.Errorf("pod %s: %+v", p.Name, p.Status)
		}
		names = append(names, p.Name)
	}
	sort.Strings(names)
	if got := strings.Join(names, ","); got != "etcd-c1-cp1,kube-apiserver-c1-cp1,kube-controller-manager-c1-cp1,kube-scheduler-c1-cp1" {
		t.Errorf("kube-system pods %s", got)
	}
	proxy, err := kube.AppsV1().DaemonSets(metav1.NamespaceSystem).Get(ctx, "kube-proxy", metav1.GetOptions{})
	if err != nil || proxy.Spec.Template.Spec.Containers[0].Image != "registry.k8s.io/kube-proxy:v1.29.5" {
		t.Errorf("kube-proxy %v: the Machine's version v1.29.5 expected", err)
	}
	for _, o := range []client.Object{
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceSystem, Name: "kubeadm-config"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceSystem, Name: "coredns"}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceSystem, Name: "coredns"}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "kubeadm:get-nodes"}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "kubeadm:get-nodes"}},
	} {
		if !exists(t, f, key, o) {
			t.Errorf("%T %s missing", o, o.GetName())
		}
	}
	etcd1 := pod("etcd-c1-cp1")
	exists(t, f, key, etcd1)
	members, err := etcdMembers(t, port, "etcd-c1-cp1")
	if err != nil {
		t.Fatal(err)
	}
	if len(members.Members) != 1 || members.Members[0].Name != "c1-cp1" ||
		strconv.FormatUint(members.Members[0].ID, 10) != etcd1.Annotations[etcdMemberIDAnno] {
		t.Errorf("etcd members %v, pod annotations %v", members, etcd1.Annotations)
	}
	if _, ok := etcd1.Annotations[etcdLeaderFromAnno]; !ok {
		t.Errorf("the first member is not the leader: %v", etcd1.Annotations)
	}

	// A second control-plane machine joins the same etcd cluster, not as leader, with its own certificate.
	for _, o := range []client.Object{
		metal3Machine("c1-cp2", "c1", labNS+"/host-2", true, ""), machine("c1-cp2-m", "v1.29.5"), bareMetalHost("host-2", "c1-cp2", "provisioned"),
	} {
		if err := mgmt.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	if res, err := reconcileMachine(t, r, "c1-cp2"); err != nil || !res.IsZero() {
		t.Fatalf("Reconcile c1-cp2 = %+v, %v", res, err)
	}
	etcd2 := pod("etcd-c1-cp2")
	exists(t, f, key, etcd2)
	if etcd2.Annotations[etcdClusterIDAnno] != etcd1.Annotations[etcdClusterIDAnno] || etcd2.Annotations[etcdMemberIDAnno] == etcd1.Annotations[etcdMemberIDAnno] {
		t.Errorf("second member %v, first %v: same cluster, another member ID expected", etcd2.Annotations, etcd1.Annotations)
	}
	if _, ok := etcd2.Annotations[etcdLeaderFromAnno]; ok {
		t.Errorf("the second member took the lead: %v", etcd2.Annotations)
	}
	if members, err := etcdMembers(t, port, "etcd-c1-cp2"); err != nil || len(members.Members) != 2 {
		t.Errorf("etcd-c1-cp2 lists %v (%v), want two members", members, err)
	}
	if s := serverInfo(t, f, key); s.APIServers != 2 || s.Etcd != 2 || s.Nodes != 2 {
		t.Errorf("server with two machines %+v", s)
	}
	if _, err := reconcileMachine(t, r, "c1-cp1"); err != nil { // idempotent
		t.Fatal(err)
	}

	// c1-cp2 is deleted: its pods and node go (Cluster API drained the node before it deleted the Metal3Machine, and
	// finds it gone).
	m3m := newObject(m3MachineGVK)
	if err := mgmt.Get(ctx, client.ObjectKey{Namespace: labNS, Name: "c1-cp2"}, m3m); err != nil {
		t.Fatal(err)
	}
	m3m.SetFinalizers([]string{"test/keep"})
	if err := mgmt.Update(ctx, m3m); err != nil {
		t.Fatal(err)
	}
	if err := mgmt.Delete(ctx, m3m); err != nil {
		t.Fatal(err)
	}
	if res, err := reconcileMachine(t, r, "c1-cp2"); err != nil || !res.IsZero() {
		t.Fatalf("Reconcile of the deleting c1-cp2 = %+v, %v", res, err)
	}
	for _, name := range []string{"etcd-c1-cp2", "kube-apiserver-c1-cp2", "kube-scheduler-c1-cp2", "kube-controller-manager-c1-cp2"} {
		if exists(t, f, key, pod(name)) {
			t.Errorf("pod %s is left", name)
		}
	}
	if exists(t, f, key, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "c1-cp2"}}) {
		t.Error("the node c1-cp2 is left")
	}
	if !exists(t, f, key, pod("etcd-c1-cp1")) || !exists(t, f, key, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "c1-cp1"}}) {
		t.Error("the other machine's pods or node went too")
	}
	if s := serverInfo(t, f, key); !s.Listening || s.APIServers != 1 || s.Etcd != 1 || s.Nodes != 1 {
		t.Errorf("server after the deletion %+v", s)
	}
	// Gone for good: nothing left to do.
	if err := mgmt.Get(ctx, client.ObjectKey{Namespace: labNS, Name: "c1-cp2"}, m3m); err != nil {
		t.Fatal(err)
	}
	m3m.SetFinalizers(nil)
	if err := mgmt.Update(ctx, m3m); err != nil {
		t.Fatal(err)
	}
	if res, err := reconcileMachine(t, r, "c1-cp2"); err != nil || !res.IsZero() {
		t.Fatalf("Reconcile of the gone c1-cp2 = %+v, %v", res, err)
	}

	// host-2 provisioned again for the cluster's next control-plane machine (an upgrade's replacement): a node of
	// its own, at the new machine's version.
	giveHost(t, mgmt, "host-2", "c1-cp3", "v1.29.6")
	if res, err := reconcileMachine(t, r, "c1-cp3"); err != nil || !res.IsZero() {
		t.Fatalf("Reconcile of c1-cp3 = %+v, %v", res, err)
	}
	again := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "c1-cp3"}}
	if !exists(t, f, key, again) || again.Status.NodeInfo.KubeletVersion != "v1.29.6" || again.Spec.ProviderID != "metal3://lab/host-2/c1-cp3" {
		t.Errorf("host-2's node for c1-cp3: kubelet %q providerID %q", again.Status.NodeInfo.KubeletVersion, again.Spec.ProviderID)
	}
}

// TestHostReusedBeforeTheOldMachineIsCleanedUp: a rollout frees a host and the cluster's next machine gets it
// before the farm and Cluster API have finished with the old one (seen in CI: a two-cluster Metal3 rollout stuck at
// 3/4 Machines for 10 minutes). Cluster API deletes the old Machine's node by name after its Metal3Machine is gone,
// and the farm forgets the old machine late: neither may take the new machine's node, etcd member or API server.
func TestHostReusedBeforeTheOldMachineIsCleanedUp(t *testing.T) {
	f := newTestFarm(t, Faults{})
	ctx := context.Background()
	const key = "lab/c1"
	mgmt := newManagement(
		cluster("c1", m3ClusterGVK.Kind), metal3Cluster("c1", testHost, freePort(t), nil),
		caSecret("c1-etcd", sharedCA(t, "etcd")), caSecret("c1-ca", sharedCA(t, "cluster")),
		metal3Machine("c1-w1", "c1", labNS+"/host-1", false, "metal3://lab/host-1/c1-w1"), machine("c1-w1-m", "v1.29.5"),
		bareMetalHost("host-1", "c1-w1", "provisioned"),
	)
	r := newMachineReconciler(mgmt, f)
	if _, err := reconcileMachine(t, r, "c1-w1"); err != nil {
		t.Fatal(err)
	}
	nodes := &corev1.NodeList{}
	if err := storeOf(f, key).List(ctx, nodes); err != nil || len(nodes.Items) != 1 {
		t.Fatalf("nodes %v, %v: want the worker's", nodes.Items, err)
	}
	oldNode := nodes.Items[0].Name // the old Machine's nodeRef

	// The worker's Metal3Machine is gone (the farm has not seen it yet) and host-1 goes to a control-plane machine.
	if err := mgmt.Delete(ctx, metal3Machine("c1-w1", "c1", "", false, "")); err != nil {
		t.Fatal(err)
	}
	giveHost(t, mgmt, "host-1", "c1-cp2", "v1.29.5")
	if res, err := reconcileMachine(t, r, "c1-cp2"); err != nil || !res.IsZero() {
		t.Fatalf("Reconcile c1-cp2 = %+v, %v", res, err)
	}
	onHost := func() []string {
		if err := storeOf(f, key).List(ctx, nodes); err != nil {
			t.Fatal(err)
		}
		names := []string{}
		for _, n := range nodes.Items {
			if n.Labels[uuidLabel] == "uid-host-1" {
				names = append(names, n.Name+" "+n.Spec.ProviderID)
			}
		}
		return names
	}
	newNode := "c1-cp2 metal3://lab/host-1/c1-cp2"
	// Then Cluster API deletes the old Machine's node, and the farm reconciles the old Metal3Machine's absence.
	if err := storeOf(f, key).Delete(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: oldNode}}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	if res, err := reconcileMachine(t, r, "c1-w1"); err != nil || !res.IsZero() {
		t.Fatalf("Reconcile of the gone c1-w1 = %+v, %v", res, err)
	}
	if got := onHost(); len(got) != 1 || got[0] != newNode {
		t.Errorf("nodes on host-1 after the old machine's cleanup %v, want only %q", got, newNode)
	}
	if !f.HasEtcdMember(key, "etcd-c1-cp2") || !f.HasAPIServer(key, "kube-apiserver-c1-cp2") || !exists(t, f, key, pod("etcd-c1-cp2")) {
		t.Errorf("c1-cp2's etcd member, API server or etcd pod went with c1-w1: %+v", serverInfo(t, f, key))
	}
	if s := serverInfo(t, f, key); s.Nodes != 1 || s.APIServers != 1 || s.Etcd != 1 {
		t.Errorf("server %+v, want c1-cp2's node, API server and etcd member", s)
	}
}

// TestNodeNameAfterAFarmRestart: a machine whose node Cluster API has recorded keeps that name when a (new) farm
// serves it again - a lab made by a farm that named nodes after hosts too - and a machine without one gets its own.
func TestNodeNameAfterAFarmRestart(t *testing.T) {
	f := newTestFarm(t, Faults{})
	recorded := machine("c1-w1-m", "v1.29.5")
	recorded.Status.NodeRef = &corev1.ObjectReference{Kind: "Node", Name: "host-1"}
	mgmt := newManagement(
		cluster("c1", m3ClusterGVK.Kind), metal3Cluster("c1", testHost, freePort(t), nil),
		metal3Machine("c1-w1", "c1", labNS+"/host-1", false, "metal3://lab/host-1/c1-w1"), recorded,
		bareMetalHost("host-1", "c1-w1", "provisioned"),
		metal3Machine("c1-w2", "c1", labNS+"/host-2", false, ""), machine("c1-w2-m", "v1.29.5"),
		bareMetalHost("host-2", "c1-w2", "provisioned"),
	)
	r := newMachineReconciler(mgmt, f)
	for _, name := range []string{"c1-w1", "c1-w2"} {
		if res, err := reconcileMachine(t, r, name); err != nil || !res.IsZero() {
			t.Fatalf("Reconcile %s = %+v, %v", name, res, err)
		}
	}
	for _, name := range []string{"host-1", "c1-w2"} {
		if !exists(t, f, "lab/c1", &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}) {
			t.Errorf("no node %s", name)
		}
	}
	if s := serverInfo(t, f, "lab/c1"); s.Nodes != 2 {
		t.Errorf("server %+v, want two nodes", s)
	}
}

// TestControlPlaneMachineWithoutVersion: kube-proxy's image falls back to v1.29.0 when the Machine has no version.
func TestControlPlaneMachineWithoutVersion(t *testing.T) {
	f := newTestFarm(t, Faults{})
	mgmt := newManagement(
		cluster("c1", m3ClusterGVK.Kind), metal3Cluster("c1", testHost, freePort(t), nil),
		metal3Machine("c1-cp1", "c1", labNS+"/host-1", true, ""), machine("c1-cp1-m", ""),
		bareMetalHost("host-1", "c1-cp1", "provisioned"),
		caSecret("c1-etcd", sharedCA(t, "etcd")), caSecret("c1-ca", sharedCA(t, "cluster")),
	)
	if res, err := reconcileMachine(t, newMachineReconciler(mgmt, f), "c1-cp1"); err != nil || !res.IsZero() {
		t.Fatalf("Reconcile = %+v, %v", res, err)
	}
	proxy := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceSystem, Name: "kube-proxy"}}
	if !exists(t, f, "lab/c1", proxy) || proxy.Spec.Template.Spec.Containers[0].Image != "registry.k8s.io/kube-proxy:v1.29.0" {
		t.Errorf("kube-proxy %+v", proxy.Spec.Template.Spec.Containers)
	}
}

// TestControlPlaneBadCA: a CA secret that is not a PEM certificate and RSA key is an error naming it.
func TestControlPlaneBadCA(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	ecPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	for _, tc := range []struct {
		name    string
		secret  string
		data    map[string][]byte
		wantErr string
	}{
		{"etcd CA certificate not PEM", "c1-etcd", map[string][]byte{"tls.crt": []byte("junk")}, "secret lab/c1-etcd: tls.crt is not a PEM certificate"},
		{"etcd CA key not PEM", "c1-etcd", map[string][]byte{"tls.key": []byte("junk")}, "secret lab/c1-etcd: tls.key: unable to decode PEM data"},
		{"cluster CA key not RSA", "c1-ca", map[string][]byte{"tls.key": ecPEM}, "secret lab/c1-ca: tls.key is not an RSA key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newTestFarm(t, Faults{})
			etcd, ca := caSecret("c1-etcd", sharedCA(t, "etcd")), caSecret("c1-ca", sharedCA(t, "cluster"))
			for _, s := range []*corev1.Secret{etcd, ca} {
				if s.Name == tc.secret {
					for k, v := range tc.data {
						s.Data[k] = v
					}
				}
			}
			mgmt := newManagement(
				cluster("c1", m3ClusterGVK.Kind), metal3Cluster("c1", testHost, freePort(t), nil),
				metal3Machine("c1-cp1", "c1", labNS+"/host-1", true, ""), bareMetalHost("host-1", "c1-cp1", "provisioned"), etcd, ca,
			)
			_, err := reconcileMachine(t, newMachineReconciler(mgmt, f), "c1-cp1")
			if err == nil || err.Error() != tc.wantErr {
				t.Fatalf("Reconcile error %v, want %q", err, tc.wantErr)
			}
			if serverInfo(t, f, "lab/c1").Listening {
				t.Error("listening with a bad CA")
			}
		})
	}
}

// TestMachinePortConflict: two clusters naming the same endpoint: the second is refused, naming both.
func TestMachinePortConflict(t *testing.T) {
	f := newTestFarm(t, Faults{})
	port := freePort(t)
	mgmt := newManagement(
		cluster("c1", m3ClusterGVK.Kind), metal3Cluster("c1", testHost, port, nil),
		metal3Machine("c1-w1", "c1", "", false, ""),
		cluster("c2", m3ClusterGVK.Kind), metal3Cluster("c2", testHost, port, nil),
		metal3Machine("c2-w1", "c2", "", false, ""),
	)
	r := newMachineReconciler(mgmt, f)
	if _, err := reconcileMachine(t, r, "c1-w1"); err != nil {
		t.Fatal(err)
	}
	_, err := reconcileMachine(t, r, "c2-w1")
	if want := "port " + strconv.Itoa(port) + " of lab/c2 is already served for lab/c1"; err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}

// TestClusterReconciler: a served cluster takes its fault annotations (bad values keep the farm's defaults), an
// unserved one is left alone, a deleted one stops being served.
func TestClusterReconciler(t *testing.T) {
	defaults := Faults{Latency: 20 * time.Millisecond, ErrorRate: 0.05}
	f := newTestFarm(t, defaults)
	ctx := context.Background()
	port := serve(t, f, "lab/c1", Faults{})
	mgmt := newManagement(
		metal3Cluster("c1", testHost, port, map[string]string{latencyAnnotation: "300ms", errorsAnnotation: "0.1"}),
		metal3Cluster("c2", testHost, 30002, map[string]string{latencyAnnotation: "300ms"}),
	)
	r := &ClusterReconciler{Client: mgmt, Farm: f}
	reconcileCluster := func(name string) {
		t.Helper()
		if res, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: labNS, Name: name}}); err != nil || !res.IsZero() {
			t.Fatalf("Reconcile(%s) = %+v, %v", name, res, err)
		}
	}
	reconcileCluster("c1")
	if s := serverInfo(t, f, "lab/c1"); s.LatencyMS != 300 || s.ErrorRate != 0.1 {
		t.Errorf("annotated faults not applied: %+v", s)
	}
	m3c := newObject(m3ClusterGVK)
	if err := mgmt.Get(ctx, client.ObjectKey{Namespace: labNS, Name: "c1"}, m3c); err != nil {
		t.Fatal(err)
	}
	m3c.SetAnnotations(map[string]string{latencyAnnotation: "a while", errorsAnnotation: "2"})
	if err := mgmt.Update(ctx, m3c); err != nil {
		t.Fatal(err)
	}
	reconcileCluster("c1")
	if s := serverInfo(t, f, "lab/c1"); s.LatencyMS != 20 || s.ErrorRate != 0.05 {
		t.Errorf("bad annotations did not fall back to the defaults: %+v", s)
	}
	reconcileCluster("c2")
	if f.Registered("lab/c2") {
		t.Error("a cluster with no machine here was registered")
	}
	if err := mgmt.Delete(ctx, m3c); err != nil {
		t.Fatal(err)
	}
	reconcileCluster("c1")
	if f.Registered("lab/c1") {
		t.Error("a deleted cluster is still served")
	}
	if conn, err := net.DialTimeout("tcp", net.JoinHostPort(testHost, strconv.Itoa(port)), 5*time.Second); err == nil {
		conn.Close()
		t.Error("a deleted cluster's port still accepts connections")
	}
}

// TestEnsureEtcdPod: members removed through etcd's API do not count: with only removed ones, a new member starts
// a new etcd cluster and leads it.
func TestEnsureEtcdPod(t *testing.T) {
	f := newTestFarm(t, Faults{})
	if err := f.Register("lab/c1", "c1", 30001, Faults{}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	store := storeOf(f, "lab/c1")
	removed := staticPod("etcd", "old")
	removed.Annotations = map[string]string{etcdClusterIDAnno: "11", etcdMemberIDAnno: "22", etcdLeaderFromAnno: time.Now().Format(time.RFC3339), etcdRemovedAnno: ""}
	if err := store.Create(ctx, removed); err != nil {
		t.Fatal(err)
	}
	if err := ensureEtcdPod(ctx, store, "etcd-new", "new"); err != nil {
		t.Fatal(err)
	}
	p := pod("etcd-new")
	exists(t, f, "lab/c1", p)
	if p.Annotations[etcdClusterIDAnno] == "11" || p.Annotations[etcdClusterIDAnno] == "" || p.Annotations[etcdMemberIDAnno] == "" {
		t.Errorf("new member %v took the removed member's cluster", p.Annotations)
	}
	if _, ok := p.Annotations[etcdLeaderFromAnno]; !ok {
		t.Errorf("new member %v does not lead", p.Annotations)
	}
	// Called again: the pod is kept as it is.
	if err := ensureEtcdPod(ctx, store, "etcd-new", "new"); err != nil {
		t.Fatal(err)
	}
	again := pod("etcd-new")
	exists(t, f, "lab/c1", again)
	if again.Annotations[etcdMemberIDAnno] != p.Annotations[etcdMemberIDAnno] {
		t.Errorf("member ID changed from %s to %s", p.Annotations[etcdMemberIDAnno], again.Annotations[etcdMemberIDAnno])
	}
}

func TestRandomID(t *testing.T) {
	taken := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := randomID(taken)
		if id == "0" || taken[id] {
			t.Fatalf("randomID gave %q, zero or taken", id)
		}
		if _, err := strconv.ParseUint(id, 10, 64); err != nil {
			t.Fatalf("randomID gave %q: %v", id, err)
		}
		taken[id] = true
	}
}
