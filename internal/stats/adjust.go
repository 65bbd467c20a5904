package stats

import (
	"math"
	"slices"
)

// Holm returns Holm–Bonferroni adjusted p-values (Holm 1979), in input order.
// They control the family-wise error rate: rejecting every hypothesis whose
// adjusted p-value is at most α keeps the chance of any false rejection ≤ α.
// With p sorted ascending, p̃_(i) = min(1, max_{j≤i} (m−j+1)·p_(j)).
// NaN p-values count as 1.
func Holm(p []float64) []float64 {
	m := len(p)
	order := ascending(p)
	out := make([]float64, m)
	running := 0.0
	for rank, i := range order {
		running = math.Max(running, float64(m-rank)*clampP(p[i]))
		out[i] = math.Min(1, running)
	}
	return out
}

// BenjaminiHochberg returns Benjamini–Hochberg adjusted p-values (1995), in
// input order. Rejecting every hypothesis whose adjusted p-value is at most q
// controls the false discovery rate at q for independent or positively
// dependent tests. With p sorted ascending, p̃_(i) = min(1, min_{j≥i} m·p_(j)/j).
// NaN p-values count as 1.
func BenjaminiHochberg(p []float64) []float64 {
	m := len(p)
	order := ascending(p)
	out := make([]float64, m)
	running := 1.0
	for rank := m - 1; rank >= 0; rank-- {
		i := order[rank]
		running = math.Min(running, float64(m)*clampP(p[i])/float64(rank+1))
		out[i] = running
	}
	return out
}

// ascending returns the indices of p ordered by p-value, stable for ties.
func ascending(p []float64) []int {
	order := make([]int, len(p))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		x, y := clampP(p[a]), clampP(p[b])
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	})
	return order
}

func clampP(p float64) float64 {
	if math.IsNaN(p) || p > 1 {
		return 1
	}
	return math.Max(0, p)
}
