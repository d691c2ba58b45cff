// Command etcd is the upstream etcd server, built from the published
// go.etcd.io/etcd/server/v3 module (Debian's etcd 3.4 is too old for a
// current kube-apiserver).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
