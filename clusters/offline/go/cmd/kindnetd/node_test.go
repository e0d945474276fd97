package main

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func mkNode(name, podCIDR, ip string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{PodCIDR: podCIDR}}
	if ip != "" {
		n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: name}, {Type: corev1.NodeInternalIP, Address: ip}}
	}
	return n
}

func TestDesiredRoutes(t *testing.T) {
	nodes := []*corev1.Node{
		mkNode("self", "10.244.0.0/24", "172.18.0.2"),
		mkNode("w1", "10.244.1.0/24", "172.18.0.3"),
		mkNode("w2", "", "172.18.0.4"),           // no podCIDR yet
		mkNode("w3", "10.244.3.0/24", ""),        // no InternalIP
		mkNode("w4", "10.244.4.0/24", "fc00::4"), // IPv6 only
	}
	got := desiredRoutes("self", nodes, false)
	want := map[netip.Prefix]netip.Addr{netip.MustParsePrefix("10.244.1.0/24"): netip.MustParseAddr("172.18.0.3")}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestDesiredRoutesIPv6(t *testing.T) {
	dual := mkNode("w1", "10.244.1.0/24", "172.18.0.3")
	dual.Spec.PodCIDRs = []string{"10.244.1.0/24", "fd00:10:244:1::/64"}
	dual.Status.Addresses = append(dual.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "fc00::3"})
	got := desiredRoutes("self", []*corev1.Node{mkNode("self", "10.244.0.0/24", "172.18.0.2"), dual}, true)
	want := map[netip.Prefix]netip.Addr{netip.MustParsePrefix("fd00:10:244:1::/64"): netip.MustParseAddr("fc00::3")}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	out := "fd00:10:244:1::/64 via fc00::3 dev eth0 metric 1024 pref medium\nfc00::/64 dev eth0 proto kernel metric 256 pref medium\n"
	if routes := parseRoutes(out, netip.MustParsePrefix("fd00:10:244::/56")); !reflect.DeepEqual(routes, want) {
		t.Errorf("parsed %v, want %v", routes, want)
	}
}

func TestParseRoutes(t *testing.T) {
	out := `default via 172.18.0.1 dev eth0
10.244.1.0/24 via 172.18.0.3 dev eth0
10.244.2.0/24 via 172.18.0.4 dev eth0 proto static
10.244.0.5 dev veth1234 scope host
10.0.0.0/8 via 172.18.0.1 dev eth0
172.18.0.0/16 dev eth0 proto kernel scope link src 172.18.0.2
`
	got := parseRoutes(out, netip.MustParsePrefix("10.244.0.0/16"))
	want := map[netip.Prefix]netip.Addr{
		netip.MustParsePrefix("10.244.1.0/24"): netip.MustParseAddr("172.18.0.3"),
		netip.MustParsePrefix("10.244.2.0/24"): netip.MustParseAddr("172.18.0.4"),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestCNIConfig(t *testing.T) {
	data := cniConfig([]netip.Prefix{netip.MustParsePrefix("10.244.1.0/24")}, 1450)
	var conf struct {
		CNIVersion string `json:"cniVersion"`
		Name       string `json:"name"`
		Plugins    []struct {
			Type         string          `json:"type"`
			IPMasq       *bool           `json:"ipMasq"`
			MTU          int             `json:"mtu"`
			Capabilities map[string]bool `json:"capabilities"`
			IPAM         struct {
				Type   string                `json:"type"`
				Routes []map[string]string   `json:"routes"`
				Ranges [][]map[string]string `json:"ranges"`
			} `json:"ipam"`
		} `json:"plugins"`
	}
	if err := json.Unmarshal(data, &conf); err != nil {
		t.Fatal(err)
	}
	if conf.CNIVersion != "0.4.0" || conf.Name != "kindnet" || len(conf.Plugins) != 2 {
		t.Fatalf("unexpected conflist: %s", data)
	}
	ptp, pm := conf.Plugins[0], conf.Plugins[1]
	if ptp.Type != "ptp" || ptp.IPMasq == nil || *ptp.IPMasq || ptp.MTU != 1450 || ptp.IPAM.Type != "host-local" ||
		ptp.IPAM.Ranges[0][0]["subnet"] != "10.244.1.0/24" || ptp.IPAM.Routes[0]["dst"] != "0.0.0.0/0" {
		t.Errorf("unexpected ptp plugin: %s", data)
	}
	if pm.Type != "portmap" || !pm.Capabilities["portMappings"] {
		t.Errorf("unexpected portmap plugin: %s", data)
	}
	if len(ptp.IPAM.Ranges) != 1 || len(ptp.IPAM.Routes) != 1 {
		t.Errorf("a single-stack node has one range and one route: %s", data)
	}
	dual := cniConfig([]netip.Prefix{netip.MustParsePrefix("10.244.1.0/24"), netip.MustParsePrefix("fd00:10:244:1::/64")}, 1500)
	if err := json.Unmarshal(dual, &conf); err != nil {
		t.Fatal(err)
	}
	if r := conf.Plugins[0].IPAM; len(r.Ranges) != 2 || r.Ranges[1][0]["subnet"] != "fd00:10:244:1::/64" || r.Routes[1]["dst"] != "::/0" {
		t.Errorf("a dual-stack node has a range and a default route per family: %s", dual)
	}

	path := filepath.Join(t.TempDir(), "net.d", cniConfigName)
	if changed, err := writeIfChanged(path, data); err != nil || !changed {
		t.Fatalf("first write: changed=%v err=%v", changed, err)
	}
	if changed, err := writeIfChanged(path, data); err != nil || changed {
		t.Fatalf("second write: changed=%v err=%v", changed, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}
