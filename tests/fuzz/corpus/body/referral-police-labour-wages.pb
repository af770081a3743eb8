
policelabour"
2026-11-21(2óUnpaid-wage claim for a child victim of forced labour. Only what the claim needs is shared; the victim's account stays with the police and the shelter.:5
Zaw MinHtet"
2009-04-020JMMRmya`jmyaämsdhsB@@P
hhhZƒ
tUnregistered company operating a compound in Kayin State, Myanmar; recruiter's Thai bank account known to the police®√∏"
2026-01-19*
2026-11-1708B)80,000 baht 'debt' for transport and foodjø

wage-claim B®Assess a claim for unpaid wages and compensation under the Anti-Trafficking in Persons Act s35 together with the prosecutor; contact him only through the MSDHS shelter.rçRecruited online at 16 with a false job offer and held for ten months in a scam compound in Kayin State; escaped on 2026-11-17. Written by the police for their own file: the policy's [minimise.labour] rule removes it before sealing, since a wage claim does not need it.Çylabour *LChild: assent given by him; consent by the MSDHS official acting as guardian0r2026-11-21T10:15:00+07:00