package http

import (
	"encoding/json"
	"net/http"
)

func metadataHandler(issuer string) http.Handler {
	body, _ := json.Marshal(NewMetadata(issuer)) // strings only: cannot fail
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = w.Write(body)
	})
}
