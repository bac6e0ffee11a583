package main

// What a booted Metal3 machine would put in its workload cluster: once CAPM3 has given a Metal3Machine a
// BareMetalHost and BMO reports that host provisioned, the farm creates the Node CAPM3 looks for (label
// metal3.io/uuid=<host UID>; CAPM3 then sets its providerID) and, for control-plane machines, the etcd member,
// the static pods Cluster API checks, and the kubeadm objects, as Cluster API's in-memory provider does for its
// own machines (internal/controllers/inmemorymachine_controller.go, which is not importable).

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	clusterv1 "sigs.k8s.io/cluster-api/api/v1beta1"
	"sigs.k8s.io/cluster-api/util/certs"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	inmemoryclient "sigs.k8s.io/cluster-api/test/infrastructure/inmemory/pkg/runtime/client"
)

const (
	hostAnnotation    = "metal3.io/BareMetalHost"
	uuidLabel         = "metal3.io/uuid"
	controlPlaneLabel = "cluster.x-k8s.io/control-plane"
	latencyAnnotation = "farm.scalelab.io/latency"
	errorsAnnotation  = "farm.scalelab.io/error-rate"
	// Set on every node at each heartbeat: the last time the farm refreshed it.
	heartbeatAnnotation = "farm.scalelab.io/heartbeat"
	etcdClusterIDAnno   = "etcd.inmemory.infrastructure.cluster.x-k8s.io/cluster-id"
	etcdMemberIDAnno    = "etcd.inmemory.infrastructure.cluster.x-k8s.io/member-id"
	etcdLeaderFromAnno  = "etcd.inmemory.infrastructure.cluster.x-k8s.io/leader-from"
	etcdRemovedAnno     = "etcd.inmemory.infrastructure.cluster.x-k8s.io/member-removed"
)

var (
	m3MachineGVK = schema.GroupVersionKind{Group: "infrastructure.cluster.x-k8s.io", Version: "v1beta1", Kind: "Metal3Machine"}
	m3ClusterGVK = schema.GroupVersionKind{Group: "infrastructure.cluster.x-k8s.io", Version: "v1beta1", Kind: "Metal3Cluster"}
	bmhGVK       = schema.GroupVersionKind{Group: "metal3.io", Version: "v1alpha1", Kind: "BareMetalHost"}
)

func newObject(gvk schema.GroupVersionKind) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	return u
}

// placed is where a Metal3Machine's node lives, kept to clean up after the machine is gone.
type placed struct {
	cluster string
	node    string
}

// MachineReconciler keeps each served cluster's fake nodes and control plane in step with its Metal3Machines.
type MachineReconciler struct {
	Client client.Client // cached: Metal3Machines, Metal3Clusters, BareMetalHosts, Clusters
	Reader client.Reader // uncached: the CA secrets (once per control-plane machine) and Machines (once per new node)
	Farm   *Farm

	mu     sync.Mutex
	placed map[types.NamespacedName]placed
}

