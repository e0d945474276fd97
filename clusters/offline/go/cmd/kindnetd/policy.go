package main

// The NetworkPolicy engine: a pure function from the cluster state (node name, pods, namespaces,
// policies) to the iptables filter-table chains that enforce networking.k8s.io/v1 NetworkPolicy
// for the pods of this node. Nothing in this file executes anything; iptables.go applies the result.
//
// Layout (all in the filter table, IPv4 only):
//
//	FORWARD               -j KINDNET-NP (kept as the first rule)
//	KINDNET-NP            -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN
//	                      -s <podIP>/32 -j KNP-E-<hash>       one per egress-isolated local pod
//	                      -j KINDNET-NP-INGRESS
//	KINDNET-NP-INGRESS    -d <podIP>/32 -j KNP-I-<hash>       one per ingress-isolated local pod
//	KINDNET-NP-EGRESS-OK  -j KINDNET-NP-INGRESS
//	                      -j ACCEPT
//	KNP-I-<hash>          <peer> <port> -j ACCEPT ...  then  -j REJECT
//	KNP-E-<hash>          <peer> <port> -j KINDNET-NP-EGRESS-OK ...  then  -j REJECT
//	KNP-B-<hash>-<I|E><n> -s|-d <except> -j RETURN ...  then  -j ACCEPT|KINDNET-NP-EGRESS-OK
//
// An egress-allowed packet goes through KINDNET-NP-EGRESS-OK rather than straight to ACCEPT, so
// that a connection between two isolated pods of the same node is checked against the egress
// policy of the source and the ingress policy of the destination: an ACCEPT in the egress chain
// would otherwise end the FORWARD traversal before the ingress chain is reached.
//
// FORWARD sees destinations after kube-proxy's DNAT (PREROUTING), i.e. pod IPs rather than
// Service IPs, which is what the policy semantics need. Traffic from the node itself (kubelet
// probes, hostNetwork pods) goes through OUTPUT and is not affected.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Chain is one iptables chain of ours. Each rule is the text that follows "-A <Name> " in
// iptables-restore input.
type Chain struct {
	Name  string
	Rules []string
}

// PolicyResult is the outcome of ComputePolicyRules.
type PolicyResult struct {
	// Chains are every filter-table chain kindnetd owns, KINDNET-NP first.
	Chains []Chain
	// Warnings are things that could not be enforced (e.g. a named port with an ipBlock peer).
	// They are deterministic, so a caller can log each distinct one once.
	Warnings []string
}

const (
	chainNP         = "KINDNET-NP"
	chainNPIngress  = "KINDNET-NP-INGRESS"
	chainNPEgressOK = "KINDNET-NP-EGRESS-OK"

	prefixIngress = "KNP-I-"
	prefixEgress  = "KNP-E-"
	prefixBlock   = "KNP-B-"

	ruleEstablished = "-m conntrack --ctstate ESTABLISHED,RELATED -j RETURN"
)

// isOurFilterChain reports whether a filter-table chain name belongs to kindnetd.
func isOurFilterChain(name string) bool {
	return name == chainNP || strings.HasPrefix(name, chainNP+"-") || strings.HasPrefix(name, "KNP-")
}

