package main

// Applying iptables state. The text rendering and the parsing of iptables-save output are pure
// functions; apply* only run iptables-save / iptables-restore.

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
)

const chainMasq = "KINDNET-MASQ"

// hookMasq is the POSTROUTING rule that sends traffic to KINDNET-MASQ.
const hookMasq = "-m addrtype ! --dst-type LOCAL -j " + chainMasq

// saveState is what we need from `iptables-save -t <table>`.
type saveState struct {
	chains map[string]bool
	rules  []string // "-A CHAIN ..." lines in order
}

func parseSave(out string) saveState {
	st := saveState{chains: map[string]bool{}}
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, ":"):
			if f := strings.Fields(line[1:]); len(f) > 0 {
				st.chains[f[0]] = true
			}
		case strings.HasPrefix(line, "-A "):
			st.rules = append(st.rules, line)
		}
	}
	return st
}

// jumpsTo reports whether a saved rule line jumps to (or goes to) chain.
func jumpsTo(rule, chain string) bool {
	f := strings.Fields(rule)
	for i := 0; i+1 < len(f); i++ {
		if (f[i] == "-j" || f[i] == "-g") && f[i+1] == chain {
			return true
		}
	}
	return false
}

// rulesOf returns the rule lines of chain in st.
func (st saveState) rulesOf(chain string) []string {
	var out []string
	for _, r := range st.rules {
		if strings.HasPrefix(r, "-A "+chain+" ") {
			out = append(out, r)
		}
	}
	return out
}

// forwardHookFix returns the restore lines that make "-j KINDNET-NP" the one and only first rule
// of FORWARD, or nothing when it already is.
func forwardHookFix(st saveState) []string {
	forward := st.rulesOf("FORWARD")
	var hooks []string
	for _, r := range forward {
		if jumpsTo(r, chainNP) {
			hooks = append(hooks, r)
		}
	}
	if len(hooks) == 1 && forward[0] == "-A FORWARD -j "+chainNP {
		return nil
	}
	var out []string
	for _, h := range hooks {
		out = append(out, "-D"+strings.TrimPrefix(h, "-A"))
	}
	return append(out, "-I FORWARD 1 -j "+chainNP)
}

// staleChains returns our chains present in st that are not in want, sorted.
func staleChains(st saveState, want []Chain) []string {
	keep := map[string]bool{}
	for _, c := range want {
		keep[c.Name] = true
	}
	var out []string
	for name := range st.chains {
		if isOurFilterChain(name) && !keep[name] {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// filterRestoreInput renders the iptables-restore --noflush input for the filter table: every
// chain of ours is declared (which creates or flushes it), stale ones included so that they end up
// empty, then the rules are added, then the FORWARD hook is fixed. Stale chains are deleted
// afterwards by a second restore (deleteChainsInput), once nothing references them any more.
func filterRestoreInput(chains []Chain, stale []string, hookFix []string) string {
	var sb strings.Builder
	sb.WriteString("*filter\n")
	for _, c := range chains {
		fmt.Fprintf(&sb, ":%s - [0:0]\n", c.Name)
	}
	for _, name := range stale {
		fmt.Fprintf(&sb, ":%s - [0:0]\n", name)
	}
	for _, c := range chains {
		for _, r := range c.Rules {
			fmt.Fprintf(&sb, "-A %s %s\n", c.Name, r)
		}
	}
	for _, l := range hookFix {
		sb.WriteString(l + "\n")
	}
	sb.WriteString("COMMIT\n")
	return sb.String()
}

func deleteChainsInput(table string, chains []string) string {
	var sb strings.Builder
	sb.WriteString("*" + table + "\n")
	for _, c := range chains {
		fmt.Fprintf(&sb, "-X %s\n", c)
	}
	sb.WriteString("COMMIT\n")
	return sb.String()
}

// masqRules are the rules of KINDNET-MASQ, written the way iptables-save prints them.
func masqRules(podSubnet string) []string {
	return []string{
		"-d " + podSubnet + " -j RETURN",
		"-s " + podSubnet + " -j MASQUERADE",
	}
}

// natRestoreInput renders the nat-table input for masquerading, or "" when st already matches.
func natRestoreInput(st saveState, podSubnet string) string {
	want := masqRules(podSubnet)
	have := st.rulesOf(chainMasq)
	same := st.chains[chainMasq] && len(have) == len(want)
	for i := 0; same && i < len(want); i++ {
		same = have[i] == "-A "+chainMasq+" "+want[i]
	}
	hooked := false
	for _, r := range st.rulesOf("POSTROUTING") {
		if jumpsTo(r, chainMasq) {
			hooked = true
		}
	}
	if same && hooked {
		return ""
	}
	var sb strings.Builder
	sb.WriteString("*nat\n")
	fmt.Fprintf(&sb, ":%s - [0:0]\n", chainMasq)
	for _, r := range want {
		fmt.Fprintf(&sb, "-A %s %s\n", chainMasq, r)
	}
	if !hooked {
		fmt.Fprintf(&sb, "-A POSTROUTING %s\n", hookMasq)
	}
	sb.WriteString("COMMIT\n")
	return sb.String()
}

// iptablesSave runs iptables-save for one table.
func iptablesSave(ctx context.Context, table string) (saveState, error) {
	out, err := run(ctx, "", "iptables-save", "-t", table)
	if err != nil {
		return saveState{}, err
	}
	return parseSave(out), nil
}

// iptablesRestore feeds input to iptables-restore without flushing the tables it names.
func iptablesRestore(ctx context.Context, input string) error {
	_, err := run(ctx, input, "iptables-restore", "--noflush", "-w")
	if err != nil {
		return fmt.Errorf("%w\ninput was:\n%s", err, input)
	}
	return nil
}

// iptablesMu serialises our own read-modify-write cycles (the policy and the node loops).
var iptablesMu sync.Mutex

// applyFilter installs chains atomically and then deletes our chains that are no longer used.
func applyFilter(ctx context.Context, chains []Chain) error {
	iptablesMu.Lock()
	defer iptablesMu.Unlock()
	st, err := iptablesSave(ctx, "filter")
	if err != nil {
		return err
	}
	stale := staleChains(st, chains)
	if err := iptablesRestore(ctx, filterRestoreInput(chains, stale, forwardHookFix(st))); err != nil {
		return err
	}
	if len(stale) > 0 {
		if err := iptablesRestore(ctx, deleteChainsInput("filter", stale)); err != nil {
			return fmt.Errorf("deleting unused chains: %w", err)
		}
	}
	return nil
}

// ensureMasquerade makes the nat table masquerade pod traffic leaving the pod subnet.
func ensureMasquerade(ctx context.Context, podSubnet string) (changed bool, err error) {
	iptablesMu.Lock()
	defer iptablesMu.Unlock()
	st, err := iptablesSave(ctx, "nat")
	if err != nil {
		return false, err
	}
	input := natRestoreInput(st, podSubnet)
	if input == "" {
		return false, nil
	}
	return true, iptablesRestore(ctx, input)
}
