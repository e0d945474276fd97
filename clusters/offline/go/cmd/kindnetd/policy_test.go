package main

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

const node = "worker"

func mkPod(ns, name, nodeName, ip string, lbls map[string]string, ports ...corev1.ContainerPort) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + ns + "-" + name), Labels: lbls},
		Spec: corev1.PodSpec{
			NodeName:   nodeName,
			Containers: []corev1.Container{{Name: "c", Ports: ports}},
		},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}},
	}
}

func mkNS(name string, lbls map[string]string) *corev1.Namespace {
	l := map[string]string{"kubernetes.io/metadata.name": name}
	for k, v := range lbls {
		l[k] = v
	}
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l}}
}

func mkPolicy(ns, name string, spec networkingv1.NetworkPolicySpec) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: spec}
}

func sel(kv ...string) *metav1.LabelSelector {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return &metav1.LabelSelector{MatchLabels: m}
}

func port(proto corev1.Protocol, p intstr.IntOrString) networkingv1.NetworkPolicyPort {
	return networkingv1.NetworkPolicyPort{Protocol: &proto, Port: &p}
}

func ingressOnly() []networkingv1.PolicyType {
	return []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
}

// chainOf returns a pod's chain name as ComputePolicyRules derives it.
func chainOf(prefix string, p *corev1.Pod) string { return prefix + shortHash(p) }

// flatten renders a result as ":CHAIN" declarations followed by "-A CHAIN rule" lines per chain.
func flatten(chains []Chain) []string {
	var out []string
	for _, c := range chains {
		out = append(out, ":"+c.Name)
		for _, r := range c.Rules {
			out = append(out, "-A "+c.Name+" "+r)
		}
	}
	return out
}

