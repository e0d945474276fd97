// Command kindnetd is kubelab's CNI daemon for its kind clusters, run as a privileged hostNetwork
// DaemonSet on every node. It
//
//   - writes the node's CNI config (ptp + host-local over the Node's spec.podCIDR, portmap),
//   - routes every other node's pod CIDR via that node's InternalIP,
//   - masquerades pod traffic that leaves the pod subnet (nat chain KINDNET-MASQ),
//   - enforces NetworkPolicy for the pods of its node with iptables filter rules (see policy.go).
//
// It needs `ip`, `iptables-save` and `iptables-restore` on PATH.
//
// Environment: NODE_NAME (required), POD_SUBNET (required, e.g. 10.244.0.0/16), CNI_CONFIG_DIR
// (default /etc/cni/net.d), CNI_MTU (default: MTU of the interface holding the node's InternalIP,
// else 1500).
package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	networkinglisters "k8s.io/client-go/listers/networking/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

const (
	resyncPeriod = 30 * time.Second
	debounce     = 250 * time.Millisecond
)

type config struct {
	nodeName     string
	podSubnet    netip.Prefix // the cluster's IPv4 pod range
	podSubnet6   netip.Prefix // its IPv6 pod range on a dual-stack cluster (else invalid)
	cniConfigDir string
	mtu          int // 0: detect
}

func main() {
	klog.InitFlags(nil)
	flag.Parse()
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(35 << 20) // the DaemonSet's memory limit is 50Mi
	}

	cfg, err := configFromEnv()
	if err != nil {
		fatal("invalid configuration: %v", err)
	}
	for _, bin := range []string{"ip", "iptables-save", "iptables-restore"} {
		if _, err := exec.LookPath(bin); err != nil {
			fatal("required binary %q not found on PATH: %v", bin, err)
		}
	}

	restCfg, err := rest.InClusterConfig()
	if err != nil {
		fatal("cannot load in-cluster Kubernetes client config: %v", err)
	}
	// kind passes the API server's address on the node network, so kindnetd does not depend on
	// kube-proxy's Service rules (which need the pod network this daemon sets up).
	if ep := os.Getenv("CONTROL_PLANE_ENDPOINT"); ep != "" {
		restCfg.Host = "https://" + ep
	}
	restCfg.UserAgent = "kindnetd (kubelab)"
	restCfg.ContentType = "application/vnd.kubernetes.protobuf"
	restCfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		fatal("cannot create Kubernetes client: %v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	factory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTransform(stripManagedFields))
	nodeInf := factory.Core().V1().Nodes()
	podInf := factory.Core().V1().Pods()
	nsInf := factory.Core().V1().Namespaces()
	npInf := factory.Networking().V1().NetworkPolicies()

	c := &controller{
		cfg:        cfg,
		nodes:      nodeInf.Lister(),
		pods:       podInf.Lister(),
		namespaces: nsInf.Lister(),
		policies:   npInf.Lister(),
		nodeKick:   make(chan struct{}, 1),
		policyKick: make(chan struct{}, 1),
		warned:     map[string]bool{},
	}
	for _, h := range []struct {
		inf  cache.SharedIndexInformer
		kick chan struct{}
	}{
		{nodeInf.Informer(), c.nodeKick},
		{podInf.Informer(), c.policyKick},
		{nsInf.Informer(), c.policyKick},
		{npInf.Informer(), c.policyKick},
	} {
		kick := h.kick
		f := func() { trigger(kick) }
		if _, err := h.inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(any) { f() },
			UpdateFunc: func(any, any) { f() },
			DeleteFunc: func(any) { f() },
		}); err != nil {
			fatal("cannot register informer handler: %v", err)
		}
	}

	klog.Infof("kindnetd starting: node %s, pod subnets %s, CNI config dir %s", cfg.nodeName, cfg.subnets(), cfg.cniConfigDir)
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), nodeInf.Informer().HasSynced, podInf.Informer().HasSynced,
		nsInf.Informer().HasSynced, npInf.Informer().HasSynced) {
		if ctx.Err() != nil {
			klog.Infof("signal received before the informers synced; exiting")
			return
		}
		fatal("informer caches did not sync")
	}
	klog.Infof("informer caches synced")

	go loop(ctx, c.nodeKick, c.syncNode)
	go loop(ctx, c.policyKick, c.syncPolicy)

	<-ctx.Done()
	klog.Infof("signal received; exiting, leaving routes, CNI config and iptables rules in place")
	factory.Shutdown()
	klog.Flush()
}