// ComputePolicyRules computes the filter-table chains that enforce the policies for the pods
// running on nodeName. The inputs are not modified.
func ComputePolicyRules(nodeName string, pods []*corev1.Pod, namespaces []*corev1.Namespace, policies []*networkingv1.NetworkPolicy) PolicyResult {
	b := &builder{
		nsLabels: map[string]labels.Set{},
		warned:   map[string]bool{},
	}
	for _, ns := range namespaces {
		b.nsLabels[ns.Name] = labels.Set(ns.Labels)
	}
	for _, p := range pods {
		if ip := livePodIPv4(p); ip != "" {
			b.pods = append(b.pods, podInfo{pod: p, ip: ip})
		}
	}
	sort.Slice(b.pods, func(i, j int) bool { return podKey(b.pods[i].pod) < podKey(b.pods[j].pod) })

	var parsed []parsedPolicy
	for _, np := range policies {
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil {
			b.warn("policy %s/%s: invalid podSelector, policy ignored: %v", np.Namespace, np.Name, err)
			continue
		}
		in, eg := policyTypes(np)
		parsed = append(parsed, parsedPolicy{np: np, key: np.Namespace + "/" + np.Name, selector: sel, ingress: in, egress: eg})
	}
	sort.Slice(parsed, func(i, j int) bool { return parsed[i].key < parsed[j].key })

	np := &chainBuilder{name: chainNP}
	np.add(ruleEstablished)
	ingress := &chainBuilder{name: chainNPIngress}
	var podChains []*chainBuilder

	for _, local := range b.pods {
		pod := local.pod
		if pod.Spec.NodeName != nodeName {
			continue
		}
		var inPolicies, egPolicies []parsedPolicy
		for _, p := range parsed {
			if p.np.Namespace != pod.Namespace || !p.selector.Matches(labels.Set(pod.Labels)) {
				continue
			}
			if p.ingress {
				inPolicies = append(inPolicies, p)
			}
			if p.egress {
				egPolicies = append(egPolicies, p)
			}
		}
		hash := shortHash(pod)

		if len(egPolicies) > 0 {
			c := &chainBuilder{name: prefixEgress + hash}
			var subs []*chainBuilder
			for _, p := range egPolicies {
				for ri, rule := range p.np.Spec.Egress {
					subs = append(subs, b.egressRule(c, hash, p, ri, rule, len(subs))...)
				}
			}
			c.add("-j REJECT")
			np.add(fmt.Sprintf("-s %s/32 -m comment --comment \"%s egress\" -j %s", local.ip, podKey(pod), c.name))
			podChains = append(podChains, c)
			podChains = append(podChains, subs...)
		}
		if len(inPolicies) > 0 {
			c := &chainBuilder{name: prefixIngress + hash}
			var subs []*chainBuilder
			for _, p := range inPolicies {
				for ri, rule := range p.np.Spec.Ingress {
					subs = append(subs, b.ingressRule(c, hash, local, p, ri, rule, len(subs))...)
				}
			}
			c.add("-j REJECT")
			ingress.add(fmt.Sprintf("-d %s/32 -m comment --comment \"%s ingress\" -j %s", local.ip, podKey(pod), c.name))
			podChains = append(podChains, c)
			podChains = append(podChains, subs...)
		}
	}
	np.add("-j " + chainNPIngress)

	egressOK := &chainBuilder{name: chainNPEgressOK}
	egressOK.add("-j " + chainNPIngress)
	egressOK.add("-j ACCEPT")

	res := PolicyResult{Warnings: b.warnings}
	for _, c := range append([]*chainBuilder{np, ingress, egressOK}, podChains...) {
		res.Chains = append(res.Chains, Chain{Name: c.name, Rules: c.rules})
	}
	return res
}

type podInfo struct {
	pod *corev1.Pod
	ip  string
}

type parsedPolicy struct {
	np              *networkingv1.NetworkPolicy
	key             string
	selector        labels.Selector
	ingress, egress bool
}

type builder struct {
	nsLabels map[string]labels.Set
	pods     []podInfo // every live pod of the cluster with an IPv4 address, sorted by namespace/name
	warnings []string
	warned   map[string]bool
}

func (b *builder) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if !b.warned[msg] {
		b.warned[msg] = true
		b.warnings = append(b.warnings, msg)
	}
}

// chainBuilder collects rules, dropping exact duplicates.
type chainBuilder struct {
	name  string
	rules []string
	seen  map[string]bool
}

func (c *chainBuilder) add(rule string) {
	if c.seen == nil {
		c.seen = map[string]bool{}
	}
	if !c.seen[rule] {
		c.seen[rule] = true
		c.rules = append(c.rules, rule)
	}
}

// ingressRule adds the ACCEPT rules of one ingress rule of policy p to c (the ingress chain of the
// local pod). It returns the ipBlock sub-chains it created; nSubs is how many the pod's ingress
// chain already has.
func (b *builder) ingressRule(c *chainBuilder, hash string, local podInfo, p parsedPolicy, ri int, rule networkingv1.NetworkPolicyIngressRule, nSubs int) []*chainBuilder {
	// Named ports are resolved against the isolated pod itself.
	ports := portMatches(rule.Ports, local.pod)
	if len(ports) == 0 {
		return nil // only named ports that this pod does not have: the rule allows nothing
	}
	if len(rule.From) == 0 {
		for _, pm := range ports {
			c.add(join(pm, "-j ACCEPT"))
		}
		return nil
	}
	var subs []*chainBuilder
	for _, peer := range rule.From {
		if peer.IPBlock != nil {
			cidr, excepts, ok := b.ipBlock(peer.IPBlock, p.key, "ingress", ri)
			if !ok {
				continue
			}
			target := "ACCEPT"
			if len(excepts) > 0 {
				sub := &chainBuilder{name: fmt.Sprintf("%s%s-I%d", prefixBlock, hash, nSubs+len(subs))}
				for _, ex := range excepts {
					sub.add("-s " + ex + " -j RETURN")
				}
				sub.add("-j ACCEPT")
				subs = append(subs, sub)
				target = sub.name
			}
			for _, pm := range ports {
				c.add(join("-s "+cidr, pm, "-j "+target))
			}
			continue
		}
		for _, peerPod := range b.selectPeers(peer, p) {
			for _, pm := range ports {
				c.add(join("-s "+peerPod.ip+"/32", pm, "-j ACCEPT"))
			}
		}
	}
	return subs
}

