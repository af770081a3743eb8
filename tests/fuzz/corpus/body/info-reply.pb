

rYes: the medical report of 2026-11-21 is in the case file; a copy goes to the prosecutor through the investigator.