package main

// Routes to the pod CIDRs of the other nodes, via their InternalIP, with the `ip` binary.

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
)

// nodeInternalIP returns a node's first InternalIP of one family (IPv6 when v6).
func nodeInternalIP(n *corev1.Node, v6 bool) (netip.Addr, bool) {
	for _, a := range n.Status.Addresses {
		if a.Type != corev1.NodeInternalIP {
			continue
		}
		if ip, err := netip.ParseAddr(a.Address); err == nil && ip.Is6() == v6 && !ip.Is4In6() {
			return ip, true
		}
	}
	return netip.Addr{}, false
}

// nodePodCIDR returns a node's pod CIDR of one family (a dual-stack node has one of each).
func nodePodCIDR(n *corev1.Node, v6 bool) (netip.Prefix, bool) {
	cidrs := append([]string{n.Spec.PodCIDR}, n.Spec.PodCIDRs...)
	for _, c := range cidrs {
		if p, err := netip.ParsePrefix(c); err == nil && p.Addr().Is6() == v6 {
			return p.Masked(), true
		}
	}
	return netip.Prefix{}, false
}

// desiredRoutes maps the pod CIDR of one family of every other node to that node's InternalIP of
// the same family, for the nodes that have both.
func desiredRoutes(self string, nodes []*corev1.Node, v6 bool) map[netip.Prefix]netip.Addr {
	out := map[netip.Prefix]netip.Addr{}
	for _, n := range nodes {
		if n.Name == self {
			continue
		}
		cidr, ok1 := nodePodCIDR(n, v6)
		ip, ok2 := nodeInternalIP(n, v6)
		if ok1 && ok2 {
			out[cidr] = ip
		}
	}
	return out
}

// parseRoutes extracts, from `ip -4|-6 route show` output, the gateway routes whose destination lies
// inside podSubnet: the routes this daemon manages (the ptp plugin's routes to local pods have no
// gateway).
func parseRoutes(out string, podSubnet netip.Prefix) map[netip.Prefix]netip.Addr {
	routes := map[netip.Prefix]netip.Addr{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		dst, err := netip.ParsePrefix(f[0])
		if err != nil {
			a, err := netip.ParseAddr(f[0])
			if err != nil {
				continue // "default", "unreachable ...", etc.
			}
			dst = netip.PrefixFrom(a, a.BitLen())
		}
		if dst.Addr().Is4() != podSubnet.Addr().Is4() || dst.Bits() < podSubnet.Bits() || !podSubnet.Contains(dst.Addr()) {
			continue
		}
		for i := 1; i+1 < len(f); i++ {
			if f[i] == "via" {
				if gw, err := netip.ParseAddr(f[i+1]); err == nil {
					routes[dst.Masked()] = gw
				}
				break
			}
		}
	}
	return routes
}

// syncRoutes makes the routing table of podSubnet's family hold exactly the desired pod-CIDR routes.
func syncRoutes(ctx context.Context, podSubnet netip.Prefix, want map[netip.Prefix]netip.Addr) error {
	family := "-4"
	if podSubnet.Addr().Is6() {
		family = "-6"
	}
	out, err := run(ctx, "", "ip", family, "route", "show")
	if err != nil {
		return err
	}
	have := parseRoutes(out, podSubnet)
	var errs []string
	for _, dst := range sortedPrefixes(want) {
		via := want[dst]
		if have[dst] == via {
			continue
		}
		if _, err := run(ctx, "", "ip", family, "route", "replace", dst.String(), "via", via.String()); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		klog.Infof("route %s via %s installed", dst, via)
	}
	for _, dst := range sortedPrefixes(have) {
		if _, ok := want[dst]; ok {
			continue
		}
		if _, err := run(ctx, "", "ip", family, "route", "del", dst.String(), "via", have[dst].String()); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		klog.Infof("route %s via %s removed (node gone)", dst, have[dst])
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

func sortedPrefixes(m map[netip.Prefix]netip.Addr) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// mtuOf returns the MTU of the interface that holds ip, or 0.
func mtuOf(ip netip.Addr) int {
	ifaces, err := net.Interfaces()
	if err != nil {
		return 0
	}
	for _, iface := range ifaces {
		addrs, err := iface.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				if got, ok := netip.AddrFromSlice(ipn.IP); ok && got.Unmap() == ip {
					return iface.MTU
				}
			}
		}
	}
	return 0
}

// run executes a binary found on PATH, feeding it stdin, and returns its standard output.
func run(ctx context.Context, stdin, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
