
‰
2026-11-24T10:00:00+07:00Z5Child-friendly interview room, Mae Sot police station"mya*	interview2#Duty officer, anti-trafficking desk%
Zaw Min"
2009-04-020@Rmya`jmyaVA boy of 17; the interview is about his recruitment. Please be there 15 minutes early."binterpreter *0Consent by the MSDHS official acting as guardian0r2026-11-21T10:15:00+07:00