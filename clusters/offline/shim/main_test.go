package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestSpecToEdit(t *testing.T) {
	cases := []struct {
		args      []string
		want      string
		isProcess bool
	}{
		{[]string{"--root", "/run/runc", "--log", "/x.json", "create", "--bundle", "/b", "id"}, "/b/config.json", false},
		{[]string{"--root=/run/runc", "--systemd-cgroup", "run", "-b=/c", "id"}, "/c/config.json", false},
		{[]string{"create", "id"}, "config.json", false},
		{[]string{"exec", "--process", "/tmp/p.json", "--detach", "id"}, "/tmp/p.json", true},
		{[]string{"exec", "-t", "id", "sh"}, "", false},
		{[]string{"state", "id"}, "", false},
		{[]string{"--version"}, "", false},
	}
	for _, c := range cases {
		got, isProcess := specToEdit(c.args)
		if got != c.want || isProcess != c.isProcess {
			t.Errorf("specToEdit(%v) = %q, %v; want %q, %v", c.args, got, isProcess, c.want, c.isProcess)
		}
	}
}

func TestClampSpec(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	spec := `{"ociVersion":"1.0.2","process":{"oomScoreAdj":-999,"capabilities":{"bounding":["CAP_CHOWN","CAP_SYS_RESOURCE"],"effective":["CAP_SYS_RESOURCE"]}},"linux":{"resources":{"memory":{"limit":9223372036854771712}}}}`
	if err := os.WriteFile(path, []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := clampSpec(path, false); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	var got struct {
		Process struct {
			OOMScoreAdj  int                 `json:"oomScoreAdj"`
			Capabilities map[string][]string `json:"capabilities"`
		} `json:"process"`
		Linux struct {
			Resources struct {
				Memory struct {
					Limit json.Number `json:"limit"`
				} `json:"memory"`
			} `json:"resources"`
		} `json:"linux"`
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if got.Process.OOMScoreAdj != 0 {
		t.Errorf("oomScoreAdj = %d, want 0", got.Process.OOMScoreAdj)
	}
	if len(got.Process.Capabilities["bounding"]) != 1 || len(got.Process.Capabilities["effective"]) != 0 {
		t.Errorf("capabilities = %v", got.Process.Capabilities)
	}
	if got.Linux.Resources.Memory.Limit != "9223372036854771712" {
		t.Errorf("a large integer changed: %s", got.Linux.Resources.Memory.Limit)
	}
	info, _ := os.Stat(path)
	if info.Mode().Perm() != 0o600 {
		t.Errorf("mode changed to %v", info.Mode().Perm())
	}
}
