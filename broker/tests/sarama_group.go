// sarama_group: N sarama 1.22.1 (Debian golang-github-shopify-sarama-dev) consumer-group
// members in one process, for broker/tests/test_group_integration.py:
//
//	sarama_group BOOTSTRAP GROUP TOPIC MEMBERS SECONDS
//
// Each member joins GROUP (JoinGroup v1, SyncGroup v0, Heartbeat v0, OffsetCommit v1 and
// OffsetFetch v1: what sarama sends with Version V2_1_0_0), marks offset 3 on every partition
// it claims and commits. After SECONDS it prints one JSON line per member with the
// partitions of its last claim, then leaves (LeaveGroup v0). Built offline in GOPATH mode.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/Shopify/sarama"
)

type handler struct {
	mu    sync.Mutex
	claim []int32
}

func (h *handler) Setup(s sarama.ConsumerGroupSession) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.claim = nil
	for _, ps := range s.Claims() {
		h.claim = append(h.claim, ps...)
	}
	sort.Slice(h.claim, func(i, j int) bool { return h.claim[i] < h.claim[j] })
	for t, ps := range s.Claims() {
		for _, p := range ps {
			s.MarkOffset(t, p, 3, "sarama")
		}
	}
	return nil
}

func (h *handler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h *handler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for range c.Messages() {
	}
	return nil
}

func main() {
	if len(os.Args) != 6 {
		fmt.Fprintln(os.Stderr, "usage: sarama_group BOOTSTRAP GROUP TOPIC MEMBERS SECONDS")
		os.Exit(2)
	}
	n, _ := strconv.Atoi(os.Args[4])
	secs, _ := strconv.Atoi(os.Args[5])
	cfg := sarama.NewConfig()
	cfg.ClientID = "sl-group-sarama"
	cfg.Version = sarama.V2_1_0_0
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.CommitInterval = 200 * time.Millisecond
	cfg.Consumer.Group.Session.Timeout = 6 * time.Second
	cfg.Consumer.Group.Heartbeat.Interval = 500 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs)*time.Second)
	defer cancel()
	hs := make([]*handler, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		hs[i] = &handler{}
		g, err := sarama.NewConsumerGroup([]string{os.Args[1]}, os.Args[2], cfg)
		if err != nil {
			fmt.Fprintln(os.Stderr, "sarama_group:", err)
			os.Exit(1)
		}
		wg.Add(1)
		go func(g sarama.ConsumerGroup, h *handler) {
			defer wg.Done()
			for ctx.Err() == nil {
				if err := g.Consume(ctx, []string{os.Args[3]}, h); err != nil && ctx.Err() == nil {
					fmt.Fprintln(os.Stderr, "sarama_group: consume:", err)
					time.Sleep(200 * time.Millisecond)
				}
			}
			g.Close()
		}(g, hs[i])
	}
	wg.Wait()
	for _, h := range hs {
		h.mu.Lock()
		b, _ := json.Marshal(map[string][]int32{"partitions": h.claim})
		h.mu.Unlock()
		fmt.Println(string(b))
	}
}
