package natsconn

import "testing"

func TestRedactURLs(t *testing.T) {
	got := RedactURLs("nats://alice:s3cret@h1:4222, nats://h2:4222")
	if got != "nats://alice:xxxxx@h1:4222,nats://h2:4222" {
		t.Errorf("RedactURLs = %q", got)
	}
}
