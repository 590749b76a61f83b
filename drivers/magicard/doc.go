// Package magicard drives Magicard card printers of the text protocol (and
// their rebrands: Polaroid, PPC ID, IDville, Pridento, Fagoo, AlphaCard,
// ...) in both line layouts: KEE (Rio 2e, Tango 2e, Tango +L, XXL) and KGE
// (Enduro, Enduro+, Enduro 3E, Rio Pro, Rio Pro Xtended, Pronto, MC200).
// The binary "Optima" protocol of the Rio Pro 360 and Helix is out of
// scope: LayoutForModel refuses those models.
//
// A Printer implements drivers.Printer over any drivers.Link (USB, TCP,
// serial). Unlike Evolis, a card is one stream with no replies: Print reads
// REQ,INF (card counter, error, film left, model, head type and position),
// refuses the card before sending anything when the printer reports an
// error, sends the job (front page, and back page for a two-sided card) in
// one write, and polls REQ,INF until the card counter moves. Failures are
// *drivers.Error values whose Feed says whether a card had been fed; where
// the protocol cannot tell, Feed is FeedUnknown and the job is held.
//
// Sources (see ../shared/magicard-protocol.md, which tags each statement
// with how sure it is): selphy_print backend_magicard.c (S), Gutenprint's
// print-dyesub.c (G), Magicard Ltd's GPL CUPS filter "ultra" (V), and the
// selphy test jobs (T).
//
// # Wire format
//
// A page is 64 x 0x05, 0x01 ',', the header (comma-separated tokens, no
// comma right before 0x1C), 0x1C, each plane followed by 0x1C <letter>
// ':', and 0x03. The front header is, in V's order: NOC1, VER, LANENG,
// TDT<hex time>, [COEH|COEL, MAG<t>,<data> per track], the printhead token
// (KEE; on KGE the type the printer reports, KGE by default), [RT2 on KEE],
// SLWOFF, DPXON|DPXOFF, [BAC<fmt> on a duplex front], PAG1, IMF<planes>,
// XCO0, YCO0, WID1016, HGT642, OVRON|OVROFF, [PCT and NCT rectangles],
// ICC0, SZ<letter><bytes> per plane. The back page repeats the header with
// PAG2 and no stripe. Y, M and C travel as B, G and R at 6 bits a dot (v>>2
// of the 8-bit panel, 6 bit-planes a line, least significant first), K at
// 1 bit; a side with no ink is IMFK with one blank K plane.
//
// Each of 1016 lines runs across the card's short edge and holds 642 image
// dots (design rows 3..644 of layout's 648; rows 0-2 and 645-647 are not
// printed) starting at head dot 66-P (KEE) or 65-P (KGE), P the printer's
// head position (REQ,INF field 16, else 50). KEE packs 84 bytes a sub-row,
// MSB first; KGE 96 bytes, dots 0-287 on the even bits of bytes 24-95 and
// dots 288-671 on the odd bits (V's packing, reproduced in the notes).
//
// Queries: REQ,STA,<key> (S: 9 x 0x05, 0x01, "REQ,STA,KEY,", 0x1C 0x03)
// for the counters TCQ, CCQ and TCN; REQ,INF (V: 0x01 ",REQ,INF," 0x1C 0x03)
// for status, errors, film and identity. Maintenance: RST and EJT in S's
// form, CLN in V's (",REQ,CLN," after 8 x 0x05). None of the three is
// answered; the driver polls REQ,INF until the effect shows.
//
// # Inferred or unknown, and the choice made (check on a real printer)
//
// Each item can be checked with `printerd diag raw` and a capture
// (drivers/playback.Record, `printerd diag --record`):
//
//   - REQ,INF on the KEE family (V sends it to the Enduro family only):
//     assumed to work on the Rio/Tango too. If a Tango does not answer it,
//     Status and Print fail with Timeout before any card moves.
//   - Reply texts: the REQ,STA reply is read as 0x01, "STA,<key>"
//     (optionally after "REQ,"), an optional separator, the value, an
//     optional ',' and 0x03; the exact text is unknown. REQ,INF is read as V
//     reads it.
//   - Error numbers: REQ,INF fields 19/20 are taken to use Magicard's
//     Optima list (error_codes.h): 1025 hopper empty, 1026/1027 jam, 1028
//     invalid job, 1029-1034 and 1041-1049 film, 1035-1037 magnetic, 1038
//     cover, 2048 cleaning, 9000-9003 head. Feed is BeforeFeed only for
//     1025, 1028 and cleaning (refused before a card moves), AfterFeed for
//     jams and magnetic errors, FeedUnknown for all others.
//   - The card counter (INF field 9, STA TCQ) is taken to count a card when
//     it is ejected printed; rejected and jammed cards are taken not to
//     count. A job whose counter moved is printed even if the link dropped
//     meanwhile. There is no rejected-card counter: Counters.Rejected is 0.
//   - Whether RST, EJT and CLN are answered: assumed not. Reset waits up to
//     4 x ReplyTimeout for REQ,INF to show no error; Clean waits for the
//     cleaning counter (INF field 12) to move. Which of S's and V's command
//     forms each model accepts is unknown; S's for RST/EJT/STA (captured),
//     V's for CLN and INF.
//   - Orientation (which edge prints first): the first line is the card's
//     left edge and image dot 0 its top printed row on KEE; KGE pages are
//     turned 180 degrees (V's family defaults are opposite), and every back
//     page 180 degrees more (the printer turns the card over). Options.Flip
//     turns every page if cards come out upside down.
//   - The 642 image dots drop 3 rows at each long edge of layout's 648.
//   - Overcoat: the protocol has no overcoat plane, only OVR, PCT areas and
//     NCT holes. OvercoatRects sends one PCT area (the varnish's bounding
//     box, or the family's full default 0,0,1025,641 / 0,0,1015,641) and at
//     most MaxHoles (2; one is all the sources show) NCT holes, the bounding
//     boxes of the unvarnished regions. What is lost: a free area that is
//     not a rectangle becomes its bounding box, and more than two free areas
//     are merged (least extra area first), leaving varnish off dots that
//     layout wanted varnished; varnish is never put where layout kept it
//     off. PCT/NCT coordinates are taken as x from the left edge and y from
//     the bottom edge of the side as seen (the stripe hole's numbers put the
//     stripe at the top).
//   - ICC0 (V always sends ICC; S drops it and the Tango printed): sent as
//     0, since layout already made the colours. SLW (ColourSure) OFF, LAN
//     ENG, WID1016/HGT642 as V. No LCn: the printer detects the ribbon; the
//     card's ribbon is checked against Options.Ribbon only.
//   - Magnetic stripe: V's order (COEH|COEL once, then MAG<t>,<data>, ISO
//     densities, no MPC/BPI), sentinels added by the driver, no LRC sent.
//     ',' cannot be carried (the header separator): a track with ',' is
//     refused, as are 0x1C, sentinels and characters outside ISO's sets.
//     Track limits are Gutenprint's (78, 39, 106 with sentinels). There is
//     no read-back; a failed verify is taken to show as error 1035-1037.
//   - Copies: always NOC1; printerd counts copies itself.
//   - The head type token on KGE is REQ,INF field 2 as reported; a printer
//     that reports none gets KGE.
//   - USB product ids: 0x1800 Tango 2E (and Rio 2E), 0x4800 Enduro, 0x880A
//     Enduro+ (S marks the last two "??"); Magicard 300/600 appear in no
//     source. The family is chosen from the model name (REQ,INF field 1 or
//     the 1284 MDL), with Options.Layout (layout=kee|kge) as the override.
//   - No network port or serial line appears in any source; the driver runs
//     on any drivers.Link, so tcp:// and serial:// work where a model has
//     them.
package magicard
