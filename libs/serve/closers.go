package serve

// Closers releases what a service's New opened (pools, connections,
// listeners), last opened first. New adds to it as it opens each one; the
// service's Run calls Close once its servers have drained, and a New that
// fails half-way calls it before returning the error, so that nothing
// opened is left behind on either path.
type Closers struct{ fns []func() }

// Add registers close to run on Close.
func (c *Closers) Add(close func()) { c.fns = append(c.fns, close) }

// Close runs every registered function, the last added first, once.
func (c *Closers) Close() {
	for i := len(c.fns) - 1; i >= 0; i-- {
		c.fns[i]()
	}
	c.fns = nil
}
