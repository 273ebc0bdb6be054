package connect

import (
	"net/http"
	"testing"
)

func TestRetryableRebalance500(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&APIError{Status: http.StatusInternalServerError, Message: "Request cannot be completed because a rebalance is expected"}, true},
		{&APIError{Status: http.StatusInternalServerError, Message: "Request timed out"}, false},
		{&APIError{Status: http.StatusConflict, Message: "Cannot complete request momentarily due to stale configuration"}, true},
		{&APIError{Status: http.StatusConflict, Message: "Connector x already exists"}, false},
		{&APIError{Status: http.StatusBadRequest, Message: "rebalance is expected"}, false},
	} {
		if got := IsRetryable(tc.err); got != tc.want {
			t.Errorf("IsRetryable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