func TestComputePolicyRules(t *testing.T) {
	// Pods on this node.
	web := mkPod("default", "web", node, "10.244.1.10", map[string]string{"app": "web"},
		corev1.ContainerPort{Name: "http", ContainerPort: 8080})
	api := mkPod("default", "api", node, "10.244.1.11", map[string]string{"app": "api"})
	// Pods elsewhere.
	client := mkPod("default", "client", "other", "10.244.2.20", map[string]string{"role": "client"})
	mon := mkPod("monitoring", "prom", "other", "10.244.2.30", map[string]string{"role": "client"})
	monOther := mkPod("monitoring", "agent", "other", "10.244.2.31", map[string]string{"role": "agent"})
	dns := mkPod("kube-system", "coredns", "other", "10.244.0.5", map[string]string{"k8s-app": "kube-dns"})
	remoteWeb := mkPod("default", "web-2", "other", "10.244.2.40", map[string]string{"app": "web"},
		corev1.ContainerPort{Name: "http", ContainerPort: 9090})
	// Pods that never get rules.
	hostNet := mkPod("default", "hostnet", node, "172.18.0.2", map[string]string{"app": "web"})
	hostNet.Spec.HostNetwork = true
	done := mkPod("default", "done", node, "10.244.1.12", map[string]string{"app": "web"})
	done.Status.Phase = corev1.PodSucceeded
	pending := mkPod("default", "pending", node, "", map[string]string{"app": "web"})

	pods := []*corev1.Pod{web, api, client, mon, monOther, dns, remoteWeb, hostNet, done, pending}
	nss := []*corev1.Namespace{mkNS("default", nil), mkNS("monitoring", map[string]string{"team": "obs"}), mkNS("kube-system", nil)}

	webI, webE, apiI := chainOf(prefixIngress, web), chainOf(prefixEgress, web), chainOf(prefixIngress, api)
	base := func(egressJumps []string, ingressJumps []string) []string {
		out := []string{":KINDNET-NP", "-A KINDNET-NP -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN"}
		out = append(out, egressJumps...)
		out = append(out, "-A KINDNET-NP -j KINDNET-NP-INGRESS", ":KINDNET-NP-INGRESS")
		out = append(out, ingressJumps...)
		return append(out, ":KINDNET-NP-EGRESS-OK", "-A KINDNET-NP-EGRESS-OK -j KINDNET-NP-INGRESS", "-A KINDNET-NP-EGRESS-OK -j ACCEPT")
	}
	webIngressJump := `-A KINDNET-NP-INGRESS -d 10.244.1.10/32 -m comment --comment "default/web ingress" -j ` + webI
	apiIngressJump := `-A KINDNET-NP-INGRESS -d 10.244.1.11/32 -m comment --comment "default/api ingress" -j ` + apiI
	webEgressJump := `-A KINDNET-NP -s 10.244.1.10/32 -m comment --comment "default/web egress" -j ` + webE
	cat := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP

	tests := []struct {
		name     string
		policies []*networkingv1.NetworkPolicy
		want     []string
		warnings []string
	}{
		{
			name: "no policy",
			want: base(nil, nil),
		},
		{
			name: "default-deny ingress",
			policies: []*networkingv1.NetworkPolicy{mkPolicy("default", "deny", networkingv1.NetworkPolicySpec{
				PolicyTypes: ingressOnly(),
			})},
			want: cat(base(nil, []string{apiIngressJump, webIngressJump}),
				[]string{":" + apiI, "-A " + apiI + " -j REJECT", ":" + webI, "-A " + webI + " -j REJECT"}),
		},
		{
			name: "policy in another namespace selects nothing here",
			policies: []*networkingv1.NetworkPolicy{mkPolicy("monitoring", "deny", networkingv1.NetworkPolicySpec{
				PolicyTypes: ingressOnly(),
			})},
			want: base(nil, nil),
		},
		{
			name: "allow from podSelector",
			policies: []*networkingv1.NetworkPolicy{mkPolicy("default", "allow-client", networkingv1.NetworkPolicySpec{
				PodSelector: *sel("app", "web"),
				Ingress: []networkingv1.NetworkPolicyIngressRule{{
					From:  []networkingv1.NetworkPolicyPeer{{PodSelector: sel("role", "client")}},
					Ports: []networkingv1.NetworkPolicyPort{port(tcp, intstr.FromInt32(80))},
				}},
			})},
			// Only default/client: monitoring/prom has the label but lives in another namespace.
			want: cat(base(nil, []string{webIngressJump}), []string{":" + webI,
				"-A " + webI + " -s 10.244.2.20/32 -p tcp --dport 80 -j ACCEPT",
				"-A " + webI + " -j REJECT"}),
		},
		{
			name: "allow from namespaceSelector",
			policies: []*networkingv1.NetworkPolicy{mkPolicy("default", "allow-obs", networkingv1.NetworkPolicySpec{
				PodSelector: *sel("app", "web"),
				Ingress: []networkingv1.NetworkPolicyIngressRule{{
					From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("team", "obs")}},
				}},
			})},
			want: cat(base(nil, []string{webIngressJump}), []string{":" + webI,
				"-A " + webI + " -s 10.244.2.31/32 -j ACCEPT",
				"-A " + webI + " -s 10.244.2.30/32 -j ACCEPT",
				"-A " + webI + " -j REJECT"}),
		},
		{
			name: "allow from namespaceSelector and podSelector",
			policies: []*networkingv1.NetworkPolicy{mkPolicy("default", "allow-prom", networkingv1.NetworkPolicySpec{
				PodSelector: *sel("app", "web"),
				Ingress: []networkingv1.NetworkPolicyIngressRule{{
					From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("team", "obs"), PodSelector: sel("role", "client")}},
				}},
			})},
			want: cat(base(nil, []string{webIngressJump}), []string{":" + webI,
				"-A " + webI + " -s 10.244.2.30/32 -j ACCEPT",
				"-A " + webI + " -j REJECT"}),
		},
		{
			name: "ipBlock with except",
			policies: []*networkingv1.NetworkPolicy{mkPolicy("default", "allow-net", networkingv1.NetworkPolicySpec{
				PodSelector: *sel("app", "web"),
				PolicyTypes: ingressOnly(),
				Ingress: []networkingv1.NetworkPolicyIngressRule{{
					From: []networkingv1.NetworkPolicyPeer{
						{IPBlock: &networkingv1.IPBlock{CIDR: "172.16.0.0/12"}},
						{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.1/8", Except: []string{"10.244.0.0/16", "10.96.0.0/12"}}},
					},
					Ports: []networkingv1.NetworkPolicyPort{port(tcp, intstr.FromInt32(80)), port(udp, intstr.FromInt32(53))},
				}},
			})},
			want: cat(base(nil, []string{webIngressJump}), []string{":" + webI,
				"-A " + webI + " -s 172.16.0.0/12 -p tcp --dport 80 -j ACCEPT",
				"-A " + webI + " -s 172.16.0.0/12 -p udp --dport 53 -j ACCEPT",
				"-A " + webI + " -s 10.0.0.0/8 -p tcp --dport 80 -j KNP-B-" + shortHash(web) + "-I0",
				"-A " + webI + " -s 10.0.0.0/8 -p udp --dport 53 -j KNP-B-" + shortHash(web) + "-I0",
				"-A " + webI + " -j REJECT",
				":KNP-B-" + shortHash(web) + "-I0",
				"-A KNP-B-" + shortHash(web) + "-I0 -s 10.244.0.0/16 -j RETURN",
				"-A KNP-B-" + shortHash(web) + "-I0 -s 10.96.0.0/12 -j RETURN",
				"-A KNP-B-" + shortHash(web) + "-I0 -j ACCEPT"}),
		},
		{
			name: "named port, port range and SCTP",
			policies: []*networkingv1.NetworkPolicy{mkPolicy("default", "ports", networkingv1.NetworkPolicySpec{
				Ingress: []networkingv1.NetworkPolicyIngressRule{{
					Ports: func() []networkingv1.NetworkPolicyPort {
						rng := port(tcp, intstr.FromInt32(30000))
						end := int32(30100)
						rng.EndPort = &end
						return []networkingv1.NetworkPolicyPort{
							port(tcp, intstr.FromString("http")), // web: 8080; api: no such port
							rng,
							port(corev1.ProtocolSCTP, intstr.FromInt32(9)),
							{Protocol: &udp}, // every UDP port
						}
					}(),
				}},
			})},
			want: cat(base(nil, []string{apiIngressJump, webIngressJump}), []string{
				":" + apiI,
				"-A " + apiI + " -p tcp --dport 30000:30100 -j ACCEPT",
				"-A " + apiI + " -p sctp --dport 9 -j ACCEPT",
				"-A " + apiI + " -p udp -j ACCEPT",
				"-A " + apiI + " -j REJECT",
				":" + webI,
				"-A " + webI + " -p tcp --dport 8080 -j ACCEPT",
				"-A " + webI + " -p tcp --dport 30000:30100 -j ACCEPT",
				"-A " + webI + " -p sctp --dport 9 -j ACCEPT",
				"-A " + webI + " -p udp -j ACCEPT",
				"-A " + webI + " -j REJECT"}),
		},
		{
			name: "named port that the pod lacks allows nothing",
			policies: []*networkingv1.NetworkPolicy{mkPolicy("default", "named", networkingv1.NetworkPolicySpec{
				PodSelector: *sel("app", "api"),
				Ingress: []networkingv1.NetworkPolicyIngressRule{{
					Ports: []networkingv1.NetworkPolicyPort{port(tcp, intstr.FromString("http"))},
				}},
			})},
			want: cat(base(nil, []string{apiIngressJump}), []string{":" + apiI, "-A " + apiI + " -j REJECT"}),
		},
		{
			name: "egress deny with DNS allowed",
			policies: []*networkingv1.NetworkPolicy{mkPolicy("default", "egress-dns", networkingv1.NetworkPolicySpec{
				PodSelector: *sel("app", "web"),
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
				Egress: []networkingv1.NetworkPolicyEgressRule{{
					To: []networkingv1.NetworkPolicyPeer{{
						NamespaceSelector: sel("kubernetes.io/metadata.name", "kube-system"),
						PodSelector:       sel("k8s-app", "kube-dns"),
					}},
					Ports: []networkingv1.NetworkPolicyPort{port(udp, intstr.FromInt32(53)), port(tcp, intstr.FromInt32(53))},
				}},
			})},
			want: cat(base([]string{webEgressJump}, nil), []string{":" + webE,
				"-A " + webE + " -d 10.244.0.5/32 -p udp --dport 53 -j KINDNET-NP-EGRESS-OK",
				"-A " + webE + " -d 10.244.0.5/32 -p tcp --dport 53 -j KINDNET-NP-EGRESS-OK",
				"-A " + webE + " -j REJECT"}),
		},
		{
			name: "egress implied by egress rules; named ports per peer; ipBlock named port skipped",
			policies: []*networkingv1.NetworkPolicy{mkPolicy("default", "egress-web", networkingv1.NetworkPolicySpec{
				PodSelector: *sel("app", "web"),
				Egress: []networkingv1.NetworkPolicyEgressRule{
					{
						To:    []networkingv1.NetworkPolicyPeer{{PodSelector: sel("app", "web")}},
						Ports: []networkingv1.NetworkPolicyPort{port(tcp, intstr.FromString("http"))},
					},
					{
						To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: []string{"169.254.169.254/32"}}}},
						Ports: []networkingv1.NetworkPolicyPort{
							port(tcp, intstr.FromInt32(443)), port(tcp, intstr.FromString("http")),
						},
					},
				},
			})},
			want: cat(base([]string{webEgressJump}, []string{webIngressJump}), []string{
				":" + webE,
				"-A " + webE + " -d 10.244.1.10/32 -p tcp --dport 8080 -j KINDNET-NP-EGRESS-OK",
				"-A " + webE + " -d 10.244.2.40/32 -p tcp --dport 9090 -j KINDNET-NP-EGRESS-OK",
				"-A " + webE + " -d 0.0.0.0/0 -p tcp --dport 443 -j KNP-B-" + shortHash(web) + "-E0",
				"-A " + webE + " -j REJECT",
				":KNP-B-" + shortHash(web) + "-E0",
				"-A KNP-B-" + shortHash(web) + "-E0 -d 169.254.169.254/32 -j RETURN",
				"-A KNP-B-" + shortHash(web) + "-E0 -j KINDNET-NP-EGRESS-OK",
				// Without policyTypes the policy also isolates ingress, with no rules: deny all.
				":" + webI,
				"-A " + webI + " -j REJECT"}),
			warnings: []string{`policy default/egress-web: egress rule 1: named port "http" cannot be resolved for ipBlock peer 0.0.0.0/0; port skipped`},
		},
		{
			name: "rules of several policies are combined; empty rule allows everything",
			policies: []*networkingv1.NetworkPolicy{
				mkPolicy("default", "b-allow-all", networkingv1.NetworkPolicySpec{
					PodSelector: *sel("app", "api"),
					Ingress:     []networkingv1.NetworkPolicyIngressRule{{}},
				}),
				mkPolicy("default", "a-from-web", networkingv1.NetworkPolicySpec{
					Ingress: []networkingv1.NetworkPolicyIngressRule{{
						From: []networkingv1.NetworkPolicyPeer{{PodSelector: sel("app", "web")}},
					}},
				}),
			},
			want: cat(base(nil, []string{apiIngressJump, webIngressJump}), []string{
				":" + apiI,
				"-A " + apiI + " -s 10.244.1.10/32 -j ACCEPT",
				"-A " + apiI + " -s 10.244.2.40/32 -j ACCEPT",
				"-A " + apiI + " -j ACCEPT",
				"-A " + apiI + " -j REJECT",
				":" + webI,
				"-A " + webI + " -s 10.244.1.10/32 -j ACCEPT",
				"-A " + webI + " -s 10.244.2.40/32 -j ACCEPT",
				"-A " + webI + " -j REJECT"}),
		},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := ComputePolicyRules(node, pods, nss, tc.policies)
			if got := flatten(res.Chains); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("chains differ\n got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
			if !reflect.DeepEqual(res.Warnings, tc.warnings) {
				t.Errorf("warnings: got %q, want %q", res.Warnings, tc.warnings)
			}
			for _, c := range res.Chains {
				if len(c.Name) > 28 {
					t.Errorf("chain name %q longer than 28 characters", c.Name)
				}
				if !isOurFilterChain(c.Name) {
					t.Errorf("chain %q is not recognised as ours", c.Name)
				}
			}
			// Deterministic: the same input gives the same output.
			if again := ComputePolicyRules(node, pods, nss, tc.policies); !reflect.DeepEqual(again, res) {
				t.Errorf("result is not deterministic")
			}
		})
	}
}