func configFromEnv() (config, error) {
	cfg := config{
		nodeName:     os.Getenv("NODE_NAME"),
		cniConfigDir: os.Getenv("CNI_CONFIG_DIR"),
	}
	if cfg.nodeName == "" {
		return cfg, fmt.Errorf("NODE_NAME is not set")
	}
	if cfg.cniConfigDir == "" {
		cfg.cniConfigDir = "/etc/cni/net.d"
	}
	subnet := os.Getenv("POD_SUBNET")
	if subnet == "" {
		return cfg, fmt.Errorf("POD_SUBNET is not set")
	}
	// A dual-stack cluster passes "v4,v6": Pods then get an address of each family. NetworkPolicy
	// and masquerading stay IPv4 only.
	for _, s := range strings.Split(subnet, ",") {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return cfg, fmt.Errorf("POD_SUBNET %q: %v", subnet, err)
		}
		if p.Addr().Is4() && !cfg.podSubnet.IsValid() {
			cfg.podSubnet = p.Masked()
		}
		if p.Addr().Is6() && !cfg.podSubnet6.IsValid() {
			cfg.podSubnet6 = p.Masked()
		}
	}
	if !cfg.podSubnet.IsValid() {
		return cfg, fmt.Errorf("POD_SUBNET %q has no IPv4 CIDR", subnet)
	}
	if s := os.Getenv("CNI_MTU"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 576 || n > 65535 {
			return cfg, fmt.Errorf("CNI_MTU %q is not a valid MTU", s)
		}
		cfg.mtu = n
	}
	return cfg, nil
}

// subnets lists the cluster's pod ranges, IPv4 first.
func (cfg config) subnets() []netip.Prefix {
	out := []netip.Prefix{cfg.podSubnet}
	if cfg.podSubnet6.IsValid() {
		out = append(out, cfg.podSubnet6)
	}
	return out
}

type controller struct {
	cfg        config
	nodes      corelisters.NodeLister
	pods       corelisters.PodLister
	namespaces corelisters.NamespaceLister
	policies   networkinglisters.NetworkPolicyLister

	nodeKick, policyKick chan struct{}

	// Used only from the loop goroutine that owns them.
	waitLogged    bool
	warned        map[string]bool
	lastPolicy    string
	policyApplied bool
	policyBackoff time.Duration // retry delay after a failed apply
}

// syncNode writes the CNI config once the node has a pod CIDR, and syncs routes and masquerading.
func (c *controller) syncNode(ctx context.Context, _ bool) {
	self, err := c.nodes.Get(c.cfg.nodeName)
	switch {
	case err != nil:
		if !c.waitLogged {
			klog.Infof("waiting for Node %s to appear: %v", c.cfg.nodeName, err)
			c.waitLogged = true
		}
	default:
		if cidrs, ok := c.nodeCIDRs(self); !ok {
			if !c.waitLogged {
				klog.Infof("waiting for Node %s to get its spec.podCIDRs", c.cfg.nodeName)
				c.waitLogged = true
			}
		} else {
			c.writeCNIConfig(self, cidrs)
		}
	}

	if _, err := ensureMasquerade(ctx, c.cfg.podSubnet.String()); err != nil {
		klog.Errorf("masquerade rules: %v", err)
	}

	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		klog.Errorf("listing nodes: %v", err)
		return
	}
	for _, subnet := range c.cfg.subnets() {
		if err := syncRoutes(ctx, subnet, desiredRoutes(c.cfg.nodeName, nodes, subnet.Addr().Is6())); err != nil {
			klog.Errorf("routes: %v", err)
		}
	}
}