func (r *MachineReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	m3m := newObject(m3MachineGVK)
	if err := r.Client.Get(ctx, req.NamespacedName, m3m); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(ctx, req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	if m3m.GetDeletionTimestamp() != nil {
		// The host is being deprovisioned: its static pods and node go.
		r.forget(ctx, req.NamespacedName)
		return ctrl.Result{}, nil
	}
	clusterName := m3m.GetLabels()[clusterv1.ClusterNameLabel]
	if clusterName == "" {
		return ctrl.Result{}, nil
	}
	m3c, err := r.metal3Cluster(ctx, m3m.GetNamespace(), clusterName)
	if err != nil || m3c == nil {
		return ctrl.Result{}, err
	}
	host, _, _ := unstructured.NestedString(m3c.Object, "spec", "controlPlaneEndpoint", "host")
	port, _, _ := unstructured.NestedInt64(m3c.Object, "spec", "controlPlaneEndpoint", "port")
	if !r.Farm.InRange(host, int(port)) {
		return ctrl.Result{}, nil
	}
	key := m3c.GetNamespace() + "/" + m3c.GetName()
	if err := r.Farm.Register(key, clusterName, int(port), faultsOf(m3c, r.Farm.defaults)); err != nil {
		return ctrl.Result{}, err
	}

	bmh, err := r.provisionedHost(ctx, m3m)
	if err != nil || bmh == nil {
		return ctrl.Result{}, err
	}
	// The Machine, read (uncached) at most once here: a node's name after a farm restart, a new node's version.
	var owner *clusterv1.Machine
	read := false
	machine := func() (*clusterv1.Machine, error) {
		if !read {
			var err error
			owner, err = r.machine(ctx, m3m)
			read = err == nil
			return owner, err
		}
		return owner, nil
	}
	machineVersion := func() (string, error) {
		m, err := machine()
		if err != nil || m == nil || m.Spec.Version == nil {
			return "", err
		}
		return *m.Spec.Version, nil
	}
	node, err := r.nodeName(req.NamespacedName, m3m, machine)
	if err != nil {
		return ctrl.Result{}, err
	}
	r.mu.Lock()
	r.placed[req.NamespacedName] = placed{cluster: key, node: node}
	r.mu.Unlock()

	store := r.Farm.manager.GetResourceGroup(key).GetClient()
	providerID, _, _ := unstructured.NestedString(m3m.Object, "spec", "providerID")
	cp := isControlPlane(m3m)
	if err := ensureNode(ctx, store, node, string(bmh.GetUID()), providerID, cp, machineVersion); err != nil {
		return ctrl.Result{}, err
	}
	r.Farm.AddNode(key, node)
	if !cp {
		return ctrl.Result{}, nil
	}
	// The version only names kube-proxy's image here: read while kube-proxy is missing.
	proxyVersion := ""
	proxy := &appsv1.DaemonSet{}
	if err := store.Get(ctx, client.ObjectKey{Namespace: metav1.NamespaceSystem, Name: "kube-proxy"}, proxy); apierrors.IsNotFound(err) {
		if proxyVersion, err = machineVersion(); err != nil {
			return ctrl.Result{}, err
		}
	}
	return r.controlPlane(ctx, store, key, clusterName, m3m.GetNamespace(), node, proxyVersion)
}

// controlPlane brings up etcd, then the API server (which opens the listener), then the rest.
func (r *MachineReconciler) controlPlane(ctx context.Context, store inmemoryclient.Client, key, clusterName, namespace, node, version string) (ctrl.Result, error) {
	etcdPod := "etcd-" + node
	if err := ensureEtcdPod(ctx, store, etcdPod, node); err != nil {
		return ctrl.Result{}, err
	}
	if !r.Farm.HasEtcdMember(key, etcdPod) {
		if res, err := r.withCA(ctx, namespace, clusterName+"-etcd", func(c *x509.Certificate, k *rsa.PrivateKey) error {
			return r.Farm.AddEtcdMember(key, etcdPod, c, k)
		}); err != nil || !res.IsZero() {
			return res, err
		}
	}
	apiPod := "kube-apiserver-" + node
	for _, component := range []string{"kube-apiserver", "kube-scheduler", "kube-controller-manager"} {
		if err := createIfMissing(ctx, store, staticPod(component, node)); err != nil {
			return ctrl.Result{}, err
		}
	}
	if !r.Farm.HasAPIServer(key, apiPod) {
		if res, err := r.withCA(ctx, namespace, clusterName+"-ca", func(c *x509.Certificate, k *rsa.PrivateKey) error {
			return r.Farm.AddAPIServer(key, apiPod, c, k)
		}); err != nil || !res.IsZero() {
			return res, err
		}
	}
	for _, o := range kubeadmObjects(version) {
		if err := createIfMissing(ctx, store, o); err != nil {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{}, nil
}

// forget removes a gone machine's control-plane pods; KCP has already removed its etcd member through the etcd API.
func (r *MachineReconciler) forget(ctx context.Context, name types.NamespacedName) {
	r.mu.Lock()
	p, ok := r.placed[name]
	delete(r.placed, name)
	r.mu.Unlock()
	if !ok {
		return
	}
	r.Farm.RemoveMachine(p.cluster, p.node)
	if !r.Farm.Registered(p.cluster) {
		return
	}
	store := r.Farm.manager.GetResourceGroup(p.cluster).GetClient()
	// The node goes too (Cluster API drained it before deleting the Metal3Machine and finds it gone later): its host's
	// next machine must not find a node with the host's UID label (CAPM3 matches a node by it).
	objects := []client.Object{&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: p.node}}}
	for _, component := range []string{"etcd", "kube-apiserver", "kube-scheduler", "kube-controller-manager"} {
		objects = append(objects, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceSystem, Name: component + "-" + p.node}})
	}
	for _, o := range objects {
		if err := store.Delete(ctx, o); err != nil && !apierrors.IsNotFound(err) {
			ctrl.LoggerFrom(ctx).Error(err, "Deleting a machine's object", "cluster", p.cluster, "name", o.GetName())
		}
	}
}

