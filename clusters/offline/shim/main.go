// kubelab-runc-shim is an OCI runtime wrapper for hosts whose capability bounding set lacks
// CAP_SYS_RESOURCE (some microVMs). There, runc cannot grant that capability to a privileged
// container, nor lower oom_score_adj, so `docker run --privileged` and kubelet's critical pods
// fail. The shim removes CAP_SYS_RESOURCE from the container's capability sets and clamps a
// negative oomScoreAdj to 0 in the OCI spec, then execs the real runc with the same arguments.
// Where the capability is available it changes nothing.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

const capSysResource = 24

// runc's global flags that take a value; anything else before the subcommand is a boolean flag.
var globalValueFlags = map[string]bool{"--root": true, "--log": true, "--log-format": true, "--criu": true, "--rootless": true}

func main() {
	real, err := realRuntime()
	if err != nil {
		fail(err)
	}
	if !hostHasCapability(capSysResource) {
		if spec, isProcess := specToEdit(os.Args[1:]); spec != "" {
			if err := clampSpec(spec, isProcess); err != nil {
				fail(fmt.Errorf("adjusting %s: %w", spec, err))
			}
		}
	}
	if err := syscall.Exec(real, append([]string{real}, os.Args[1:]...), os.Environ()); err != nil {
		fail(fmt.Errorf("exec %s: %w", real, err))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "kubelab-runc-shim:", err)
	os.Exit(1)
}

// realRuntime is $KUBELAB_REAL_RUNC, else "<this binary>.real" (a dpkg-diverted runc), else runc on PATH.
func realRuntime() (string, error) {
	if p := os.Getenv("KUBELAB_REAL_RUNC"); p != "" {
		return p, nil
	}
	if self, err := os.Executable(); err == nil {
		if _, err := os.Stat(self + ".real"); err == nil {
			return self + ".real", nil
		}
	}
	p, err := exec.LookPath("runc")
	if err != nil {
		return "", fmt.Errorf("the real runc was not found (set KUBELAB_REAL_RUNC): %w", err)
	}
	if self, err := os.Executable(); err == nil {
		if a, b := resolve(p), resolve(self); a == b {
			return "", fmt.Errorf("runc on PATH is this shim itself; set KUBELAB_REAL_RUNC")
		}
	}
	return p, nil
}

func resolve(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}

func hostHasCapability(bit uint) bool {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return true
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "CapBnd:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err != nil || mask&(1<<bit) != 0
		}
	}
	return true
}

// specToEdit finds the JSON file this invocation will read: the bundle's config.json for
// create/run, or the --process file for exec. isProcess tells which shape the file has.
func specToEdit(args []string) (path string, isProcess bool) {
	i := 0
	for i < len(args) && strings.HasPrefix(args[i], "-") {
		name, _, hasValue := strings.Cut(args[i], "=")
		i++
		if globalValueFlags[name] && !hasValue {
			i++
		}
	}
	if i >= len(args) {
		return "", false
	}
	sub, rest := args[i], args[i+1:]
	switch sub {
	case "create", "run":
		bundle := flagValue(rest, "--bundle", "-b")
		if bundle == "" {
			bundle = "."
		}
		return filepath.Join(bundle, "config.json"), false
	case "exec":
		if p := flagValue(rest, "--process", "-p"); p != "" {
			return p, true
		}
	}
	return "", false
}

func flagValue(args []string, names ...string) string {
	for i, a := range args {
		for _, n := range names {
			if a == n && i+1 < len(args) {
				return args[i+1]
			}
			if v, ok := strings.CutPrefix(a, n+"="); ok {
				return v
			}
		}
	}
	return ""
}

func clampSpec(path string, isProcess bool) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // keep large integers (memory limits) exact
	if err := dec.Decode(&doc); err != nil {
		return err
	}
	process := doc
	if !isProcess {
		p, ok := doc["process"].(map[string]any)
		if !ok {
			return nil
		}
		process = p
	}
	changed := dropCapability(process, "CAP_SYS_RESOURCE")
	if n, ok := process["oomScoreAdj"].(json.Number); ok {
		if v, err := n.Int64(); err == nil && v < 0 {
			process["oomScoreAdj"] = 0
			changed = true
		}
	}
	if !changed {
		return nil
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, info.Mode().Perm())
}

func dropCapability(process map[string]any, name string) bool {
	caps, ok := process["capabilities"].(map[string]any)
	if !ok {
		return false
	}
	changed := false
	for set, v := range caps {
		list, ok := v.([]any)
		if !ok {
			continue
		}
		kept := list[:0:0]
		for _, c := range list {
			if c != name {
				kept = append(kept, c)
			}
		}
		if len(kept) != len(list) {
			caps[set] = kept
			changed = true
		}
	}
	return changed
}