// egressRule adds the allow rules of one egress rule of policy p to c (the egress chain of the
// local pod). Allowed packets go on to KINDNET-NP-EGRESS-OK, which still applies the ingress
// policy of a destination pod on this node.
func (b *builder) egressRule(c *chainBuilder, hash string, p parsedPolicy, ri int, rule networkingv1.NetworkPolicyEgressRule, nSubs int) []*chainBuilder {
	allow := "-j " + chainNPEgressOK
	numeric, named := splitPorts(rule.Ports)

	if len(rule.To) == 0 {
		if len(rule.Ports) == 0 {
			c.add(allow)
			return nil
		}
		if len(numeric) > 0 {
			for _, pm := range portMatches(numeric, nil) {
				c.add(join(pm, allow))
			}
		}
		// A named port with no peer restriction: any pod that has such a port.
		if len(named) > 0 {
			for _, peerPod := range b.pods {
				for _, pm := range portMatches(named, peerPod.pod) {
					c.add(join("-d "+peerPod.ip+"/32", pm, allow))
				}
			}
		}
		return nil
	}

	var subs []*chainBuilder
	for _, peer := range rule.To {
		if peer.IPBlock != nil {
			cidr, excepts, ok := b.ipBlock(peer.IPBlock, p.key, "egress", ri)
			if !ok {
				continue
			}
			for _, np := range named {
				b.warn("policy %s: egress rule %d: named port %q cannot be resolved for ipBlock peer %s; port skipped", p.key, ri, np.Port.StrVal, peer.IPBlock.CIDR)
			}
			ports := portMatches(numeric, nil)
			if len(rule.Ports) > 0 && len(numeric) == 0 {
				continue // nothing left to allow for this peer
			}
			target := chainNPEgressOK
			if len(excepts) > 0 {
				sub := &chainBuilder{name: fmt.Sprintf("%s%s-E%d", prefixBlock, hash, nSubs+len(subs))}
				for _, ex := range excepts {
					sub.add("-d " + ex + " -j RETURN")
				}
				sub.add(allow)
				subs = append(subs, sub)
				target = sub.name
			}
			for _, pm := range ports {
				c.add(join("-d "+cidr, pm, "-j "+target))
			}
			continue
		}
		for _, peerPod := range b.selectPeers(peer, p) {
			// Named ports are resolved against each destination pod.
			for _, pm := range portMatches(rule.Ports, peerPod.pod) {
				c.add(join("-d "+peerPod.ip+"/32", pm, allow))
			}
		}
	}
	return subs
}

// selectPeers returns the live pods that a podSelector/namespaceSelector peer of policy p selects.
func (b *builder) selectPeers(peer networkingv1.NetworkPolicyPeer, p parsedPolicy) []podInfo {
	var podSel, nsSel labels.Selector
	var err error
	if peer.PodSelector != nil {
		if podSel, err = metav1.LabelSelectorAsSelector(peer.PodSelector); err != nil {
			b.warn("policy %s: invalid peer podSelector, peer ignored: %v", p.key, err)
			return nil
		}
	}
	if peer.NamespaceSelector != nil {
		if nsSel, err = metav1.LabelSelectorAsSelector(peer.NamespaceSelector); err != nil {
			b.warn("policy %s: invalid peer namespaceSelector, peer ignored: %v", p.key, err)
			return nil
		}
	}
	if podSel == nil && nsSel == nil {
		return nil // an empty peer (API validation rejects it)
	}
	var out []podInfo
	for _, pi := range b.pods {
		if nsSel == nil {
			if pi.pod.Namespace != p.np.Namespace {
				continue
			}
		} else if !nsSel.Matches(b.nsLabels[pi.pod.Namespace]) {
			continue
		}
		if podSel != nil && !podSel.Matches(labels.Set(pi.pod.Labels)) {
			continue
		}
		out = append(out, pi)
	}
	return out
}

