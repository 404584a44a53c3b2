// sarama_client: the sarama 1.22.1 (Debian golang-github-shopify-sarama-dev) client of the
// integration tests. Same command line and output as rdk_client.c:
//
//	sarama_client create|delete|produce|consume|offset BOOTSTRAP TOPIC ...
//
// Built offline in GOPATH mode by clients.py. config.Version = V2_1_0_0 selects record
// batch v2 (sarama 1.22.1 then sends Produce v3 and Fetch v4; it never sends ApiVersions).
// Records are generated exactly as tests/integration/dataset.py describes.
package main

import (
	"encoding/json"
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/Shopify/sarama"
)

func die(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "sarama_client: "+format+"\n", args...)
	os.Exit(1)
}

func config() *sarama.Config {
	c := sarama.NewConfig()
	c.ClientID = "sl-integ-sarama"
	c.Version = sarama.V2_1_0_0
	if v := os.Getenv("SL_SARAMA_VERSION"); v != "" { // for debugging against other brokers
		pv, err := sarama.ParseKafkaVersion(v)
		if err != nil {
			die("SL_SARAMA_VERSION: %v", err)
		}
		c.Version = pv
	}
	if os.Getenv("SL_SARAMA_DEBUG") != "" {
		sarama.Logger = log.New(os.Stderr, "[sarama] ", log.LstdFlags)
	}
	c.Net.MaxOpenRequests = 1
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Return.Successes = true
	c.Producer.Return.Errors = true
	c.Producer.Flush.Frequency = 20 * time.Millisecond
	c.Producer.Retry.Max = 5
	c.Admin.Timeout = 30 * time.Second
	c.Consumer.Return.Errors = true
	return c
}

func key(i int) string { return fmt.Sprintf("k%06d", i) }

func value(i int) string {
	return fmt.Sprintf("v%06d-", i) + strings.Repeat("serpentlog-", 8+i%5)
}

var codecs = map[string]sarama.CompressionCodec{
	"none": sarama.CompressionNone, "gzip": sarama.CompressionGZIP,
	"snappy": sarama.CompressionSnappy, "lz4": sarama.CompressionLZ4,
	"zstd": sarama.CompressionZSTD,
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		die("bad number %q", s)
	}
	return n
}

func admin(boot string) sarama.ClusterAdmin {
	a, err := sarama.NewClusterAdmin([]string{boot}, config())
	if err != nil {
		die("cluster admin: %v", err)
	}
	return a
}

func produce(boot, topic string, start, count int, codec string, ts0 int64) {
	c := config()
	cc, ok := codecs[codec]
	if !ok {
		die("unknown codec %s", codec)
	}
	c.Producer.Compression = cc
	p, err := sarama.NewAsyncProducer([]string{boot}, c)
	if err != nil {
		die("producer: %v", err)
	}
	failed := 0
	done := make(chan struct{})
	go func() {
		for n := 0; n < count; n++ {
			select {
			case m := <-p.Successes():
				fmt.Printf("%d %d %d\n", m.Metadata.(int), m.Partition, m.Offset)
			case e := <-p.Errors():
				failed++
				if failed < 5 {
					fmt.Fprintf(os.Stderr, "sarama_client: record %d: %v\n",
						e.Msg.Metadata.(int), e.Err)
				}
			}
		}
		close(done)
	}()
	for i := start; i < start+count; i++ {
		p.Input() <- &sarama.ProducerMessage{
			Topic: topic, Key: sarama.StringEncoder(key(i)),
			Value: sarama.StringEncoder(value(i)),
			Headers: []sarama.RecordHeader{
				{Key: []byte("codec"), Value: []byte(codec)},
				{Key: []byte("idx"), Value: []byte(strconv.Itoa(i))},
			},
			Timestamp: time.Unix(0, (ts0+int64(i))*int64(time.Millisecond)),
			Metadata:  i,
		}
	}
	<-done
	p.Close()
	if failed > 0 {
		die("%d records failed", failed)
	}
}

type record struct {
	P  int32      `json:"p"`
	O  int64      `json:"o"`
	Ts int64      `json:"ts"`
	K  *string    `json:"k"`
	V  *string    `json:"v"`
	H  [][]string `json:"h"`
}

func strp(b []byte) *string {
	if b == nil {
		return nil
	}
	s := string(b)
	return &s
}

func consume(boot, topic string, parts, total int) {
	client, err := sarama.NewClient([]string{boot}, config())
	if err != nil {
		die("client: %v", err)
	}
	cons, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		die("consumer: %v", err)
	}
	enc := json.NewEncoder(os.Stdout)
	got := 0
	for p := 0; p < parts; p++ {
		hw, err := client.GetOffset(topic, int32(p), sarama.OffsetNewest)
		if err != nil {
			die("high watermark p%d: %v", p, err)
		}
		if hw == 0 {
			continue
		}
		pc, err := cons.ConsumePartition(topic, int32(p), sarama.OffsetOldest)
		if err != nil {
			die("consume p%d: %v", p, err)
		}
		for done := false; !done; {
			select {
			case m := <-pc.Messages():
				r := record{P: m.Partition, O: m.Offset, Ts: m.Timestamp.UnixNano() / 1e6,
					K: strp(m.Key), V: strp(m.Value), H: [][]string{}}
				for _, h := range m.Headers {
					r.H = append(r.H, []string{string(h.Key), string(h.Value)})
				}
				enc.Encode(&r)
				got++
				done = m.Offset >= hw-1
			case e := <-pc.Errors():
				die("consume p%d: %v", p, e)
			case <-time.After(60 * time.Second):
				die("consume p%d stalled", p)
			}
		}
		pc.Close()
	}
	cons.Close()
	client.Close()
	if got < total {
		die("consumed %d of %d", got, total)
	}
}

func offset(boot, topic string, part int, ts int64) {
	client, err := sarama.NewClient([]string{boot}, config())
	if err != nil {
		die("client: %v", err)
	}
	o, err := client.GetOffset(topic, int32(part), ts)
	if err != nil {
		die("offset: %v", err)
	}
	fmt.Println(o)
	client.Close()
}

func main() {
	a := os.Args
	if len(a) < 4 {
		die("usage: create|delete|produce|consume|offset BOOTSTRAP TOPIC ...")
	}
	switch {
	case a[1] == "create" && len(a) == 5:
		ad := admin(a[2])
		d := &sarama.TopicDetail{NumPartitions: int32(atoi(a[4])), ReplicationFactor: 1}
		if err := ad.CreateTopic(a[3], d, false); err != nil {
			die("create: %v", err)
		}
		ad.Close()
	case a[1] == "delete" && len(a) == 4:
		ad := admin(a[2])
		if err := ad.DeleteTopic(a[3]); err != nil {
			die("delete: %v", err)
		}
		ad.Close()
	case a[1] == "produce" && len(a) == 8:
		ts0, _ := strconv.ParseInt(a[7], 10, 64)
		produce(a[2], a[3], atoi(a[4]), atoi(a[5]), a[6], ts0)
	case a[1] == "consume" && len(a) == 6:
		consume(a[2], a[3], atoi(a[4]), atoi(a[5]))
	case a[1] == "offset" && len(a) == 6:
		ts, _ := strconv.ParseInt(a[5], 10, 64)
		offset(a[2], a[3], atoi(a[4]), ts)
	default:
		die("bad arguments")
	}
}
