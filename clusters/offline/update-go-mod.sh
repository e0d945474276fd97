#!/usr/bin/env bash
# Regenerate clusters/offline/go/go.mod after changing [kubernetes] version in pins.toml:
# require k8s.io/kubernetes at that version and point every staging module it replaces with a
# local path (./staging/src/k8s.io/...) at the matching published v0.X.Y, then `go mod tidy`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=$(python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["kubernetes"]["version"])' "$here/pins.toml")
staging="v0.${version#v1.}"
dir=$(go mod download -json "k8s.io/kubernetes@$version" | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
cd "$here/go"
{
  head -n 3 go.mod | grep '^//'
  printf '\nmodule kubelab.dev/offline\n\ngo %s\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' \
    "$(awk '$1 == "go" {print $2; exit}' "$dir/go.mod")" "$version"
  awk -v v="$staging" '$2 == "=>" && $3 ~ /^\.\/staging\// {print "\t" $1 " => " $1 " " v}' "$dir/go.mod" |
    while IFS= read -r line; do
      mod=$(awk '{print $1}' <<<"$line")
      # Some staging modules (the samples) are never published; nothing builds them.
      if go list -m -versions "$mod" 2>/dev/null | tr ' ' '\n' | grep -qx "$staging"; then echo "$line"; fi
    done
  printf ')\n'
} > go.mod.new
mv go.mod.new go.mod
go mod tidy
echo "go.mod now builds Kubernetes $version (staging modules $staging)"