// ipBlock returns the canonical IPv4 CIDR of an ipBlock peer and its excepts.
func (b *builder) ipBlock(ib *networkingv1.IPBlock, policy, dir string, ri int) (string, []string, bool) {
	pfx, err := netip.ParsePrefix(ib.CIDR)
	if err != nil || !pfx.Addr().Is4() {
		b.warn("policy %s: %s rule %d: ipBlock %q is not an IPv4 CIDR; peer skipped", policy, dir, ri, ib.CIDR)
		return "", nil, false
	}
	var excepts []string
	for _, ex := range ib.Except {
		e, err := netip.ParsePrefix(ex)
		if err != nil || !e.Addr().Is4() {
			b.warn("policy %s: %s rule %d: ipBlock except %q is not an IPv4 CIDR; ignored", policy, dir, ri, ex)
			continue
		}
		excepts = append(excepts, e.Masked().String())
	}
	return pfx.Masked().String(), excepts, true
}

// portMatches returns the iptables match text of each port, or a single "" (any port) when ports
// is empty. Named ports are resolved against pod's container ports; they are left out when pod is
// nil or does not have the port (so a non-empty ports can yield an empty result: allow nothing).
func portMatches(ports []networkingv1.NetworkPolicyPort, pod *corev1.Pod) []string {
	if len(ports) == 0 {
		return []string{""}
	}
	var out []string
	for _, port := range ports {
		proto := strings.ToLower(string(corev1.ProtocolTCP))
		if port.Protocol != nil && *port.Protocol != "" {
			proto = strings.ToLower(string(*port.Protocol))
		}
		switch {
		case port.Port == nil:
			out = append(out, "-p "+proto)
		case port.Port.Type == intstr.Int:
			n := port.Port.IntVal
			if port.EndPort != nil && *port.EndPort > n {
				out = append(out, fmt.Sprintf("-p %s --dport %d:%d", proto, n, *port.EndPort))
			} else {
				out = append(out, fmt.Sprintf("-p %s --dport %d", proto, n))
			}
		default: // named port
			if pod == nil {
				continue
			}
			if n, ok := namedPort(pod, port.Port.StrVal, proto); ok {
				out = append(out, "-p "+proto+" --dport "+strconv.Itoa(int(n)))
			}
		}
	}
	return out
}

// splitPorts separates named ports from the others.
func splitPorts(ports []networkingv1.NetworkPolicyPort) (numeric, named []networkingv1.NetworkPolicyPort) {
	for _, p := range ports {
		if p.Port != nil && p.Port.Type == intstr.String {
			named = append(named, p)
		} else {
			numeric = append(numeric, p)
		}
	}
	return numeric, named
}

// namedPort looks a container port up by name and (lower-case) protocol.
func namedPort(pod *corev1.Pod, name, proto string) (int32, bool) {
	lists := [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers}
	for _, containers := range lists {
		for _, c := range containers {
			for _, cp := range c.Ports {
				cproto := corev1.ProtocolTCP
				if cp.Protocol != "" {
					cproto = cp.Protocol
				}
				if cp.Name == name && strings.ToLower(string(cproto)) == proto {
					return cp.ContainerPort, true
				}
			}
		}
	}
	return 0, false
}

// policyTypes reports whether a policy applies to ingress and to egress. Without policyTypes, a
// policy always covers ingress, and egress only if it has egress rules.
func policyTypes(np *networkingv1.NetworkPolicy) (ingress, egress bool) {
	if len(np.Spec.PolicyTypes) == 0 {
		return true, len(np.Spec.Egress) > 0
	}
	for _, t := range np.Spec.PolicyTypes {
		switch t {
		case networkingv1.PolicyTypeIngress:
			ingress = true
		case networkingv1.PolicyTypeEgress:
			egress = true
		}
	}
	return ingress, egress
}

// livePodIPv4 returns the IPv4 address of a pod that takes part in policy (not hostNetwork, not
// finished, has an address), or "".
func livePodIPv4(p *corev1.Pod) string {
	if p.Spec.HostNetwork || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return ""
	}
	candidates := []string{p.Status.PodIP}
	for _, ip := range p.Status.PodIPs {
		candidates = append(candidates, ip.IP)
	}
	for _, s := range candidates {
		if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
			return a.String()
		}
	}
	return ""
}

func podKey(p *corev1.Pod) string { return p.Namespace + "/" + p.Name }

// shortHash names a pod's chains: 12 hex digits of the SHA-256 of its UID.
func shortHash(p *corev1.Pod) string {
	id := string(p.UID)
	if id == "" {
		id = podKey(p)
	}
	sum := sha256.Sum256([]byte(id))
	return strings.ToUpper(hex.EncodeToString(sum[:6]))
}

// join joins the non-empty parts with single spaces.
func join(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, " ")
}
