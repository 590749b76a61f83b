package chipe2e_test

import (
	"os"
	"testing"

	"github.com/cityid/printerd/internal/pcsctest"
)

func TestMain(m *testing.M) { os.Exit(pcsctest.Run(m)) }