// nodeName: the name the farm gave the machine's node, else the one Cluster API recorded (a farm restarted), else the
// Metal3Machine's - not the host's, which the host's next machine would share while Cluster API deletes the old
// machine's node by name (a Metal3 kubelet's hostname is usually its machine's too).
func (r *MachineReconciler) nodeName(name types.NamespacedName, m3m *unstructured.Unstructured, machine func() (*clusterv1.Machine, error)) (string, error) {
	r.mu.Lock()
	p, ok := r.placed[name]
	r.mu.Unlock()
	if ok {
		return p.node, nil
	}
	m, err := machine()
	if err != nil {
		return "", err
	}
	if m != nil && m.Status.NodeRef != nil && m.Status.NodeRef.Name != "" {
		return m.Status.NodeRef.Name, nil
	}
	return m3m.GetName(), nil
}

// metal3Cluster is the cluster's infrastructure object, nil when the Cluster does not point at one yet.
func (r *MachineReconciler) metal3Cluster(ctx context.Context, namespace, clusterName string) (*unstructured.Unstructured, error) {
	cluster := &clusterv1.Cluster{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: clusterName}, cluster); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	ref := cluster.Spec.InfrastructureRef
	if ref == nil || ref.Kind != m3ClusterGVK.Kind {
		return nil, nil
	}
	m3c := newObject(m3ClusterGVK)
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: ref.Name}, m3c); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	return m3c, nil
}

// provisionedHost is the machine's BareMetalHost once BMO reports it provisioned for this machine.
func (r *MachineReconciler) provisionedHost(ctx context.Context, m3m *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	ns, name, ok := strings.Cut(m3m.GetAnnotations()[hostAnnotation], "/")
	if !ok {
		return nil, nil
	}
	bmh := newObject(bmhGVK)
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, bmh); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	state, _, _ := unstructured.NestedString(bmh.Object, "status", "provisioning", "state")
	consumer, _, _ := unstructured.NestedString(bmh.Object, "spec", "consumerRef", "name")
	if state != "provisioned" || consumer != m3m.GetName() {
		return nil, nil
	}
	return bmh, nil
}

// machine is the Metal3Machine's owning Machine (uncached), nil when it has none or it is gone.
func (r *MachineReconciler) machine(ctx context.Context, m3m *unstructured.Unstructured) (*clusterv1.Machine, error) {
	for _, ref := range m3m.GetOwnerReferences() {
		if ref.Kind != "Machine" {
			continue
		}
		m := &clusterv1.Machine{}
		if err := r.Reader.Get(ctx, client.ObjectKey{Namespace: m3m.GetNamespace(), Name: ref.Name}, m); err != nil {
			return nil, client.IgnoreNotFound(err)
		}
		return m, nil
	}
	return nil, nil
}