func TestFilterRestoreInput(t *testing.T) {
	st := parseSave(`# Generated by iptables-save
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:KINDNET-NP - [0:0]
:KNP-I-OLD - [0:0]
:KUBE-FORWARD - [0:0]
-A FORWARD -m conntrack --ctstate NEW -j KUBE-PROXY-FIREWALL
-A FORWARD -j KINDNET-NP
-A KINDNET-NP -d 10.244.1.3/32 -j KNP-I-OLD
COMMIT
`)
	chains := []Chain{{Name: chainNP, Rules: []string{ruleEstablished}}, {Name: chainNPIngress}}
	stale := staleChains(st, chains)
	if !reflect.DeepEqual(stale, []string{"KNP-I-OLD"}) {
		t.Fatalf("stale = %q", stale)
	}
	got := filterRestoreInput(chains, stale, forwardHookFix(st))
	want := `*filter
:KINDNET-NP - [0:0]
:KINDNET-NP-INGRESS - [0:0]
:KNP-I-OLD - [0:0]
-A KINDNET-NP -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN
-D FORWARD -j KINDNET-NP
-I FORWARD 1 -j KINDNET-NP
COMMIT
`
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if fix := forwardHookFix(parseSave("-A FORWARD -j KINDNET-NP\n-A FORWARD -j KUBE-FORWARD\n")); fix != nil {
		t.Errorf("hook already first, got fix %q", fix)
	}
	if fix := forwardHookFix(parseSave("")); !reflect.DeepEqual(fix, []string{"-I FORWARD 1 -j KINDNET-NP"}) {
		t.Errorf("missing hook, got fix %q", fix)
	}
}

