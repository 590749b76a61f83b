// Package sim is a simulated Evolis card printer: the device side of the
// Evolis command language (../shared/evolis-protocol.md), byte for byte, so
// that the real driver (drivers/evolis) is what tests and the demo exercise.
//
// A Device keeps a printer's state: cards in the feeder, the ribbon and the
// card sides it can still print, counters, the cover, the card inside, the
// cleaning due, the magnetic tracks written. Serve runs it on any byte
// stream (pty master, TCP connection, in-process pipe, USB bulk pipes);
// a Registry opens it in-process for sim:// printer URIs (Registry.Transport)
// and finds the device behind such a URI (Registry.Lookup) so that tests
// and the demo can count cards and inject faults. A registry is a value its
// owner passes in (cmd/printerd makes one per daemon, demo or command), not
// a process-wide table.
//
// # Framing and replies
//
// A command is ESC name[;param]... CR; the ESC may be left out right after a
// CR, and NULs (a host's padding) are skipped before an ESC. The binary data
// of Db and Dbc is taken by length, never by scanning for CR: for Db from
// the panel and levels (82,296 bytes for k and o at 2 levels; 411,480,
// 493,776 or 576,072 bytes for y, m and c at 32, 64 or 128 levels), for Dbc
// from its byte count. Dbc takes Dbc;<panel>;<levels>;<count>;<data> and the
// four-parameter form Dbc;<panel>;<levels>;<count>;<first line>;<data>
// (the numbers are swapped if the second one cannot be a line number). A
// three-parameter Dbc whose data starts with digits and ';' is misread as
// the four-parameter form; no encoder of ours produces that.
//
// Every command gets exactly one reply, ending in CR: "OK\r", a value
// ("Evolis Primacy\r") or an error string ("CARD JAM\r"). The simulator
// answers in every Pem mode as real printers do in Pem;2 mode. A command it
// does not know is answered ERROR CDE; bad parameters, a malformed or
// mis-sized panel, or data not followed by CR, ERROR PARAMETRES (after a
// refused download the parser skips to the next ESC, since it cannot know
// where the data ended); a command whose bytes stop coming for
// Options.ReadTimeout, ERROR TIME OUT.
//
// # Commands
//
//	Pem;0|1|2   error mode (recorded)        Pr;<ribbon>  ribbon of the job
//	Rtp Rsn Rfv Rkn Rck                      identity: model, serial, firmware, head kit, checksum
//	Rco;p|c|n|r|f|l                          printed, since cleaning, cleanings, rejected, fed, ribbon left
//	Rr          "YMCKO;<sides left>"         Rcr  OK or ERROR RIBBON
//	Rlr;p       OK (no card) or CARD         Rse;o / Rse;f  "5,00 Volts" closed / cards, "0,00 Volts" open / empty
//	Ss Sr Sv Db Dbc Se                       print sequence, pipelined
//	Si Sis Sic  feed a card                  Ser Seb  reject the card inside
//	Pmc;h|l Pmt;<track>;<format> Dm;<track>;<data> Smw Smr Rmb;<track>   magnetic stripe
//	Scp         cleaning                     Srs  soft reset    Scs  clear status
//
// Printing is pipelined as on the printer: Ss checks everything that refuses
// a card before it moves (cover, latched error, cleaning due, ribbon used
// up, empty feeder); the first Db of a card feeds it (unless Smw or Si fed it
// already); each Db prints the panel downloaded before it; Sv prints the
// last front panel and turns the card over; Se prints the last panel and
// ejects the card. Each side printed uses one set of ribbon panels. An
// error during a card (jam, cover, ribbon) is latched: every command that
// moves something answers it until Ser/Seb (jam, ribbon), Scs or Srs.
// Ser and Seb put the card inside in the reject tray; Srs does too, closes
// the cover, clears every error and makes a silent printer answer again.
//
// Panels are composited into the card as printed: a white card, Y, M and C
// subtractive, K black on top; the overlay is varnish and does not show. The
// rotation the driver applied (Options.Rotation, 270 by default) is undone
// so that the image looks like the designed card, 1016 x 648.
//
// # Timing
//
// Options.Speed scales the mechanical time: 0 none (tests), 1 a real
// printer's pace: 1.5 s to feed, 3 s for each of Y, M and C, 2 s for K and
// for O, 1.5 s to eject (about 16 s a one-sided YMCKO card), 1 s to turn a
// card over or to encode the stripe, 10 s to clean, 2 s to reset.
//
// # Faults
//
// Faults are set in Options.Faults, at run time with Device.SetFault, on
// the command line with `printerd sim --faults SPEC`, and in a URI with
// sim://name?faults=SPEC. A SPEC is a comma-separated list:
//
//	ribbon-out-after=N     the ribbon prints N more card sides; then Ss answers ERROR RIBBON (no card fed)
//	ribbon-out=STAGE[@N]   the ribbon breaks at STAGE: ERROR RIBBON, card inside
//	jam=STAGE[@N]          the card jams at STAGE: CARD JAM, card inside until Ser/Seb/Srs
//	cover-open=STAGE[@N]   the cover opens at STAGE: COVER OPEN (at feed: before the card moves)
//	cover-open             the cover is open now: Ss answers COVER OPEN
//	feeder-empty           no cards: Ss answers FEEDER EMPTY
//	feeder=N               N cards in the feeder
//	silent-after=N         after N more commands the printer ignores everything but Srs
//	drop=STAGE[@N]         the link drops at STAGE: Serve returns ErrDropped, card inside
//	garbage=N              after N more commands, one reply is garbage bytes
//	need-cleaning-after=N  after N more cards Ss answers NEED CLEANING until Scp
//	chip=KIND[@N]          the Nth card's chip at the encoder station (Options.VPCD):
//	                       missing (no chip comes), refuse (every write refused)
//	                       or remove (the chip goes away in the middle of the write)
//
// # Encoder station
//
// With Options.VPCD (URI vpcd=HOST:PORT, printerd sim --vpcd) the printer
// has a chip encoder: Sis (contacts) or Sic (contactless) feeds the card
// if needed and moves it to the station, where a virtual chip
// (drivers/chip/vchip) connects to vsmartcard's vpcd, so pcscd's reader
// sees a chip; Rlr;p answers SMART CARD or CONTACTLESS CARD. The chip
// leaves the reader when the card moves on (Sr, Sv), is ejected or
// rejected; the printed card keeps its image (Printed.Chip, and
// <label>-chip.json in Out). The next chip comes no sooner than 1 s after
// the last left, so pcscd sees them apart.
//
// STAGE is one of feed, y, m, c, k, o, eject (a panel stage is when that
// panel prints, on whichever side comes first); @N is the Nth card fed from
// when the fault was set (default 1, the next card). Each trigger fires
// once. The error of a stage is the reply to the command that printed it:
// the next Db, Sv or Se (pipelining), or the first Db for the feed.
//
// A card left inside by a dropped link or a lost connection goes to the
// reject tray when the next Ss comes. A sim:// link's Reset reconnects and
// soft-resets the device.
//
// # sim:// URIs and printerd sim
//
// sim://<name>?out=DIR&speed=X&faults=SPEC opens an in-process device; the
// driver's ribbon= and rotate= parameters set the device's ribbon and the
// rotation it undoes. The first open of a name in a Registry makes the
// device, later opens there reach the same one (Lookup, Register,
// Unregister); another Registry has its own devices. The link passes
// the card's label (the job id) to the device, which names its images
// <label>-front.png and <label>-back.png; over a real link (TCP, pty, USB)
// no label arrives and cards are named card-0001, card-0002, ...
// keep=N sets how many printed cards the device keeps in memory for Cards
// (Options.KeepCards, 16 by default): a long run's memory stays bounded,
// its images are in out.
//
// `printerd sim --listen tcp://127.0.0.1:9100` serves one TCP connection at
// a time (others wait); `printerd sim --pty` prints the path of a new
// pseudo-terminal for serial:///dev/pts/N; --faults, --speed and --out are
// the options above. Serve calls must not overlap on one Device.
//
// Magicard (NewMagicard) is a simulated Magicard printer of the text
// protocol with the same options, faults, counters and outputs, a card
// position and a reject tray; `printerd sim --lang magicard` serves it, and
// sim://<name>?lang=magicard&layout=kee|kge&head=P opens one in-process
// (Registry.LookupMagicard finds it; a name is either an Evolis or a
// Magicard device).
package sim