// withCA runs add with a Cluster API CA; it asks for a requeue while the control plane provider has not made it.
func (r *MachineReconciler) withCA(ctx context.Context, namespace, name string, add func(*x509.Certificate, *rsa.PrivateKey) error) (ctrl.Result, error) {
	caCert, caKey, err := r.ca(ctx, namespace, name)
	if err != nil || caCert == nil {
		return ctrl.Result{RequeueAfter: 5 * time.Second}, err
	}
	return ctrl.Result{}, add(caCert, caKey)
}

// ca reads a Cluster API CA secret (tls.crt, tls.key); nil while the control plane provider has not made it.
func (r *MachineReconciler) ca(ctx context.Context, namespace, name string) (*x509.Certificate, *rsa.PrivateKey, error) {
	s := &corev1.Secret{}
	if err := r.Reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, s); err != nil {
		return nil, nil, client.IgnoreNotFound(err)
	}
	cert, err := certs.DecodeCertPEM(s.Data["tls.crt"])
	if err != nil || cert == nil {
		return nil, nil, fmt.Errorf("secret %s/%s: tls.crt is not a PEM certificate", namespace, name)
	}
	key, err := certs.DecodePrivateKeyPEM(s.Data["tls.key"])
	if err != nil {
		return nil, nil, fmt.Errorf("secret %s/%s: tls.key: %w", namespace, name, err)
	}
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, nil, fmt.Errorf("secret %s/%s: tls.key is not an RSA key", namespace, name)
	}
	return cert, rsaKey, nil
}

func isControlPlane(m3m *unstructured.Unstructured) bool {
	_, ok := m3m.GetLabels()[controlPlaneLabel]
	return ok
}

// faultsOf reads a cluster's fault annotations over the farm's defaults; a bad value keeps the default.
func faultsOf(m3c *unstructured.Unstructured, defaults Faults) Faults {
	f := defaults
	if v, ok := m3c.GetAnnotations()[latencyAnnotation]; ok {
		if d, err := time.ParseDuration(v); err == nil && d >= 0 {
			f.Latency = d
		}
	}
	if v, ok := m3c.GetAnnotations()[errorsAnnotation]; ok {
		if x, err := strconv.ParseFloat(v, 64); err == nil && x >= 0 && x <= 1 {
			f.ErrorRate = x
		}
	}
	return f
}

// ensureNode creates the machine's node once, its kubelet at the Machine's version (version is called only then).
func ensureNode(ctx context.Context, store inmemoryclient.Client, name, uid, providerID string, cp bool, version func() (string, error)) error {
	node := &corev1.Node{}
	err := store.Get(ctx, client.ObjectKey{Name: name}, node)
	if err == nil {
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return err
	}
	kubelet, err := version()
	if err != nil {
		return err
	}
	labels := map[string]string{uuidLabel: uid, "kubernetes.io/hostname": name}
	if cp {
		labels["node-role.kubernetes.io/control-plane"] = ""
	}
	node = &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		// Empty until CAPM3 sets it, except after a farm restart, when the machine already has one.
		Spec: corev1.NodeSpec{ProviderID: providerID},
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
			NodeInfo:   corev1.NodeSystemInfo{KubeletVersion: kubelet},
		},
	}
	return createIfMissing(ctx, store, node)
}