// nodeCIDRs is the node's pod CIDR of each family the cluster has; false until it has them all.
func (c *controller) nodeCIDRs(self *corev1.Node) ([]netip.Prefix, bool) {
	var out []netip.Prefix
	for _, subnet := range c.cfg.subnets() {
		cidr, ok := nodePodCIDR(self, subnet.Addr().Is6())
		if !ok {
			return nil, false
		}
		out = append(out, cidr)
	}
	return out, true
}

func (c *controller) writeCNIConfig(self *corev1.Node, cidrs []netip.Prefix) {
	mtu := c.cfg.mtu
	if mtu == 0 {
		if ip, ok := nodeInternalIP(self, false); ok {
			mtu = mtuOf(ip)
		}
	}
	if mtu == 0 {
		mtu = 1500
	}
	path := filepath.Join(c.cfg.cniConfigDir, cniConfigName)
	changed, err := writeIfChanged(path, cniConfig(cidrs, mtu))
	if err != nil {
		klog.Errorf("writing CNI config %s: %v", path, err)
		return
	}
	if changed {
		klog.Infof("wrote CNI config %s (pod CIDRs %s, MTU %d)", path, cidrs, mtu)
	}
}

// syncPolicy recomputes the NetworkPolicy rules and applies them when they changed (always on the
// periodic resync, to repair anything that flushed them).
func (c *controller) syncPolicy(ctx context.Context, periodic bool) {
	pods, err := c.pods.List(labels.Everything())
	if err != nil {
		klog.Errorf("listing pods: %v", err)
		return
	}
	nss, err := c.namespaces.List(labels.Everything())
	if err != nil {
		klog.Errorf("listing namespaces: %v", err)
		return
	}
	nps, err := c.policies.List(labels.Everything())
	if err != nil {
		klog.Errorf("listing network policies: %v", err)
		return
	}
	res := ComputePolicyRules(c.cfg.nodeName, pods, nss, nps)
	for _, w := range res.Warnings {
		if !c.warned[w] {
			c.warned[w] = true
			klog.Warningf("network policy: %s", w)
		}
	}
	text := filterRestoreInput(res.Chains, nil, nil)
	if c.policyApplied && !periodic && text == c.lastPolicy {
		return
	}
	if err := applyFilter(ctx, res.Chains); err != nil {
		// Typically a concurrent change by kube-proxy: retry soon, backing off up to the resync.
		c.policyBackoff = min(max(2*c.policyBackoff, time.Second), resyncPeriod)
		klog.Errorf("applying network policy rules (retry in %s): %v", c.policyBackoff, err)
		c.policyApplied = false
		time.AfterFunc(c.policyBackoff, func() { trigger(c.policyKick) })
		return
	}
	c.policyBackoff = 0
	if !c.policyApplied || text != c.lastPolicy {
		n := 0
		for _, ch := range res.Chains {
			n += len(ch.Rules)
		}
		klog.Infof("network policy rules applied: %d chains, %d rules", len(res.Chains), n)
	}
	c.lastPolicy, c.policyApplied = text, true
}

// loop runs fn once at start, then debounce after the last kick and every resyncPeriod.
func loop(ctx context.Context, kick <-chan struct{}, fn func(ctx context.Context, periodic bool)) {
	fn(ctx, true)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	ticker := time.NewTicker(resyncPeriod)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-kick:
			timer.Reset(debounce)
		case <-timer.C:
			fn(ctx, false)
		case <-ticker.C:
			fn(ctx, true)
		}
	}
}

func trigger(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// stripManagedFields keeps the informer caches small (the pod has a 50Mi memory limit).
func stripManagedFields(obj any) (any, error) {
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
	}
	return obj, nil
}

func fatal(format string, args ...any) {
	klog.Errorf("kindnetd: fatal: "+format, args...)
	klog.Flush()
	os.Exit(1)
}
