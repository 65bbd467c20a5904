package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/weirhq/weir/eval"
	"github.com/weirhq/weir/flagmodel"
)

// benchContexts generates n context lines of the shape used for the figures
// in docs/cli-eval-figures.md (the awk command there writes the same lines).
func benchContexts(n int) []byte {
	countries := []string{"US", "CA", "GB", "FR", "DE", "JP", "BR", "IN"}
	plans := []string{"free", "pro", "enterprise"}
	platforms := []string{"ios", "android", "web"}
	domains := []string{"example.com", "corp.example", "mail.example"}
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, `{"targetingKey":"user-%d","email":"user%d@%s","country":"%s","plan":"%s","platform":"%s","appVersion":"2.%d.0","age":%d}`+"\n",
			i, i, domains[i%3], countries[i%8], plans[i%3], platforms[i%3], i%7, 16+i%50)
	}
	return b.Bytes()
}

func benchEvaluator(tb testing.TB) *evaluator {
	tb.Helper()
	data, err := os.ReadFile("testdata/bench.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	f, err := flagmodel.Parse(data)
	if err != nil {
		tb.Fatal(err)
	}
	snap, err := eval.Prepare(f, "production")
	if err != nil {
		tb.Fatal(err)
	}
	return newEvaluator(snap, f, snap.Keys(), false)
}

// BenchmarkEvalStream measures the eval command's loop (decode a context
// line, evaluate eight flags, encode eight result lines) over 10,000
// generated contexts; contexts/s is the figure to compare.
func BenchmarkEvalStream(b *testing.B) {
	ev := benchEvaluator(b)
	const n = 10000
	input := benchContexts(n)
	b.SetBytes(int64(len(input)))
	for b.Loop() {
		if err := ev.stream(context.Background(), bytes.NewReader(input), "bench", io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "contexts/s")
}
