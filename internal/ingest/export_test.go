package ingest

// Waiting returns how many batches wait in the queue (not those being
// written), for tests that need a queue in a known state.
func (p *Pipeline) Waiting() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue)
}

// Stopping reports whether Stop was called.
func (p *Pipeline) Stopping() bool { return p.isStopping() }
