module kubelab.dev/runcshim

go 1.26.0
