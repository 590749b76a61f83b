package magicard

import (
	"fmt"

	"github.com/cityid/printerd/drivers"
)

// Error codes the driver knows. They are Magicard's Optima list
// (error_codes.h, shared with the firmware); that the text protocol's
// REQ,INF major error uses the same numbers is inferred.
const (
	ErrNone             = 0
	ErrHopperEmpty      = 1025
	ErrCardJam          = 1026
	ErrFlipperJam       = 1027
	ErrInvalidJob       = 1028
	ErrDyePanelMissing  = 1033
	ErrMagVerify        = 1037
	ErrCoverOpen        = 1038
	ErrNoFilm           = 1049
	ErrHeadTemperature  = 1050
	ErrCleaningOverdue  = 2048
	ErrCalibrationNeeds = 2049
	ErrMisc             = 8191
)

// CodeOf maps a major error number to a problem code.
func CodeOf(major int) drivers.Code {
	switch {
	case major == ErrNone:
		return drivers.Unknown
	case major == ErrHopperEmpty:
		return drivers.FeederEmpty
	case major == ErrCardJam, major == ErrFlipperJam:
		return drivers.CardJam
	case major == ErrInvalidJob:
		return drivers.BadCommand
	case major >= 1029 && major <= 1034, major >= 1041 && major <= 1043, major == 1046, major == 1047, major == ErrNoFilm:
		return drivers.RibbonOut
	case major >= 1035 && major <= 1037:
		return drivers.MagError
	case major == ErrCoverOpen:
		return drivers.CoverOpen
	case major == ErrHeadTemperature, major == ErrCalibrationNeeds, major >= 9000 && major <= 9003:
		return drivers.HeadError
	case major == ErrCleaningOverdue, major >= 2050 && major <= 2055:
		return drivers.NeedsCleaning
	}
	return drivers.Unknown
}

// feedOf says whether a card had been fed when the printer reports major
// after a job was sent and its card counter did not move. Errors that
// refuse a job before a card moves (empty hopper, cleaning overdue, an
// invalid job) are BeforeFeed; a jam or a magnetic error means a card is
// in the printer (AfterFeed); for every other error (cover, ribbon, head)
// the text protocol cannot tell, so FeedUnknown: the job is held.
func feedOf(major int) drivers.Feed {
	switch CodeOf(major) {
	case drivers.FeederEmpty, drivers.NeedsCleaning, drivers.BadCommand:
		return drivers.BeforeFeed
	case drivers.CardJam, drivers.MagError:
		return drivers.AfterFeed
	}
	return drivers.FeedUnknown
}

// PrinterError is an error the printer reports in REQ,INF (major and
// minor numbers).
type PrinterError struct {
	Major, Minor int
}

func (e *PrinterError) Error() string {
	return fmt.Sprintf("magicard: printer reports error %d (minor %d): %s", e.Major, e.Minor, CodeOf(e.Major))
}

// Is matches the problem code of the major error.
func (e *PrinterError) Is(target error) bool {
	c, ok := target.(drivers.Code)
	return ok && c == CodeOf(e.Major)
}