func TestNatRestoreInput(t *testing.T) {
	want := `*nat
:KINDNET-MASQ - [0:0]
-A KINDNET-MASQ -d 10.244.0.0/16 -j RETURN
-A KINDNET-MASQ -s 10.244.0.0/16 -j MASQUERADE
-A POSTROUTING -m addrtype ! --dst-type LOCAL -j KINDNET-MASQ
COMMIT
`
	if got := natRestoreInput(parseSave(""), "10.244.0.0/16"); got != want {
		t.Errorf("empty table: got:\n%s\nwant:\n%s", got, want)
	}
	done := parseSave(`*nat
:POSTROUTING ACCEPT [0:0]
:KINDNET-MASQ - [0:0]
-A POSTROUTING -m addrtype ! --dst-type LOCAL -j KINDNET-MASQ
-A KINDNET-MASQ -d 10.244.0.0/16 -j RETURN
-A KINDNET-MASQ -s 10.244.0.0/16 -j MASQUERADE
COMMIT
`)
	if got := natRestoreInput(done, "10.244.0.0/16"); got != "" {
		t.Errorf("already in place, got:\n%s", got)
	}
	if got := natRestoreInput(done, "10.245.0.0/16"); strings.Contains(got, "POSTROUTING") || !strings.Contains(got, "10.245.0.0/16 -j MASQUERADE") {
		t.Errorf("changed subnet must rewrite the chain but not re-hook it, got:\n%s", got)
	}
}
