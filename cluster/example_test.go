package cluster_test

import (
	"fmt"
	"strings"

	"github.com/cached/cached/cluster"
)

func ExampleBuildTable() {
	members := []cluster.Member{
		{ID: strings.Repeat("a", 40), Host: "10.0.0.1", Port: 6379},
		{ID: strings.Repeat("b", 40), Host: "10.0.0.2", Port: 6379},
		{ID: strings.Repeat("c", 40), Host: "10.0.0.3", Port: 6379},
	}
	t := cluster.BuildTable(members, 1, 1)
	slot := 11058 // protocol.KeySlot("somekey")
	for _, m := range t.Preference(slot) {
		fmt.Println(m.Addr())
	}
	fmt.Println(t.Members()[t.OwnerIndex(slot)].Addr() == t.Owner(slot).Addr())
	for _, m := range t.Members() {
		fmt.Println(m.Host, t.Ranges(m.ID))
	}
	// Output:
	// 10.0.0.3:6379
	// 10.0.0.1:6379
	// true
	// 10.0.0.1 [{0 5461}]
	// 10.0.0.2 [{5462 10922}]
	// 10.0.0.3 [{10923 16383}]
}

func ExampleNew() {
	n, err := cluster.New(cluster.Config{AnnounceHost: "127.0.0.1", AnnouncePort: 6379})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer n.Close()
	n.Subscribe(func(t *cluster.Table) { /* runs after each membership change */ })
	t := n.Table()
	fmt.Println(t.Len(), t.Owner(0).Addr(), t.Owner(0).Self)
	// Output: 1 127.0.0.1:6379 true
}
