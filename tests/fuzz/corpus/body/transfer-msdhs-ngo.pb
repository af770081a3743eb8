
msdhsngo"
2026-12-20*qRecovery and reintegration: he chose to stay in Thailand for vocational training, which the NGO's shelter offers.0:(
Zaw MinHtet"
2009-04-020@JMMRmyaB
@@@dR
reintegration	 Z‡Identified victim of forced criminality in a scam compound; six weeks in the government shelter; wants vocational training in Thailand.jtngo *JCourt-appointed guardian; he assented at the case conference of 2026-12-180r2026-12-18T14:00:00+07:00