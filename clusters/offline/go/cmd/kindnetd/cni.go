package main

// The CNI network configuration for the node: ptp + host-local over the node's pod CIDRs (one, or
// an IPv4 and an IPv6 one on a dual-stack node: each Pod gets an address from each), then portmap.
// Written for containernetworking-plugins 1.1.1 (cniVersion 0.4.0).

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
)

const cniConfigName = "10-kindnet.conflist"

type cniConfList struct {
	CNIVersion string `json:"cniVersion"`
	Name       string `json:"name"`
	Plugins    []any  `json:"plugins"`
}

type ptpPlugin struct {
	Type   string `json:"type"`
	IPMasq bool   `json:"ipMasq"`
	MTU    int    `json:"mtu"`
	IPAM   struct {
		Type string `json:"type"`
		// dataDir under /run so that address reservations do not survive a node restart.
		DataDir string                `json:"dataDir"`
		Routes  []map[string]string   `json:"routes"`
		Ranges  [][]map[string]string `json:"ranges"`
	} `json:"ipam"`
}

type portmapPlugin struct {
	Type         string          `json:"type"`
	Capabilities map[string]bool `json:"capabilities"`
}

// cniConfig renders the conflist for a node's pod CIDRs (IPv4 first), with a default route for
// each family they cover.
func cniConfig(podCIDRs []netip.Prefix, mtu int) []byte {
	ptp := ptpPlugin{Type: "ptp", IPMasq: false, MTU: mtu}
	ptp.IPAM.Type = "host-local"
	ptp.IPAM.DataDir = "/run/cni-ipam-state"
	ptp.IPAM.Routes = []map[string]string{}
	ptp.IPAM.Ranges = [][]map[string]string{}
	for _, cidr := range podCIDRs {
		ptp.IPAM.Ranges = append(ptp.IPAM.Ranges, []map[string]string{{"subnet": cidr.String()}})
		dst := "0.0.0.0/0"
		if cidr.Addr().Is6() {
			dst = "::/0"
		}
		ptp.IPAM.Routes = append(ptp.IPAM.Routes, map[string]string{"dst": dst})
	}
	conf := cniConfList{
		CNIVersion: "0.4.0",
		Name:       "kindnet",
		Plugins: []any{
			ptp,
			portmapPlugin{Type: "portmap", Capabilities: map[string]bool{"portMappings": true}},
		},
	}
	out, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		panic(err) // static types: cannot fail
	}
	return append(out, '\n')
}

// writeIfChanged writes data to path atomically (temporary file in the same directory, then
// rename) unless the file already holds exactly data.
func writeIfChanged(path string, data []byte) (bool, error) {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return false, nil
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	// The temporary name must not end in .conf/.conflist/.json, or the runtime could load it.
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Close(); err != nil {
		return false, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return false, err
	}
	return true, nil
}