// ensureEtcdPod creates the member's pod with the etcd cluster and member IDs the in-memory etcd handler reads;
// the first member of a cluster is its leader.
func ensureEtcdPod(ctx context.Context, store inmemoryclient.Client, name, node string) error {
	pod := &corev1.Pod{}
	err := store.Get(ctx, client.ObjectKey{Namespace: metav1.NamespaceSystem, Name: name}, pod)
	if err == nil || !apierrors.IsNotFound(err) {
		return err
	}
	pods := &corev1.PodList{}
	if err := store.List(ctx, pods, client.InNamespace(metav1.NamespaceSystem),
		client.MatchingLabels{"component": "etcd", "tier": "control-plane"}); err != nil {
		return err
	}
	clusterID, members, leader := "", map[string]bool{}, false
	for _, p := range pods.Items {
		if _, removed := p.Annotations[etcdRemovedAnno]; removed {
			continue
		}
		clusterID = p.Annotations[etcdClusterIDAnno]
		members[p.Annotations[etcdMemberIDAnno]] = true
		if _, ok := p.Annotations[etcdLeaderFromAnno]; ok {
			leader = true
		}
	}
	if clusterID == "" {
		clusterID = randomID(nil)
	}
	pod = staticPod("etcd", node)
	pod.Annotations = map[string]string{etcdClusterIDAnno: clusterID, etcdMemberIDAnno: randomID(members)}
	if !leader {
		pod.Annotations[etcdLeaderFromAnno] = time.Now().Format(time.RFC3339)
	}
	return createIfMissing(ctx, store, pod)
}

func randomID(taken map[string]bool) string {
	for {
		id := strconv.FormatUint(uint64(rand.Uint32()), 10) //nolint:gosec // IDs, not secrets
		if id != "0" && !taken[id] {
			return id
		}
	}
}

func staticPod(component, node string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: metav1.NamespaceSystem,
			Name:      component + "-" + node,
			Labels:    map[string]string{"component": component, "tier": "control-plane"},
		},
		Spec: corev1.PodSpec{NodeName: node},
		Status: corev1.PodStatus{
			Phase:      corev1.PodRunning,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		},
	}
}

// kubeadmObjects are what kubeadm init leaves in a cluster and the kubeadm control plane provider reads.
func kubeadmObjects(version string) []client.Object {
	if version == "" {
		version = "v1.29.0"
	}
	return []client.Object{
		&rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: "kubeadm:get-nodes"},
			Rules:      []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"nodes"}}},
		},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "kubeadm:get-nodes"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "kubeadm:get-nodes"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.GroupKind, Name: "system:bootstrappers:kubeadm:default-node-token"}},
		},
		&corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "kubeadm-config", Namespace: metav1.NamespaceSystem},
			Data:       map[string]string{"ClusterConfiguration": ""},
		},
		&appsv1.DaemonSet{
			ObjectMeta: metav1.ObjectMeta{Name: "kube-proxy", Namespace: metav1.NamespaceSystem, Labels: map[string]string{"component": "kube-proxy"}},
			Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "kube-proxy", Image: "registry.k8s.io/kube-proxy:" + version}},
			}}},
		},
		&corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "coredns", Namespace: metav1.NamespaceSystem},
			Data:       map[string]string{"Corefile": "ANG"},
		},
		&appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "coredns", Namespace: metav1.NamespaceSystem},
			Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "coredns", Image: "registry.k8s.io/coredns/coredns:v1.10.1"}},
			}}},
		},
	}
}

func createIfMissing(ctx context.Context, store inmemoryclient.Client, o client.Object) error {
	if err := store.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create %T %s: %w", o, o.GetName(), err)
	}
	return nil
}

// ClusterReconciler applies fault annotations to served clusters and drops the server of a deleted cluster.
type ClusterReconciler struct {
	Client client.Client
	Farm   *Farm
}

func (r *ClusterReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	key := req.Namespace + "/" + req.Name
	m3c := newObject(m3ClusterGVK)
	if err := r.Client.Get(ctx, req.NamespacedName, m3c); err != nil {
		if apierrors.IsNotFound(err) {
			r.Farm.Unregister(key)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	r.Farm.SetFaults(key, faultsOf(m3c, r.Farm.defaults))
	return ctrl.Result{}, nil
}
