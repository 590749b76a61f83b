package sample_test

import (
	"fmt"
	"time"

	"github.com/cityid/printerd/queue/job/sample"
)

func ExampleJobs() {
	today := time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
	for _, j := range sample.Jobs(2, today) {
		fmt.Println(j) // Job prints without personal data
	}
	r := sample.Reprint(sample.Jobs(1, today)[0], "lost")
	fmt.Println(r, r.Reprint.Reason)
	// Output:
	// job 38c971b4-5296-5278-965e-edc937ac36f1 issue card SAMPLE-000001 issue 1 template municipal-id
	// job dc00aba5-c4a9-560b-a18e-f0eb605d2edb issue card SAMPLE-000002 issue 1 template municipal-id
	// job 1b2dedf3-affd-57ed-b2c5-0362e044a6ad reprint card SAMPLE-000001 issue 2 template municipal-id lost
}
