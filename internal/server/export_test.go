package server

// Routes lists the registered routes as (method, path) pairs, for the test
// that checks the OpenAPI document.
func Routes(s *Server) [][2]string {
	out := make([][2]string, len(s.routes))
	for i, r := range s.routes {
		out[i] = [2]string{r.method, r.path}
	}
	return out
}
