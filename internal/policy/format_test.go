package policy

import (
	"testing"
	"time"
)

func TestStrings(t *testing.T) {
	tests := []struct {
		got  string
		want string
	}{
		{Always.String(), "always"},
		{OnFailure.String(), "on-failure"},
		{Never.String(), "never"},
		{Mode(9).String(), "mode(9)"},
		{Restart.String(), "restart"},
		{Done.String(), "done"},
		{Fail.String(), "fail"},
		{Action(9).String(), "action(9)"},
		{Exit{Code: 3}.String(), "exit status 3"},
		{Exit{Code: 3, Signal: 9}.String(), "signal 9"},
		{Decision{}.String(), "restart"},
		{Decision{Action: Fail, Delay: time.Minute, Reason: "signal 9, start limit reached"}.String(), "fail: signal 9, start limit reached"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
