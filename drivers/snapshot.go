package drivers

// CardPosition says where the printer reports a card.
type CardPosition string

// Card positions a Snapshot can report.
const (
	// CardNone: no card inside the printer.
	CardNone CardPosition = "none"
	// CardInside: a card is inside the printer (Snapshot.Station says
	// where, when the language tells).
	CardInside CardPosition = "inside"
	// CardUnknown: the command language cannot tell (Snapshot.Unsure says
	// what is missing).
	CardUnknown CardPosition = "unknown"
)

// Snapshot is what a printer says of itself for reconciling an unknown
// outcome: who it is, its card counters and where a card is. It is taken
// before a card is fed and again when the outcome of that card is unknown;
// comparing the two tells whether the card came out, is still inside, or
// was never fed. It holds no personal data.
type Snapshot struct {
	Serial string `json:"serial"`
	// Printed counts the cards the printer ejected printed (lifetime).
	Printed int `json:"printed"`
	// Rejected counts the cards the printer put in its reject tray, or is
	// -1 when the language has no such counter.
	Rejected int `json:"rejected"`
	// Card is where the card is; Station names the station of a card
	// inside ("print", "smart", "contactless") when the language tells.
	Card    CardPosition `json:"card"`
	Station string       `json:"station,omitempty"`
	// Error is the error state the printer reports, as a problem code
	// name, or "".
	Error string `json:"error,omitempty"`
	// ErrorFeed says, when Error is set, whether that error is one raised
	// before a card moves (BeforeFeed), with a card fed (AfterFeed), or
	// either (FeedUnknown).
	ErrorFeed Feed `json:"error_feed,omitempty"`
	// Unsure names what this printer's language cannot tell for
	// reconciliation, e.g. "card position"; empty when it tells all.
	Unsure string `json:"unsure,omitempty"`
}
