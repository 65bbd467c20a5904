package sdk

import "time"

// PassTime advances c's exposure de-duplication clock as if d had passed,
// so tests need not wait for windows to end.
func PassTime(c *Client, d time.Duration) {
	t := c.ev.dedup()
	t.gen.Add(uint32(d / generation(c.ev.window)))
}
