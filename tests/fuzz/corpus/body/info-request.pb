	
EWas a medical report made at intake? The compensation claim needs it.case_file.ext_Evidence
2026-11-28